"""Drivers and monitors for Amaranth ``lib.stream`` ports in cocotb, with random idle cycles and backpressure.

An Amaranth stream port ``name`` appears in the generated Verilog as ``name__valid``, ``name__ready`` and
``name__payload``. Payloads are packed and unpacked with a :class:`~spikeforge.sim.harness.layout.Layout` taken
from the build manifest.

Timing discipline: every coroutine here samples handshakes in the ``ReadOnly`` phase before a rising edge (when
``valid``, ``ready`` and the payload have settled) and drives new values right after the edge. Every awaitable
method returns right after a rising edge, so the caller may drive signals as soon as it resumes.

While a handshake cannot happen (``ready`` low for a source, ``valid`` low for a sink) they sleep until that
signal rises instead of waking every cycle, so a bench costs Python time per transfer, not per clock cycle.
"""

from __future__ import annotations

import collections
import random

import cocotb
from cocotb.triggers import Event, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from .clocking import CLOCK_PERIOD_NS, Timeout


__all__ = ["StreamPorts", "StreamSource", "StreamSink"]


async def _within(cycles, waiting, what):
    """Await the coroutine ``waiting``, for at most ``cycles`` clock cycles when given."""
    if cycles is None:
        await waiting
        return
    try:
        await with_timeout(waiting, cycles * CLOCK_PERIOD_NS, "ns")
    except SimTimeoutError:
        raise Timeout(f"{what} within {cycles} cycles") from None


def _check_probability(name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a probability in 0 <= p < 1, not {value!r}")
    return value


class _StreamPort:
    def __init__(self, dut, prefix, *, layout, clock):
        self._prefix = prefix
        self._layout = layout
        self._valid = getattr(dut, f"{prefix}__valid")
        self._ready = getattr(dut, f"{prefix}__ready")
        self._payload = getattr(dut, f"{prefix}__payload")
        self._edge = RisingEdge(clock)
        self._settled = ReadOnly()
        self._ready_rises = RisingEdge(self._ready)
        self._valid_rises = RisingEdge(self._valid)

    @property
    def layout(self):
        return self._layout


class StreamSource(_StreamPort):
    """Drives ``valid`` and ``payload`` of the stream port ``prefix`` of ``dut``.

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    prefix : str
        Name of the stream port, e.g. ``"events"``.
    layout : Layout
        Payload layout of the port.
    clock : cocotb handle
        The clock the port is synchronous to.
    rng : random.Random
        Source of the idle cycles; seed it for a reproducible run.
    idle : float
        Probability that a cycle before a beat is left idle (``valid`` low), giving geometrically distributed
        gaps between beats. 0 sends back to back.
    patience : int, optional
        Clock cycles a beat may wait for ``ready`` before :meth:`send` raises
        :class:`~spikeforge.sim.harness.clocking.Timeout`; unlimited when omitted.

    Attributes
    ----------
    sent : int
        Beats accepted so far.
    """

    def __init__(self, dut, prefix, *, layout, clock, rng, idle=0.0, patience=None):
        super().__init__(dut, prefix, layout=layout, clock=clock)
        self._rng = rng
        self.idle = _check_probability("idle", idle)
        self.patience = patience
        self._valid.value = 0
        self.sent = 0

    async def send(self, payloads, *, idle=None):
        """Send every payload of ``payloads`` in order; return once the last one was accepted.

        A payload is an integer for a plain payload or a mapping ``{field: value}`` for a struct. ``idle``
        overrides the source's idle probability for this call.
        """
        idle = self.idle if idle is None else _check_probability("idle", idle)
        for payload in payloads:
            bits = self._layout.pack(payload)
            while self._rng.random() < idle:
                await self._edge
            self._payload.value = bits
            self._valid.value = 1
            await self._settled
            if not self._ready.value:
                await _within(self.patience, self._accepted(), f"'{self._prefix}': beat {self.sent} was not "
                                                                f"accepted")
            await self._edge
            self._valid.value = 0
            self.sent += 1

    async def _accepted(self):
        while not self._ready.value:
            await self._ready_rises
            await self._settled


class StreamSink(_StreamPort):
    """Takes beats from the stream port ``prefix`` of ``dut`` with random backpressure and records them.

    Call :meth:`start` once the design is out of reset. Beats are kept in arrival order until taken by
    :meth:`recv` or :meth:`take_all`.

    Parameters
    ----------
    dut, prefix, layout, clock, rng
        As for :class:`StreamSource`.
    stall : float
        Probability that ``ready`` is low in a cycle. 0 takes a beat every cycle.

    Attributes
    ----------
    received : int
        Beats taken so far.
    """

    def __init__(self, dut, prefix, *, layout, clock, rng, stall=0.0):
        super().__init__(dut, prefix, layout=layout, clock=clock)
        self._rng = rng
        self.stall = _check_probability("stall", stall)
        self._beats = collections.deque()
        self._arrived = Event()
        self._task = None
        self._ready.value = 0
        self.received = 0

    def start(self):
        """Start taking beats (every cycle until :meth:`stop`)."""
        if self._task is None:
            self._task = cocotb.start_soon(self._run())

    def stop(self):
        """Stop taking beats; ``ready`` stays low."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._ready.value = 0

    async def _run(self):
        ready = self._draw_ready()
        while True:
            await self._settled
            if not self._valid.value:
                # Keep the ready drawn for this cycle and sleep until a beat is offered.
                await self._valid_rises
                continue
            beat = self._layout.unpack(self._payload.value.to_unsigned()) if ready else None
            await self._edge
            if beat is not None:
                self._beats.append(beat)
                self.received += 1
                self._arrived.set()
            ready = self._draw_ready()

    def _draw_ready(self):
        ready = self._rng.random() >= self.stall
        self._ready.value = int(ready)
        return ready

    def __len__(self):
        """Beats recorded and not yet taken."""
        return len(self._beats)

    async def recv(self, *, timeout=None):
        """Wait for the next beat and return it (a value or a ``{field: value}`` dict); raise
        :class:`~spikeforge.sim.harness.clocking.Timeout` when none came within ``timeout`` clock cycles."""
        if not self._beats:
            await _within(timeout, self._arrival(), f"'{self._prefix}': beat {self.received} did not come")
        return self._beats.popleft()

    async def _arrival(self):
        while not self._beats:
            self._arrived.clear()
            await self._arrived.wait()

    def take_all(self):
        """Every recorded beat not yet taken, oldest first."""
        beats = list(self._beats)
        self._beats.clear()
        return beats


class StreamPorts:
    """Makes the sources and sinks of one bench: each port's layout from the build manifest, on the manifest's
    clock, with a random generator of its own derived from ``seed`` (so adding a stream changes no other
    stream's idle cycles or backpressure).

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    manifest : Manifest
        Its build manifest.
    seed : int or str
        Seed of every port's generator.
    patience : int, optional
        The sources' patience (see :class:`StreamSource`).
    """

    def __init__(self, dut, manifest, *, seed, patience=None):
        self._dut = dut
        self._manifest = manifest
        self._seed = seed
        self.clock = getattr(dut, manifest.clock)
        self.patience = patience

    def _rng(self, name):
        return random.Random(f"{self._seed}/{name}")

    def source(self, name, idle=0.0):
        """A :class:`StreamSource` on port ``name``."""
        return StreamSource(self._dut, name, layout=self._manifest.stream_layout(name), clock=self.clock,
                            rng=self._rng(name), idle=idle, patience=self.patience)

    def sink(self, name, stall=0.0):
        """A :class:`StreamSink` on port ``name``."""
        return StreamSink(self._dut, name, layout=self._manifest.stream_layout(name), clock=self.clock,
                          rng=self._rng(name), stall=stall)
