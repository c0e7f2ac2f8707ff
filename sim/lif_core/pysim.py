"""Run a LIF core in Amaranth's Python simulator from a script of operations.

Quicker to start than a cocotb run (no Verilog, no compiler), so the unit tests use it for small cases; the
cocotb benches in :mod:`spikeforge.sim.lif_core.bench` remain the reference check on real simulators.

A script is a list of operations, each a tuple:

- ``("write", field, axon, neuron, value)``: a configuration write (``field`` a :class:`CfgField`);
- ``("read", field, axon, neuron)``: a configuration read, whose answer is returned;
- ``("step", axons)``: the events of one timestep then a tick; returns (spikes in order, cycles taken);
- ``("reward", value)``: a reward command (reward-modulated STDP).
"""

from __future__ import annotations

import random

from amaranth.sim import Simulator

from spikeforge.hdl.lif_core.core import CfgOp
from spikeforge.sim.harness.pysim import handshake, response, timestep


__all__ = ["run_script"]


def run_script(core, script, *, idle=0.0, backpressure=0.0, seed=0, vcd=None, timeout_cycles=100_000):
    """Run ``script`` on ``core``; return one result per operation (None for writes and rewards).

    Parameters
    ----------
    idle : float
        Probability of an idle cycle before each input event.
    backpressure : float
        Probability that the spike sink is not ready in a cycle.
    vcd : str or None
        Write a waveform to this file.
    timeout_cycles : int
        Give up on an operation the core has not completed after this many cycles.

    Raises
    ------
    TimeoutError
        Naming the operation the core did not complete.
    """
    rng = random.Random(seed)
    results = []

    async def cfg(ctx, op, field, axon, neuron, value=0):
        await handshake(ctx, core.cfg, {"op": op, "field": field, "axon": axon, "neuron": neuron, "data": value},
                        timeout=timeout_cycles, what="cfg")
        if op == CfgOp.READ:
            return (await response(ctx, core.cfg_rsp)).data
        return None

    async def step(ctx, axons):
        beats, cycles = await timestep(ctx, source=core.events, payloads=[{"axon": int(a)} for a in axons],
                                       end=core.tick, sink=core.spikes, done=core.done, rng=rng, idle=idle,
                                       stall=backpressure, timeout=timeout_cycles)
        return [beat.neuron for beat in beats], cycles

    async def testbench(ctx):
        for op, *args in script:
            if op == "write":
                results.append(await cfg(ctx, CfgOp.WRITE, *args))
            elif op == "read":
                results.append(await cfg(ctx, CfgOp.READ, *args))
            elif op == "step":
                results.append(await step(ctx, *args))
            elif op == "reward":
                await handshake(ctx, core.reward, int(args[0]), timeout=timeout_cycles, what="reward")
                results.append(None)
            else:
                raise ValueError(f"Unknown script operation {op!r}")

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return results
