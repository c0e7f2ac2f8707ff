"""cocotb bench of a chip: load a network through the configuration port, run timesteps, compare with the golden
model (docs/chip.md).

It knows the chip only through the build manifest (the ``[chip]`` parameters and the port layouts), never
through Amaranth. The run configuration (:mod:`spikeforge.sim.harness.run_config`) holds ``weights`` (core name
-> nested lists), ``inputs`` (samples of steps of input indices), ``idle`` and ``stall`` (the probabilities of an
idle input cycle and of a cycle of output backpressure), ``seed`` and ``output``.

- ``compare``: every sample from a freshly loaded chip; after every step the outputs, every neuron's state and a
  learning core's weights, traces, fired bits and LFSRs equal the model's (the first difference is named: step,
  core, field, index).
- ``replay``: the outputs and the cycles of every step, written to ``output`` as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from spikeforge.hdl.chip.params import ChipParams
from spikeforge.sim.harness import run_config
from spikeforge.sim.harness.clocking import CLOCK_PERIOD_NS, reset, start_clock, wait_high
from spikeforge.sim.harness.layout import flat_fields
from spikeforge.sim.harness.streams import StreamPorts
from spikeforge.sim.lif_core.fields import NEURON_FIELDS, state_names

from .load import learning_reads, load_commands, rest_commands
from .model import ChipModel


class ChipDriver:
    """Drives a chip: reset, configuration, timesteps."""

    def __init__(self, dut, manifest, *, seed, idle=0.0, stall=0.0):
        self._dut = dut
        self.params = ChipParams.create(**manifest.parameters["chip"])
        self._clock = getattr(dut, manifest.clock)
        self._rst = getattr(dut, manifest.reset)
        cores = self.params.cores
        # A step: every core's neuron pass, every spike through the mesh and every input: a generous bound.
        self.patience = 200 * (sum(c.params.neurons + c.params.axons for c in cores) + self.params.inputs) + 2000

        ports = StreamPorts(dut, manifest, seed=seed, patience=self.patience)
        self.inputs = ports.source("inputs", idle)
        self.step_source = ports.source("step", idle)
        self.cfg = ports.source("cfg")
        self.outputs = ports.sink("outputs", stall)
        self.cfg_rsp = ports.sink("cfg_rsp")

    async def start(self):
        start_clock(self._clock)
        await reset(self._clock, self._rst)
        self.outputs.start()
        self.cfg_rsp.start()

    async def command(self, fields):
        """One configuration command; returns the READ's ``data`` (None for a WRITE)."""
        await self.cfg.send([flat_fields(fields)])
        if fields["op"] == "READ":
            return (await self.cfg_rsp.recv(timeout=self.patience))["data"]
        return None

    async def load(self, weights):
        """Reset the neurons and load the network with ``weights``."""
        for fields in rest_commands(self.params) + load_commands(self.params, weights):
            await self.command(fields)

    async def step(self, inputs, what):
        """One timestep; returns the output indices in arrival order."""
        await self.inputs.send({"neuron": int(n)} for n in inputs)
        await self.step_source.send([0])
        await wait_high(self._dut.done, clock=self._clock, timeout=self.patience, what=f"{what}: done")
        return [beat["neuron"] for beat in self.outputs.take_all()]

    async def state(self):
        """``(core, model attribute, index, value)`` of every neuron's stored state and of every learning core's
        weights, traces, fired bits and LFSRs (:func:`~spikeforge.sim.chip.load.learning_reads`)."""
        reads = [({"op": "READ", "unit": "CORE", "node": c.node, "field": NEURON_FIELDS[field], "neuron": n},
                  c.name, field, n) for c in self.params.cores for field in state_names(c.params)
                 for n in range(c.params.neurons)]
        return [(core, attribute, index, await self.command(fields))
                for fields, core, attribute, index in reads + learning_reads(self.params)]


def _setup(dut):
    config = run_config.load()
    manifest = run_config.load_manifest(config)
    driver = ChipDriver(dut, manifest, seed=config.get("seed", 0), idle=config.get("idle", 0.0),
                        stall=config.get("stall", 0.0))
    weights = {name: np.array(w, dtype=np.int64) for name, w in config["weights"].items()}
    return config, driver, weights


@cocotb.test()
async def compare(dut):
    """Every sample on a freshly loaded chip, outputs and state compared with the model after every step."""
    config, driver, weights = _setup(dut)
    await driver.start()
    steps = 0
    for b, sample in enumerate(config["inputs"]):
        await driver.load(weights)
        model = ChipModel(driver.params, weights)
        for t, inputs in enumerate(sample):
            what = f"sample {b} step {t}"
            got, want = sorted(await driver.step(inputs, what)), model.step(inputs)
            if got != want:
                missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
                raise AssertionError(f"{what}: outputs {missing} spiked in the model only, {extra} in the RTL only")
            for core, attribute, index, value in await driver.state():
                expected = int(getattr(model.cores[core], attribute)[index])
                if value != expected:
                    raise AssertionError(f"{what}: core {core} {attribute}[{index}] = {value} in the RTL, "
                                         f"{expected} in the model")
            steps += 1
    Path(config["report"]).write_text(json.dumps({"steps": steps}) + "\n")


@cocotb.test()
async def replay(dut):
    """Run the samples; write every step's outputs and cycles to ``output``."""
    config, driver, weights = _setup(dut)
    await driver.start()
    samples = []
    for sample in config["inputs"]:
        await driver.load(weights)
        steps = []
        for t, inputs in enumerate(sample):
            start = get_sim_time(unit="ns")
            outputs = await driver.step(inputs, f"step {t}")
            cycles = round((get_sim_time(unit="ns") - start) / CLOCK_PERIOD_NS)
            steps.append({"outputs": outputs, "cycles": cycles})
        samples.append(steps)
    Path(config["output"]).write_text(json.dumps({"samples": samples}) + "\n")
