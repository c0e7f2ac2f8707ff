"""The command line on a router and a mesh: table errors name the file and the entry's line, a routing loop is
one line naming its entry and creates nothing, and the summary counts the dropped packets."""

from pathlib import Path

from click.testing import CliRunner

from spikeforge.scripts.cli import main


ROUTER = """\
[router]
routing = "table"
ports = 4
key_bits = 8

[[router.routes]]
key = 0x10
mask = 0xF0
route = 0b0011

[[router.routes]]
key = 0x20
mask = 0xF0
route = {route}
"""

# Node 0 sends key 1 east, node 1 sends it back west: a loop. Key 2 goes east and stops at node 1.
MESH = """\
[mesh]
width = 2
height = 1
routing = "table"
key_bits = 4

[[mesh.routes]]
node = 0
key = 2
mask = 0xF
route = 0b00010

[[mesh.routes]]
node = 1
key = 2
mask = 0xF
route = 0b10000

[[mesh.routes]]
node = 0
key = 1
mask = 0xF
route = 0b00010

[[mesh.routes]]    # line 25
node = 1
key = 1
mask = 0xF
route = {route}
"""


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_input_error(result, message):
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {message}\n"


def test_a_bad_router_entry_names_its_line(tmp_path):
    config = tmp_path / "router.toml"
    config.write_text(ROUTER.format(route="0b10000"))
    assert_input_error(run("generate", config, "-o", tmp_path / "out"),
                       f"{config} line 11: [router] Parameter 'routes' entry 1: field 'route' must be in the range "
                       f"0..15; 16 is out of range")
    assert not (tmp_path / "out").exists()


def test_a_bad_mesh_entry_names_its_line(tmp_path):
    config = tmp_path / "mesh.toml"
    config.write_text(MESH.format(route="0b100000"))
    assert_input_error(run("generate", config, "-o", tmp_path / "out"),
                       f"{config} line 25: [mesh] Parameter 'routes' entry 3: field 'route' must be in the range "
                       f"0..31; 32 is out of range")


def test_a_routing_loop_names_its_entry_and_creates_nothing(tmp_path):
    config = tmp_path / "mesh.toml"
    config.write_text(MESH.format(route="0b01000"))       # west, back to node 0
    packets = tmp_path / "packets.csv"
    packets.write_text("t,src,dest,payload\n0,0,2,5\n1,0,1,7\n")
    out = tmp_path / "new" / "deeper" / "out"
    assert_input_error(run("simulate", config, "--input", packets, "-o", out),
                       f"{config} line 25: [mesh] routes entry 3 at node 1 sends packet src 0 -> key 0x1 payload 7 "
                       f"back to node 0, around a loop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mesh.toml", "packets.csv"]


def test_the_summary_counts_the_dropped_packets(tmp_path):
    config = tmp_path / "router.toml"
    config.write_text(ROUTER.format(route="0b0100"))
    packets = tmp_path / "packets.csv"
    packets.write_text("t,src,dest,payload\n0,0,16,1\n0,1,33,2\n1,2,64,3\n2,3,65,4\n")     # 64, 65 match nothing
    result = run("simulate", config, "--input", packets, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"3 deliveries of 4 packets, 2 dropped; wrote {tmp_path / 'out' / 'delivered.csv'}\n"
    config = tmp_path / "mesh.toml"
    config.write_text(MESH.format(route="0b10000"))
    packets.write_text("t,src,dest,payload\n0,0,2,5\n0,0,1,6\n1,1,3,7\n")         # key 3 matches nothing
    result = run("simulate", config, "--input", packets, "-o", tmp_path / "mesh")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"2 deliveries of 3 packets, 1 dropped; wrote {tmp_path / 'mesh' / 'delivered.csv'}\n"
