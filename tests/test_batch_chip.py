"""A chip on the batch harness: ``simulate_rtl`` in Verilator gives the golden model's outputs for every sample,
and counts the cycles of every step as the cocotb replay does."""

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
