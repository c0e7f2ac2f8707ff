"""The LIF core on the batch harness: ``simulate --backend verilator`` writes the golden model's outputs, and a
batch replay counts the cycles of every step as the cocotb replay does."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.scripts.cli import main
from spikeforge.sim.lif_core.rtl import replay_rtl


pytestmark = pytest.mark.cocotb

PARAMETERS = dict(neurons=16, axons=12, lanes=4, weight_bits=6, model="cuba", decay_v=2, decay_u=1, threshold=20,
                  refractory=1)
CORE = "[lif_core]\n" + "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in PARAMETERS.items())


def _simulate(config, events, weights, backend, out_dir, build_dir):
    args = ["simulate", config, "--input", events, "--weights", weights, "--backend", backend, "-o", out_dir,
            "--dump-state", "--build-dir", build_dir]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return (out_dir / "spikes.csv").read_text(), dict(np.load(out_dir / "state.npz"))


def test_simulate_verilator_writes_the_model_outputs(tmp_path):
    config = tmp_path / "core.toml"
    config.write_text(CORE)
    rng = np.random.default_rng(3)
    np.save(tmp_path / "w.npy", rng.integers(-20, 32, size=(12, 16)))
    rows = sorted(zip(rng.integers(0, 25, 150).tolist(), rng.integers(0, 12, 150).tolist()))
    (tmp_path / "events.csv").write_text("t,addr\n" + "".join(f"{t},{a}\n" for t, a in rows))
    spikes, state = _simulate(config, tmp_path / "events.csv", tmp_path / "w.npy", "model", tmp_path / "model",
                              tmp_path / "build")
    rtl_spikes, rtl_state = _simulate(config, tmp_path / "events.csv", tmp_path / "w.npy", "verilator",
                                      tmp_path / "rtl", tmp_path / "build")
    assert spikes.count("\n") > 20          # the input makes the neurons fire
    assert rtl_spikes == spikes
    assert sorted(rtl_state) == sorted(state) == ["u", "v"]
    for name in state:
        np.testing.assert_array_equal(rtl_state[name], state[name], err_msg=f"state {name}")
    cycles = json.loads((tmp_path / "rtl" / "cycles.json").read_text())
    assert len(cycles["per_step"]) == 25 and min(cycles["per_step"]) > 0
    assert cycles["total"] == sum(cycles["per_step"])
    assert not (tmp_path / "model" / "cycles.json").exists()


def test_batch_replay_counts_cycles_as_the_cocotb_replay(icarus, tmp_path):
    params = LifParams.create(**PARAMETERS)    # the core of the test above: one build
    rng = np.random.default_rng(5)
    weights = rng.integers(-20, 32, size=(12, 16))
    events = [(int(t), int(a)) for t, a in zip(rng.integers(0, 6, 30), rng.integers(0, 12, 30))]
    steps = 7    # the last step has no event: it starts with its tick
    batch = replay_rtl(params, weights=weights, events=events, steps=steps, sim="verilator",
                       build_dir=tmp_path / "verilator")
    cocotb = replay_rtl(params, weights=weights, events=events, steps=steps, sim=icarus,
                        build_dir=tmp_path / "icarus")
    assert batch[0] == cocotb[0]
    assert batch[2] == cocotb[2]
    np.testing.assert_array_equal(batch[1]["v"], cocotb[1]["v"])


def test_a_learning_core_counts_the_same_cycles_on_both_paths(icarus, tmp_path):
    # The batch harness (Verilator) and the cocotb replay (Icarus) count each step of a learning core with rewards
    # alike, and both equal the golden model.
    from spikeforge.hdl.stdp.params import StdpParams
    from spikeforge.sim.stdp.rtl import simulate_rtl
    from spikeforge.sim.stdp.simulate import simulate_model

    params = LifParams.create(neurons=8, axons=6, lanes=2, weight_bits=6, threshold=20)
    stdp = StdpParams.create(params, reward=True, lr_shift=4, a_plus=40, a_minus=30)
    rng = np.random.default_rng(6)
    weights = rng.integers(-8, 24, size=(6, 8))
    events = [(int(t), int(a)) for t, a in zip(rng.integers(0, 6, 30), rng.integers(0, 6, 30))]
    run = dict(weights=weights, events=events, rewards=[(1, 9), (3, -12)], steps=6)
    spikes, _, learned, cycles = simulate_rtl(params, stdp, **run, sim="verilator", build_dir=tmp_path / "v")
    *cocotb, cocotb_cycles = simulate_rtl(params, stdp, **run, sim=icarus, build_dir=tmp_path / "i")
    want = simulate_model(params, stdp, **run)
    assert spikes == cocotb[0] == want[0] and len(spikes) > 5
    np.testing.assert_array_equal(learned["weights"], want[2]["weights"])
    assert cycles == cocotb_cycles and len(cycles) == 6 and min(cycles) > 0
