"""cocotb-side driver of one LIF core (:class:`spikeforge.hdl.lif_core.core.LifCore`) in a simulator.

It knows the core only through the build manifest (port layouts and enumerations, and the
parameters and memory map of :func:`spikeforge.hdl.lif_core.manifest.lif_core_manifest`), never through
Amaranth. Every coroutine returns right after a rising edge (see :mod:`spikeforge.sim.harness.streams`).
"""

from __future__ import annotations


import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.sim.harness.clocking import reset, start_clock, wait_high
from spikeforge.sim.harness.streams import StreamPorts
from spikeforge.sim.lif_core.cycles import patience
from spikeforge.sim.lif_core.fields import NEURON_FIELDS


__all__ = ["LifDriver"]


class LifDriver:
    """Drives a LIF core: reset, configuration reads and writes, timesteps of input events.

    Parameters
    ----------
    dut : cocotb handle
        The top level (the exported ``LifCore``).
    manifest : Manifest
        Its build manifest.
    seed : int or str
        Seed of the idle cycles and backpressure (each stream has its own generator derived from it).
    event_idle, cfg_idle : float
        Probability of an idle cycle before each input event, tick and configuration command.
    spike_stall, rsp_stall : float
        Probability that the bench holds ``ready`` low on ``spikes`` and ``cfg_rsp`` in a cycle.

    Attributes
    ----------
    params : LifParams
        The core's parameters, as built.
    neurons, axons, lanes : int
        The core's shape.
    fields : dict
        ``{field name: (width, signed)}`` of the configuration fields this core stores, as built.
    """

    def __init__(self, dut, manifest, *, seed, event_idle=0.3, cfg_idle=0.1, spike_stall=0.3, rsp_stall=0.2):
        self._dut = dut
        parameters = manifest.parameters["lif_core"]
        self.neurons = parameters["neurons"]
        self.axons = parameters["axons"]
        self.lanes = parameters["lanes"]
        self.fields = {name: (field["width"], bool(field["signed"]))
                       for name, field in manifest.memory_map["cfg"]["fields"].items()}
        self._clock = getattr(dut, manifest.clock)
        self._rst = getattr(dut, manifest.reset)

        self.params = LifParams.create(**parameters)
        # Longest wait for any handshake or done pulse: a tick in which every neuron spikes.
        self.patience = patience(self.params)

        self.ports = ports = StreamPorts(dut, manifest, seed=seed, patience=self.patience)
        self.events = ports.source("events", event_idle)
        self.tick = ports.source("tick", event_idle)
        self.cfg = ports.source("cfg", cfg_idle)
        self.spikes = ports.sink("spikes", spike_stall)
        self.cfg_rsp = ports.sink("cfg_rsp", rsp_stall)
        self.axon_field = self.events.layout.field("axon")
        self.neuron_field = self.cfg.layout.field("neuron")
        self.data_field = self.cfg.layout.field("data")

    # --- clock, reset, counters ----------------------------------------------------------------------

    async def start(self):
        """Start the clock, reset the core and start taking spikes and configuration responses.

        Reset clears the core's registers (timestep, counters, pipelines) but not its memories: a bench that
        needs known weights and state writes them (:meth:`load_weights`, :meth:`load_neurons`)."""
        start_clock(self._clock)
        await reset(self._clock, self._rst)
        self.spikes.start()
        self.cfg_rsp.start()

    def _port(self, name):
        return getattr(self._dut, name).value.to_unsigned()

    @property
    def timestep(self):
        """Ticks completed (the ``timestep`` port)."""
        return self._port("timestep")

    @property
    def bad_events(self):
        return self._port("bad_events")

    @property
    def bad_config(self):
        return self._port("bad_config")

    # --- configuration -------------------------------------------------------------------------------

    @staticmethod
    def command(op, field, *, neuron=0, axon=0, data=0):
        """A configuration command payload. ``op`` is ``"READ"`` or ``"WRITE"``; ``field`` a field name
        (``"WEIGHT"``, ``"V"``...) or a raw field code, so that invalid codes can be sent too."""
        return {"op": op, "field": field, "axon": axon, "neuron": neuron, "data": data}

    async def configure(self, commands):
        """Send configuration commands in order; return the responses of the reads, in order."""
        commands = list(commands)
        sending = cocotb.start_soon(self.cfg.send(commands))
        responses = []
        for position, command in enumerate(commands):
            if command["op"] == "READ":
                # The answer comes after every command before it: allow each a few cycles plus its idle ones.
                timeout = self.patience + (position + 1) * (8 + round(8 / (1 - self.cfg.idle)))
                responses.append((await self.cfg_rsp.recv(timeout=timeout))["data"])
        await sending
        return responses

    async def load_weights(self, weights):
        """Write the whole weight matrix (shape (axons, neurons)), zeros included."""
        weights = np.asarray(weights)
        await self.configure(self.command("WRITE", "WEIGHT", axon=a, neuron=n, data=int(weights[a, n]))
                             for a in range(self.axons) for n in range(self.neurons))

    async def read_weights(self):
        values = await self.configure(self.command("READ", "WEIGHT", axon=a, neuron=n)
                                      for a in range(self.axons) for n in range(self.neurons))
        return np.array(values, dtype=np.int64).reshape(self.axons, self.neurons)

    async def load_neurons(self, **arrays):
        """Write per-neuron fields, e.g. ``load_neurons(v=..., threshold=...)``, one value per neuron (model
        naming, :data:`~spikeforge.sim.lif_core.fields.NEURON_FIELDS`)."""
        await self.configure(self.command("WRITE", NEURON_FIELDS[name], neuron=n, data=int(values[n]))
                             for name, values in arrays.items() for n in range(self.neurons))

    async def read_neurons(self, *names):
        """``{name: int64 array of every neuron's value}`` for the per-neuron fields ``names``."""
        values = await self.configure(self.command("READ", NEURON_FIELDS[name], neuron=n)
                                      for name in names for n in range(self.neurons))
        return {name: np.array(values[i * self.neurons:(i + 1) * self.neurons], dtype=np.int64)
                for i, name in enumerate(names)}

    # --- timesteps -----------------------------------------------------------------------------------

    async def send_events(self, axons):
        """Send input events (axon addresses) of the current timestep."""
        await self.events.send({"axon": int(axon)} for axon in axons)

    async def end_step(self, what="tick"):
        """Send a tick, wait for ``done`` and return the neurons that spiked, in the order they came."""
        await self.tick.send([0])
        await wait_high(self._dut.done, clock=self._clock, timeout=self.patience, what=f"{what}: done")
        return [beat["neuron"] for beat in self.spikes.take_all()]

    async def step(self, axons, what="tick"):
        """One timestep: the events of ``axons``, then a tick; returns the spiking neurons in order."""
        await self.send_events(axons)
        return await self.end_step(what)

    async def idle(self, cycles):
        """Let ``cycles`` clock cycles pass."""
        await ClockCycles(self._clock, cycles)
