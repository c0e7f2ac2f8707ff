"""The attention unit's generated Verilog in Icarus and Verilator (cocotb) against the golden model.

Each configuration runs, with the events schedule and (a few of them) with the dense one, the bench's ``compare`` test (two random calls, row densities 5-50 %, idle cycles on the
input, backpressure on the output), then replays one call without stalls through :func:`run_rtl`, the path of
the ``simulate`` command, and checks its output and its cycle count.
"""

import dataclasses

import numpy as np
import pytest

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.sim.attention.model import run_model
from spikeforge.sim.attention.rtl import run_rtl, verify_rtl
from spikeforge.sim.attention.stimulus import STIMULI


# name: (parameters, stimulus). The reference shapes take uniformly random rows; the small shapes take the
# "counts" stimulus (see spikeforge.sim.attention.stimulus), whose counts span 0..tokens, with a scale and a
# threshold that put the SN inputs on both sides of the threshold.
CONFIGS = {
    # The UP5K benchmark shape.
    "v1-n16-d32-h2-t4-l4": (dict(variant="v1", tokens=16, channels=32, heads=2, timesteps=4, lanes=4),
                            "random"),
    # A scaled SN input whose membrane carries fractions, and counts that saturate at 3.
    "v1-n7-d24-h3-t3-l8-sat": (dict(variant="v1", tokens=7, channels=24, heads=3, timesteps=3, lanes=8,
                                    count_bits=2, scale_shift=2), "counts"),
    # Every channel in one word: a row per cycle, and the two Q banks turned over as fast as they can be.
    "v1-n48-d32-h4-t4-l32": (dict(variant="v1", tokens=48, channels=32, heads=4, timesteps=4, lanes=32),
                             "random"),
    "v2-n16-d32-h2-t4-l16": (dict(variant="v2", tokens=16, channels=32, heads=2, timesteps=4, lanes=16),
                             "random"),
    # tau = 4.
    "v2-n8-d24-h3-t3-l8-tau4": (dict(variant="v2", tokens=8, channels=24, heads=3, timesteps=3, lanes=8,
                                     decay_shift=2), "counts"),
    # One channel per head, and counts that saturate at 7.
    "v2-n12-d16-h16-t5-l1-sat": (dict(variant="v2", tokens=12, channels=16, heads=16, timesteps=5, lanes=1,
                                      count_bits=3), "counts"),
    # Three words per head row (Dh = 6).
    "v2-n5-d12-h2-t2-l2": (dict(variant="v2", tokens=5, channels=12, heads=2, timesteps=2, lanes=2,
                                scale_shift=2, threshold=0.75), "counts"),
}
SEED = 11
# The dense schedule on a shape of each variant (the events schedule, the default, takes them all).
DENSE = ("v1-n16-d32-h2-t4-l4", "v1-n7-d24-h3-t3-l8-sat", "v2-n5-d12-h2-t2-l2")
CASES = [(name, "events") for name in CONFIGS] + [(name, "dense") for name in DENSE]


def _stimulus(name, calls):
    config, stimulus = CONFIGS[name]
    params = AttentionParams.create(**config)
    return params, STIMULI[stimulus](params, np.random.default_rng(SEED), calls=calls)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_stimulus_can_tell_a_wrong_unit(name):
    """The bench's stimulus must make the SN fire, make the carried membrane decide some spikes (a unit that
    forgot it between timesteps would fail) and, where counts saturate, make saturation decide some.

    When the SN input's grid (2**-scale_shift) is no finer than the threshold, the membrane cannot decide a
    spike (it stays below the threshold, so an input fires on its own or not at all): the V1 reference models."""
    params, (q, k, v) = _stimulus(name, calls=2)
    o = run_model(params, q, k, v)
    assert 0.01 < o.mean() < 0.9, f"output density {o.mean():.3f}"
    if params.threshold > 2.0 ** -params.scale_shift:
        forgetful = dataclasses.replace(params, timesteps=1)
        assert (o != run_model(forgetful, q, k, v)).any(), "the membrane never decides a spike"
    if not params.exact:
        unsaturated = dataclasses.replace(params, count_bits=16)
        assert (o != run_model(unsaturated, q, k, v)).any(), "saturation never decides a spike"


@pytest.mark.cocotb
@pytest.mark.parametrize("name, schedule", CASES, ids=[f"{name}-{schedule}" for name, schedule in CASES])
def test_rtl_equals_model(name, schedule, sim, tmp_path):
    config, stimulus = CONFIGS[name]
    params = AttentionParams.create(**config, schedule=schedule)
    result = verify_rtl(params, sim=sim, build_dir=tmp_path, stimulus=stimulus, seed=SEED, calls=2,
                        idle=0.3, stall=0.3)
    assert result.ok, result.message

    _, (q, k, v) = _stimulus(name, calls=1)
    o, cycles, per_call = run_rtl(params, q, k, v, sim=sim, build_dir=tmp_path)
    np.testing.assert_array_equal(o, run_model(params, q, k, v))
    if schedule == "dense":
        # One call costs its additions over the lanes, plus the last timestep's rows leaving and a few cycles
        # of latency per timestep (docs/attention.md).
        bound = params.additions_per_call / params.lanes + params.tokens + 8 * params.timesteps + 16
    else:
        bound = _event_schedule_cycles(params, q, k, v) + 8 * params.timesteps + params.tokens + 16
    assert cycles <= bound, f"{cycles} cycles for one call, more than {bound:.0f}"
    assert per_call == [cycles]


def _event_schedule_cycles(params, q, k, v):
    """At most the cycles docs/attention.md gives the events schedule, before latencies. v1: a row costs the most
    events a lane has (at least its beat), and each timestep's SN walk at most D / L words. v2: a row costs at
    most one cycle per spike of K in a head whose V row is not zero (at least its beat); a (token, head) at most
    Dh / L cycles per spike of Q (one pass when it has none)."""
    p = params
    if p.variant == "v1":
        per_lane = (k & v).reshape(k.shape[:2] + (p.channels // p.lanes, p.lanes)).sum(axis=2)
        return int(np.maximum(per_lane.max(axis=2), 1).sum()) + p.timesteps * p.channels // p.lanes
    heads = k.shape[:2] + (p.heads, p.head_channels)
    k_heads, v_heads, q_heads = (a.reshape(heads).sum(axis=3) for a in (k, v, q))
    accumulate = np.maximum(np.where(v_heads > 0, k_heads, 0).sum(axis=2), 1).sum()
    return int(accumulate + np.maximum(q_heads, 1).sum() * p.head_channels // p.lanes)
