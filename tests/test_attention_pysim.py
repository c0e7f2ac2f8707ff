"""Amaranth pysim checks of the attention unit against the golden model: quick for small shapes, and the place
to check the schedule's cycle count."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikeforge.hdl.attention.params import SCHEDULES, AttentionParams
from spikeforge.hdl.attention.unit import AttentionUnit
from spikeforge.scripts.bench.attention import EVENT_RATIO_GOAL, TOKEN_OVERHEAD
from spikeforge.sim.attention.model import event_additions, run_model
from spikeforge.sim.attention.rows import pack_rows, unpack_rows
from spikeforge.sim.attention.stimulus import count_qkv, random_qkv


def run_pysim(params, q, k, v, *, idle=0.0, stall=0.0, seed=0):
    """Stream the rows through the unit with random idle cycles on the input and backpressure on the output;
    return (O, cycles from the first row offered to the last row taken)."""
    unit = AttentionUnit(params)
    beats = list(zip(pack_rows(q), pack_rows(k), pack_rows(v)))
    rows = []
    cycles = []

    async def producer(ctx):
        rng = random.Random(f"{seed}/qkv")
        for q_row, k_row, v_row in beats:
            while rng.random() < idle:
                await ctx.tick()
            ctx.set(unit.qkv.payload, {"q": q_row, "k": k_row, "v": v_row})
            ctx.set(unit.qkv.valid, 1)
            await ctx.tick().until(unit.qkv.ready)
            ctx.set(unit.qkv.valid, 0)

    async def consumer(ctx):
        rng = random.Random(f"{seed}/o")
        count = 0
        limit = 20 * params.additions_per_call // params.lanes * (len(beats) // params.tokens) + 1000
        while len(rows) < len(beats):
            assert count < limit, f"only {len(rows)} of {len(beats)} output rows after {count} cycles"
            ctx.set(unit.o.ready, int(rng.random() >= stall))
            _, _, valid, ready, payload = await ctx.tick().sample(unit.o.valid, unit.o.ready, unit.o.payload)
            count += 1
            if valid and ready:
                rows.append(payload.o)
        cycles.append(count)

    sim = Simulator(unit)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return unpack_rows(rows, params.channels).reshape(q.shape), cycles[0]


# Small shapes with the "counts" stimulus (see spikeforge.sim.attention.stimulus), and scales and thresholds
# that put the SN inputs on both sides of the threshold; some counts saturate.
CONFIGS = [
    dict(variant="v1", tokens=6, channels=8, heads=2, timesteps=3, lanes=2, scale_shift=3, threshold=0.375),
    dict(variant="v1", tokens=3, channels=4, heads=1, timesteps=4, lanes=4, scale_shift=1, threshold=0.375),
    dict(variant="v1", tokens=5, channels=6, heads=3, timesteps=2, lanes=1, count_bits=2, scale_shift=1,
         threshold=0.375),
    dict(variant="v2", tokens=4, channels=8, heads=2, timesteps=3, lanes=2, threshold=0.375),
    dict(variant="v2", tokens=5, channels=6, heads=3, timesteps=3, lanes=1, decay_shift=2, scale_shift=0,
         threshold=0.375),
    dict(variant="v2", tokens=3, channels=4, heads=1, timesteps=2, lanes=4, count_bits=1, scale_shift=2,
         threshold=0.375),
    dict(variant="v2", tokens=6, channels=3, heads=3, timesteps=4, lanes=1, threshold=0.375),
    # One word of counts read back the cycle it is written: one token (v1 then waits a cycle between rows for
    # the membrane), two tokens, and a single channel.
    dict(variant="v1", tokens=1, channels=4, heads=1, timesteps=5, lanes=4, scale_shift=1, threshold=0.375),
    dict(variant="v1", tokens=2, channels=4, heads=1, timesteps=5, lanes=4, scale_shift=1, threshold=0.375),
    dict(variant="v2", tokens=1, channels=4, heads=1, timesteps=5, lanes=4, scale_shift=1, threshold=0.375),
    dict(variant="v2", tokens=3, channels=1, heads=1, timesteps=5, lanes=1, scale_shift=1, threshold=0.375),
]


_SHORT = {"tokens": "n", "channels": "d", "heads": "h", "timesteps": "t", "lanes": "l"}


def _id(config):
    return "-".join(value if key == "variant" else f"{_SHORT.get(key, key + '=')}{value}"
                    for key, value in config.items())


@pytest.mark.parametrize("config", CONFIGS, ids=_id)
@pytest.mark.parametrize("idle, stall", [(0.0, 0.0), (0.3, 0.5)], ids=["streaming", "stalls"])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_rtl_equals_model(config, idle, stall, schedule):
    params = AttentionParams.create(**config, schedule=schedule)
    q, k, v = count_qkv(params, np.random.default_rng(len(_id(config))), calls=2)
    o, _ = run_pysim(params, q, k, v, idle=idle, stall=stall, seed=3)
    want = run_model(params, q, k, v)
    mismatch = np.argwhere(o != want)
    assert not mismatch.size, (f"step {mismatch[0][0]}, token {mismatch[0][1]}, channel {mismatch[0][2]}: "
                               f"RTL {o[tuple(mismatch[0])]}, model {want[tuple(mismatch[0])]}")


@pytest.mark.parametrize("config", [
    dict(variant="v1", tokens=16, channels=32, heads=2, timesteps=4, lanes=4),
    dict(variant="v2", tokens=8, channels=16, heads=2, timesteps=2, lanes=4),
], ids=_id)
def test_dense_cycles_per_call_follow_the_additions(config):
    """With a ready sink and a source that never idles, a dense call costs at most 1.2 times its additions
    divided by the lanes (docs/attention.md derives the exact count), whatever the spikes."""
    params = AttentionParams.create(**config, schedule="dense")
    q, k, v = random_qkv(params, np.random.default_rng(0))
    _, cycles = run_pysim(params, q, k, v)
    ratio = cycles / (params.additions_per_call / params.lanes)
    assert ratio <= 1.2, f"{cycles} cycles for {params.additions_per_call} additions on {params.lanes} lanes"


# Cycles of a call's first row in and its last rows out, which a small call cannot spread over many rows.
CALL_LATENCY = 16


@pytest.mark.parametrize("config", [
    dict(variant="v1", tokens=16, channels=32, heads=2, timesteps=4, lanes=4),
    dict(variant="v2", tokens=16, channels=32, heads=2, timesteps=4, lanes=4),
    dict(variant="v2", tokens=8, channels=16, heads=1, timesteps=2, lanes=16),
], ids=_id)
@pytest.mark.parametrize("activity", [0.05, 0.5])
def test_event_cycles_follow_the_spikes(config, activity):
    """With a ready sink and a source that never idles, an events call costs at most 1.3 times the additions
    its spikes ask for over the lanes, plus a few cycles per token row (the row's beat, its share of the SN
    walk in v1, the SN passes over heads without a spike of Q in v2) and the pipeline's latency, once a call;
    and fewer than the dense schedule."""
    params = AttentionParams.create(**config, schedule="events")
    q, k, v = random_qkv(params, np.random.default_rng(0), density=(activity, activity))
    _, cycles = run_pysim(params, q, k, v)
    bound = (EVENT_RATIO_GOAL * event_additions(params, q, k, v) / params.lanes
             + TOKEN_OVERHEAD * q.shape[0] * params.tokens + CALL_LATENCY)
    assert cycles <= bound, f"{cycles} cycles, more than {bound:.0f}"
    assert cycles < params.additions_per_call / params.lanes
