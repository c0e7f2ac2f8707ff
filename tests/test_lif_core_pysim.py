"""Amaranth pysim checks of the LIF core against the golden model: quicker than cocotb for small cases and
for pieces such as the configuration port and the event pipeline's throughput."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikeforge.hdl.lif_core.core import CfgField, CfgOp, LifCore
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.sim.lif_core.model import LifModel


def run_pysim(params, weights, steps_events, *, per_neuron=None, idle=0.0, backpressure=0.0, seed=0):
    """Run the core in pysim; return (spikes per step, v per step, u per step, cycles per step)."""
    core = LifCore(params)
    rng = random.Random(seed)
    out = {"spikes": [], "v": [], "u": [], "ref": [], "cycles": []}
    fields = core.field_widths()

    async def testbench(ctx):
        async def clock(n=1):
            await ctx.tick().repeat(n)

        async def cfg(op, field, *, neuron=0, axon=0, data=0):
            ctx.set(core.cfg.payload, {"op": op, "field": field, "axon": axon, "neuron": neuron, "data": data})
            ctx.set(core.cfg.valid, 1)
            await ctx.tick().until(core.cfg.ready)
            ctx.set(core.cfg.valid, 0)
            if op == CfgOp.READ:
                ctx.set(core.cfg_rsp.ready, 1)
                payload, = await ctx.tick().sample(core.cfg_rsp.payload).until(core.cfg_rsp.valid)
                ctx.set(core.cfg_rsp.ready, 0)
                return payload.data

        for a in range(params.axons):
            for n in range(params.neurons):
                if weights[a, n]:
                    await cfg(CfgOp.WRITE, CfgField.WEIGHT, axon=a, neuron=n, data=int(weights[a, n]))
        for field, values in (per_neuron or {}).items():
            for n, value in enumerate(values):
                await cfg(CfgOp.WRITE, field, neuron=n, data=int(value))

        for axons in steps_events:
            cycles = 0
            for axon in axons:
                while idle and rng.random() < idle:
                    await clock()
                    cycles += 1
                ctx.set(core.events.payload.axon, int(axon))
                ctx.set(core.events.valid, 1)
                while True:
                    _, _, ready = await ctx.tick().sample(core.events.ready)
                    cycles += 1
                    if ready:
                        break
                ctx.set(core.events.valid, 0)
            ctx.set(core.tick.valid, 1)
            spikes = []
            while True:
                ctx.set(core.spikes.ready, int(rng.random() >= backpressure))
                _, _, tick_ready, valid, ready, payload, done = await ctx.tick().sample(
                    core.tick.ready, core.spikes.valid, core.spikes.ready, core.spikes.payload, core.done)
                cycles += 1
                if tick_ready:
                    ctx.set(core.tick.valid, 0)
                if valid and ready:
                    spikes.append(payload.neuron)
                if done:
                    break
            ctx.set(core.spikes.ready, 0)
            out["spikes"].append(spikes)
            out["cycles"].append(cycles)
            out["v"].append([await cfg(CfgOp.READ, CfgField.V, neuron=n) for n in range(params.neurons)])
            if CfgField.U in fields:
                out["u"].append([await cfg(CfgOp.READ, CfgField.U, neuron=n) for n in range(params.neurons)])
            if CfgField.REFRACTORY in fields:
                out["ref"].append([await cfg(CfgOp.READ, CfgField.REFRACTORY, neuron=n)
                                   for n in range(params.neurons)])

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return out


def run_model(params, weights, steps_events, *, per_neuron=None):
    model = LifModel(params, weights)
    names = {CfgField.THRESHOLD: "threshold", CfgField.BIAS: "bias"}
    for field, values in (per_neuron or {}).items():
        setattr(model, names[field], np.asarray(values, dtype=np.int64))
    out = {"spikes": [], "v": [], "u": [], "ref": []}
    for axons in steps_events:
        out["spikes"].append(list(model.step(axons)))
        out["v"].append(list(model.v))
        out["u"].append(list(model.u))
        out["ref"].append(list(model.refractory))
    return out


def compare(params, rtl, model):
    """Assert equality, naming the first mismatch in words."""
    for t, (got, want) in enumerate(zip(rtl["spikes"], model["spikes"])):
        assert got == want, f"step {t}: RTL spiked {got}, the model {want}"
        for name in ("v", "u", "ref"):
            if rtl[name]:
                for n, (g, w) in enumerate(zip(rtl[name][t], model[name][t])):
                    assert g == w, f"after tick {t}: neuron {n} {name} = {g} in the RTL, {w} in the model"


def random_case(params, *, steps, rate, seed):
    rng = np.random.default_rng(seed)
    lo, hi = params.weight_range
    weights = rng.integers(lo, hi + 1, size=(params.axons, params.neurons))
    steps_events = [list(rng.choice(params.axons, size=rng.binomial(params.axons, rate)))
                    for _ in range(steps)]
    return weights, steps_events


CONFIGS = {
    "lif-shift-p2": dict(neurons=8, axons=6, lanes=2, threshold=40),
    "if-linear-p1-ge-subtract": dict(neurons=4, axons=3, lanes=1, model="if", compare="ge", reset="subtract",
                                     threshold=20, bias=-3, weight_bits=6, state_bits=8, saturate=False),
    "cuba-mult-p4-refractory": dict(neurons=8, axons=5, lanes=4, model="cuba", decay="mult", decay_u=1000,
                                    decay_v=300, refractory=2, threshold="per_neuron", bias="per_neuron",
                                    reset="none", state_bits=10),
    "lif-linear-p8-wrap": dict(neurons=8, axons=4, lanes=8, decay="linear", decay_v=3, state_bits=7,
                               acc_bits=8, saturate=False, threshold=30, v_reset=-5),
    "loihi": dict(preset="loihi", neurons=8, axons=4, lanes=2, du=300, dv=100, vth=20, bias_mant=5,
                  bias_exp=2),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_core_matches_model(name):
    params = LifParams.create(**CONFIGS[name])
    weights, steps_events = random_case(params, steps=12, rate=0.4, seed=len(name))
    if params.loihi:
        # Large weights saturate the 18-bit accumulator within a step.
        weights = weights * 0 + np.where(weights > 0, 127, -128)[:, :]
    per_neuron = {}
    rng = np.random.default_rng(1)
    if params.per_neuron_threshold:
        per_neuron[CfgField.THRESHOLD] = rng.integers(-20, 100, params.neurons)
    if params.per_neuron_bias:
        per_neuron[CfgField.BIAS] = rng.integers(-10, 10, params.neurons)
    rtl = run_pysim(params, weights, steps_events, per_neuron=per_neuron, idle=0.3, backpressure=0.4, seed=3)
    model = run_model(params, weights, steps_events, per_neuron=per_neuron)
    assert sum(map(len, model["spikes"])) > 0, "the case should make neurons spike"
    compare(params, rtl, model)


def test_events_cost_groups_cycles_without_bubbles():
    """Back-to-back events cost G = N / P cycles each; a tick about G cycles plus the pipeline."""
    params = LifParams.create(neurons=16, axons=4, lanes=4, threshold=10000)
    weights = np.zeros((4, 16), dtype=int)
    few = run_pysim(params, weights, [[0] * 2])["cycles"][0]
    many = run_pysim(params, weights, [[0] * 22])["cycles"][0]
    assert many - few == 20 * params.groups
    assert few - 2 * params.groups <= params.groups + 6
