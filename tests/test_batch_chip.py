"""A chip on the batch harness: ``simulate_rtl`` in Verilator gives the golden model's outputs for every sample,
and counts the cycles of every step as the cocotb replay does."""

import json

import numpy as np
import pytest

from chips import CHIPS, weights_for
from spikeforge.sim.chip.model import run_chip
from spikeforge.sim.chip.rtl import simulate_rtl


pytestmark = pytest.mark.cocotb


def _spikes(params, shape, seed):
    return (np.random.default_rng(seed).random(shape + (params.inputs,)) < 0.4).astype(np.uint8)


def test_batch_chip_gives_the_model_outputs(tmp_path):
    params = CHIPS["1x2-layers"]
    weights = weights_for(params, 2)
    spikes = _spikes(params, (3, 6), 4)
    out, cycles = simulate_rtl(params, spikes, weights, sim="verilator", build_dir=tmp_path)
    expected = run_chip(params, spikes, weights)
    assert expected.sum() > 10      # the input makes the cores fire
    for b, t in zip(*np.nonzero((out != expected).any(axis=2))):
        raise AssertionError(f"sample {b} step {t}: outputs {np.flatnonzero(out[b, t]).tolist()} in the RTL, "
                             f"{np.flatnonzero(expected[b, t]).tolist()} in the model")
    assert cycles.shape == (3, 6) and (cycles > 0).all()


def test_batch_chip_counts_cycles_as_the_cocotb_replay(icarus, tmp_path):
    params = CHIPS["1x2-layers"]
    weights = weights_for(params, 1)
    spikes = _spikes(params, (2, 4), 5)
    spikes[1, 3] = 0    # a step without input spikes starts with its step beat
    batch = simulate_rtl(params, spikes, weights, sim="verilator", build_dir=tmp_path / "verilator")
    cocotb = simulate_rtl(params, spikes, weights, sim=icarus, build_dir=tmp_path / "icarus")
    np.testing.assert_array_equal(batch[0], cocotb[0])
    np.testing.assert_array_equal(batch[1], cocotb[1])


LAYERS = """\
[chip]
width = 2
height = 1
inputs = 8
weights = "weights.npz"

[chip.cores.h]
node = 1
axons = 8
neurons = 8
lanes = 2
weight_bits = 6
threshold = "per_neuron"
bias = "per_neuron"

[chip.cores.o]
node = 0
axons = 8
neurons = 8
lanes = 2
weight_bits = 6
threshold = 20
model = "cuba"

[[chip.connections]]
source = "input"
target = "h"

[[chip.connections]]
source = "h"
target = "o"

[[chip.outputs]]
core = "h"

[[chip.outputs]]
core = "o"
"""


def test_simulate_spreads_a_batch_over_processes(tmp_path):
    """``-j 2``: the batch in two parts on two processes, the outputs and cycles those of one run."""
    from click.testing import CliRunner

    from spikeforge.scripts.cli import main

    config = tmp_path / "chip.toml"
    config.write_text(LAYERS)
    params = CHIPS["1x2-layers"]      # the same chip: one build for the tests of this module
    weights = weights_for(params, 3)
    np.savez(tmp_path / "weights.npz", **weights)
    spikes = _spikes(params, (3, 4), 6)
    np.savez(tmp_path / "in.npz", spikes=spikes)
    args = ["simulate", config, "--input", tmp_path / "in.npz", "--backend", "verilator", "-j", 2, "-o",
            tmp_path / "out", "--build-dir", tmp_path / "build"]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "out.npz")["spikes"], run_chip(params, spikes, weights))
    _, cycles = simulate_rtl(params, spikes, weights, sim="verilator", build_dir=tmp_path / "one")
    assert json.loads((tmp_path / "out" / "cycles.json").read_text()) == {"total": int(cycles.sum()),
                                                                        "per_step": cycles.tolist()}


@pytest.mark.parametrize("args, message", [
    (("--backend", "model", "-j", "2"), "--jobs spreads the samples of an RTL run; the golden model runs in one "
                                        "process"),
    (("--backend", "verilator", "--scheduler", "localhost:8786"),
     "--scheduler localhost:8786: expected an address such as tcp://HOST:8786"),
])
def test_simulate_refuses_to_spread_what_it_cannot(tmp_path, args, message):
    from click.testing import CliRunner

    from spikeforge.scripts.cli import main

    config = tmp_path / "chip.toml"
    config.write_text(LAYERS.replace('weights = "weights.npz"\n', ""))
    np.savez(tmp_path / "in.npz", spikes=np.zeros((2, 3, 8), dtype=np.uint8))
    result = CliRunner().invoke(main, ["simulate", str(config), "--input", str(tmp_path / "in.npz"), *args, "-o",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {message}\n"
    assert not (tmp_path / "out").exists()
