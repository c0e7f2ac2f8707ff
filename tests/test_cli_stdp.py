"""The command line with a learning core ([stdp]): simulate with reward rows, --dump-weights and
--trace-weights on the model and (cocotb) on Icarus and Verilator, verify, build, and bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.scripts.blocks.lif_core import LEARNING_VERIFY_STEPS
from spikeforge.scripts.cli import main
from spikeforge.sim.stdp.model import StdpModel


EXAMPLES = Path(__file__).parent.parent / "examples"

CORE = dict(neurons=8, axons=5, lanes=2, weight_bits=8, threshold=30)
LEARNING = dict(impulse=60, a_plus=20, a_minus=24, lr_shift=4)
REWARD = dict(LEARNING, reward=True, reward_bits=6, stochastic=True, seed=9)


def toml(core, stdp):
    def value(v):
        return str(v).lower() if isinstance(v, bool) else repr(v).replace("'", '"')

    lines = ["[lif_core]"] + [f"{k} = {value(v)}" for k, v in core.items()]
    lines += ["", "[stdp]"] + [f"{k} = {value(v)}" for k, v in stdp.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def reward_config(tmp_path):
    path = tmp_path / "reward.toml"
    path.write_text(toml(CORE, REWARD))
    return path


@pytest.fixture
def learning_config(tmp_path):
    path = tmp_path / "learning.toml"
    path.write_text(toml(CORE, LEARNING))
    return path


def params_and_stdp(stdp):
    params = LifParams.create(**CORE)
    return params, StdpParams.create(params, **stdp)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_input_error(result, message):
    """Exit code 2 and exactly one line on stderr, the given message."""
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {message}\n"


# Events (t, axon) and rewards (t, value) of the input file below.
EVENTS = [(0, 1), (0, 2), (1, 3), (1, 1), (2, 0), (2, 4), (3, 2), (4, 4), (4, 0), (5, 1)]
REWARDS = [(1, 5), (3, -7), (3, 2), (5, 31)]


def write_inputs(path, events=EVENTS, rewards=REWARDS):
    rows = [f"{t},{a}," for t, a in events] + [f"{t},reward,{v}" for t, v in rewards]
    path.write_text("\n".join(["t,addr,value"] + rows) + "\n")
    return path


def weights_file(tmp_path):
    weights = np.random.default_rng(1).integers(0, 40, size=(CORE["axons"], CORE["neurons"]))
    np.save(tmp_path / "w.npy", weights)
    return tmp_path / "w.npy", weights


def expected_run(stdp, weights, events=EVENTS, rewards=REWARDS, steps=6):
    """Spikes and the weights after every step, from the model by hand: each step's events, its tick, then its
    rewards in file order."""
    params, stdp = params_and_stdp(stdp)
    model = StdpModel(params, stdp, weights)
    spikes, trace = [], []
    for t in range(steps):
        spikes += [(t, int(n)) for n in model.step([a for s, a in events if s == t])]
        for s, value in rewards:
            if s == t:
                model.reward(value)
        trace.append(model.weights.copy())
    return spikes, np.array(trace)


def read_spikes(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "t,addr"
    return [tuple(int(x) for x in line.split(",")) for line in lines[1:]]


# simulate, model backend

def test_dump_weights(reward_config, tmp_path):
    w_path, weights = weights_file(tmp_path)
    inputs = write_inputs(tmp_path / "in.csv")
    result = run("simulate", reward_config, "--input", inputs, "--weights", w_path, "-o", tmp_path / "out",
                 "--dump-weights")
    assert result.exit_code == 0, result.output
    spikes, trace = expected_run(REWARD, weights)
    assert result.stdout == (f"{len(spikes)} spikes in 6 timesteps and 4 rewards; wrote {tmp_path / 'out'}/spikes.csv "
                             f"and {tmp_path / 'out'}/weights.npy\n")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".spikeforge-outputs", "spikes.csv", "weights.npy"]
    assert read_spikes(tmp_path / "out" / "spikes.csv") == spikes
    learned = np.load(tmp_path / "out" / "weights.npy")
    assert learned.shape == (CORE["axons"], CORE["neurons"])
    np.testing.assert_array_equal(learned, trace[-1])
    assert not np.array_equal(learned, weights)


def test_trace_weights(reward_config, tmp_path):
    w_path, weights = weights_file(tmp_path)
    inputs = write_inputs(tmp_path / "in.csv")
    result = run("simulate", reward_config, "--input", inputs, "--weights", w_path, "-o", tmp_path / "out",
                 "--trace-weights", "--dump-state", "--steps", 8)
    assert result.exit_code == 0, result.output
    _, trace = expected_run(REWARD, weights, steps=8)
    learned = np.load(tmp_path / "out" / "weights.npy")
    assert learned.shape == (8, CORE["axons"], CORE["neurons"])
    np.testing.assert_array_equal(learned, trace)
    assert np.load(tmp_path / "out" / "state.npz")["v"].shape == (8, CORE["neurons"])


def test_events_only_file_for_a_learning_core(learning_config, tmp_path):
    """A plain t,addr file works for a learning core; without --weights the weights start at zero."""
    inputs = tmp_path / "in.csv"
    inputs.write_text("t,addr\n" + "".join(f"{t},{a}\n" for t, a in EVENTS))
    result = run("simulate", learning_config, "--input", inputs, "-o", tmp_path / "out", "--dump-weights")
    assert result.exit_code == 0, result.output
    spikes, trace = expected_run(LEARNING, np.zeros((5, 8), dtype=int), rewards=[])
    assert read_spikes(tmp_path / "out" / "spikes.csv") == spikes
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "weights.npy"), trace[-1])


def test_rewards_only_set_the_steps(reward_config, tmp_path):
    inputs = write_inputs(tmp_path / "in.csv", events=[], rewards=[(4, 1)])
    result = run("simulate", reward_config, "--input", inputs, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("0 spikes in 5 timesteps and 1 reward; ")


# bad input

@pytest.mark.parametrize("config_name, text, message", [
    ("reward", "t,addr,value\n0,1,\n0,reward,32\n", "{input} line 3: reward 32 is out of range -32..31 for "
                                                     "reward_bits = 6"),
    ("reward", "t,addr,value\n0,reward,-33\n", "{input} line 2: reward -33 is out of range -32..31 for "
                                               "reward_bits = 6"),
    ("reward", "t,addr\n0,1\n1,reward\n", "{input} line 3: a reward row needs the value column (header "
                                         "'t,addr,value')"),
    ("reward", "t,addr,value\n1,reward\n", "{input} line 2: a reward row needs a value, 't,reward,value'"),
    ("reward", "t,addr,value\n0,1,3\n", "{input} line 2: only a reward row (addr 'reward') has a value; found "
                                        "'0,1,3'"),
    ("reward", "t,addr,value\n0,reward,x\n", "{input} line 2: expected 't,reward,value' with integers t and "
                                             "value, found '0,reward,x'"),
    ("reward", "t,addr,value\n-1,reward,1\n", "{input} line 2: time -1 is negative"),
    ("reward", "t,addr,value\n0,1,,\n", "{input} line 2: expected an event 't,axon' or a reward "
                                        "'t,reward,value', found '0,1,,'"),
    ("reward", "t,addr,reward\n0,1,\n", "{input} line 1: expected the header 't,addr' or 't,addr,value', found "
                                        "'t,addr,reward'"),
    ("learning", "t,addr,value\n0,1,\n2,reward,1\n", "{input} line 3: a reward row needs a learning core with "
                                                      "reward-modulated STDP ([stdp] reward = true)"),
])
def test_bad_reward_rows(tmp_path, reward_config, learning_config, config_name, text, message):
    config = reward_config if config_name == "reward" else learning_config
    inputs = tmp_path / "in.csv"
    inputs.write_text(text)
    assert_input_error(run("simulate", config, "--input", inputs, "-o", tmp_path / "o", "--dump-weights"),
                       message.format(input=inputs))
    assert not (tmp_path / "o").exists()


def test_reward_after_the_last_step(reward_config, tmp_path):
    inputs = write_inputs(tmp_path / "in.csv", rewards=[(6, 1)])
    assert_input_error(run("simulate", reward_config, "--input", inputs, "-o", tmp_path / "o", "--steps", 6),
                       f"{inputs} line {len(EVENTS) + 2}: time 6 is out of range 0..5 for 6 steps")


@pytest.mark.parametrize("option", ["--dump-weights", "--trace-weights"])
def test_weights_need_a_learning_core(tmp_path, option):
    config = tmp_path / "core.toml"
    config.write_text(toml(CORE, dict(enabled=False)))
    inputs = write_inputs(tmp_path / "in.csv", rewards=[])
    assert_input_error(run("simulate", config, "--input", inputs, "-o", tmp_path / "o", option),
                       f"{option} needs a learning core: {config} has no enabled [stdp] table")


def test_weights_options_are_for_the_lif_core(tmp_path):
    assert_input_error(run("simulate", EXAMPLES / "mesh_4x4.toml", "--input", EXAMPLES / "mesh_4x4_packets.csv",
                           "-o", tmp_path / "o", "--trace-weights"),
                       "--trace-weights applies to a [lif_core] block, not [mesh]")


# RTL backends, verify and build: the wiring, with stand-ins

def test_simulate_rtl_wiring(reward_config, tmp_path, stand_in):
    calls = []

    def simulate_rtl(params, stdp, *, weights, events, rewards, steps, sim, build_dir, dump_state, trace_weights):
        calls.append((params, stdp, weights, events, rewards, steps, sim, dump_state, trace_weights))
        trace = np.arange(steps * 40).reshape(steps, 5, 8)
        return [(0, 3)], {}, {"weights": trace[-1], "trace": trace}, [10 + t for t in range(steps)]

    stand_in("spikeforge.sim.stdp.rtl", simulate_rtl=simulate_rtl)
    inputs = write_inputs(tmp_path / "in.csv", events=[(2, 1), (0, 4)], rewards=[(3, 1), (1, -2), (1, 4)])
    result = run("simulate", reward_config, "--input", inputs, "--backend", "verilator", "-o", tmp_path / "out",
                 "--trace-weights")
    assert result.exit_code == 0, result.output
    params, stdp = params_and_stdp(REWARD)
    assert calls == [(params, stdp, None, [(0, 4), (2, 1)], [(1, -2), (1, 4), (3, 1)], 4, "verilator", False, True)]
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "weights.npy"), np.arange(160).reshape(4, 5, 8))
    assert json.loads((tmp_path / "out" / "cycles.json").read_text()) == {"total": 46, "per_step": [10, 11, 12, 13]}


MISMATCH = "after tick 3: weight of axon 2 neuron 5 = 17 in the RTL, 18 in the model"


@pytest.mark.parametrize("ok, code", [(True, 0), (False, 1)])
def test_verify_wiring(reward_config, stand_in, ok, code):
    calls = []

    def verify(params, stdp, *, sim, steps, seed, build_dir):
        calls.append((params, stdp, sim, steps, seed))
        return ok, "icarus: matched" if ok else MISMATCH

    stand_in("spikeforge.sim.stdp.verify", verify=verify)
    result = run("verify", reward_config, "--seed", 4, "--set", "stdp.a_plus=21")
    assert result.exit_code == code
    assert result.stdout == ("icarus: matched" if ok else MISMATCH) + "\n"
    params, stdp = params_and_stdp(dict(REWARD, a_plus=21))
    assert calls == [(params, stdp, "icarus", LEARNING_VERIFY_STEPS, 4)]


def test_build_wiring(reward_config, tmp_path, stand_in):
    calls = []

    def build_at_clock(make_top, board, out_dir, *, baud, clock_mhz, describe):
        top = make_top(None)
        calls.append((top.params, board, Path(out_dir), top.stdp, describe["parameters"]))
        return {"board": board}

    class BuildError(Exception):
        pass

    class TimingMissed(BuildError):
        pass

    stand_in("spikeforge.boards.build", build_at_clock=build_at_clock, BuildError=BuildError,
             TimingMissed=TimingMissed)
    stand_in("spikeforge.boards.report", format_table=lambda report: f"| {report['board']} |")
    result = run("build", reward_config, "--board", "ulx3s-85f", "-o", tmp_path / "ecp5")
    assert result.exit_code == 0, result.output
    params, stdp = params_and_stdp(REWARD)
    assert calls == [(params, "ulx3s-85f", tmp_path / "ecp5", stdp,
                      {"lif_core": params.to_dict(), "stdp": stdp.to_dict()})]


# RTL backends for real

@pytest.mark.cocotb
def test_simulate_learning_rtl(reward_config, tmp_path, sim):
    """The generated Verilog learns the same weights as the model, step by step, rewards included."""
    w_path, weights = weights_file(tmp_path)
    inputs = write_inputs(tmp_path / "in.csv")
    result = run("simulate", reward_config, "--input", inputs, "--weights", w_path, "--backend", sim,
                 "-o", tmp_path / "out", "--trace-weights", "--build-dir", tmp_path / "build")
    assert result.exit_code == 0, result.output
    spikes, trace = expected_run(REWARD, weights)
    assert read_spikes(tmp_path / "out" / "spikes.csv") == spikes
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "weights.npy"), trace)


@pytest.mark.cocotb
def test_verify_learning_core(reward_config, icarus):
    result = run("verify", reward_config, "--steps", 4, "--seed", 2)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("icarus: 4 steps from seed 2 matched the model: ")


@pytest.mark.build
def test_build_learning_core(tmp_path):
    """A small learning core builds for the iCEBreaker (the refusal is gone)."""
    config = tmp_path / "tiny.toml"
    config.write_text(toml(dict(neurons=4, axons=3, lanes=1, weight_bits=6, threshold=20), dict(impulse=40)))
    result = run("build", config, "--board", "icebreaker", "--clock", 12, "-o", tmp_path / "ice")   # one P&R
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("board ")
    assert (tmp_path / "ice" / "report.json").exists()
