"""Run a chip in Amaranth's Python simulator: load a network, run timesteps, read state back.

Quicker to start than a cocotb run for small chips; the cocotb bench (:mod:`spikeforge.sim.chip.bench`) is the
check on real simulators. Commands are those of :mod:`spikeforge.sim.chip.load` (enumeration members by name).
"""

from __future__ import annotations

import random

from amaranth.sim import Simulator

from spikeforge.hdl.cfg import CfgOp
from spikeforge.hdl.chip.config_port import ChipUnit
from spikeforge.hdl.lif_core.core import CfgField
from spikeforge.sim.harness.pysim import handshake, response, timestep


__all__ = ["run_chip_pysim", "cfg_payload"]


_ENUMS = {"op": CfgOp, "unit": ChipUnit, "field": CfgField}


def cfg_payload(fields):
    """The ``cfg`` stream payload of a command of :mod:`spikeforge.sim.chip.load` (enumerations by name)."""
    return {name: _ENUMS[name][value] if name in _ENUMS else value for name, value in fields.items()}


def run_chip_pysim(chip, commands, steps, *, reads=(), before=None, idle=0.0, stall=0.0, seed=0,
                   timeout=100_000):
    """Load ``commands`` into ``chip`` (a :class:`~spikeforge.hdl.chip.chip.Chip`), then run ``steps`` (a list of
    input index lists), after each step issuing the READ commands ``reads``. ``before``: step index -> commands
    issued just before that step (e.g. those that start the next sample of a batch).

    Returns
    -------
    list of (outputs, answers, cycles, unmapped)
        Per step: the output indices in arrival order, the READs' ``data`` answers, the cycles from the first
        input to ``done``, the chip's ``unmapped`` counter after the step.
    """
    rng = random.Random(seed)
    results = []

    async def cfg(ctx, fields):
        await handshake(ctx, chip.cfg, cfg_payload(fields), timeout=timeout, what="cfg")
        if fields["op"] == "READ":
            return (await response(ctx, chip.cfg_rsp)).data
        return None

    async def step(ctx, inputs):
        beats, cycles = await timestep(ctx, source=chip.inputs, payloads=[{"neuron": int(n)} for n in inputs],
                                       end=chip.step, sink=chip.outputs, done=chip.done, rng=rng, idle=idle,
                                       stall=stall, timeout=timeout)
        return [beat.neuron for beat in beats], cycles

    async def testbench(ctx):
        for fields in commands:
            await cfg(ctx, fields)
        for t, inputs in enumerate(steps):
            for fields in (before or {}).get(t, ()):
                await cfg(ctx, fields)
            outputs, cycles = await step(ctx, inputs)
            answers = [await cfg(ctx, fields) for fields in reads]
            results.append((outputs, answers, cycles, ctx.get(chip.unmapped)))

    sim = Simulator(chip)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return results
