"""cocotb bench of the attention unit (:class:`spikeforge.hdl.attention.unit.AttentionUnit`).

Two tests, each reading its run configuration (:mod:`spikeforge.sim.harness.run_config`):

- ``compare``: random Q, K, V (``stimulus``, ``seed``, ``calls``, ``density``, see
  :mod:`spikeforge.sim.attention.stimulus`) with random idle cycles on the input and
  backpressure on the output; every output row is checked against the golden model, and the first difference
  is reported as "call c, timestep t, token n: channel j spiked in the model but not in the RTL".
- ``replay``: the packed rows ``q``, ``k``, ``v`` of each of the configuration's ``runs`` go through the unit,
  one run after another (a unit is back in its first state after a whole call); each run's output rows and
  cycles are written to ``output`` as JSON (the ``simulate`` command and the benchmarks use it).

The bench knows the unit only through the build manifest and the parameters (pure Python), never Amaranth.
"""

from __future__ import annotations

import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, with_timeout
from cocotb.utils import get_sim_time

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.sim.attention.model import run_model
from spikeforge.sim.attention.rows import pack_rows, unpack_rows
from spikeforge.sim.attention.stimulus import STIMULI
from spikeforge.sim.harness import run_config
from spikeforge.sim.harness.clocking import CLOCK_PERIOD_NS, reset, start_clock
from spikeforge.sim.harness.scoreboard import Scoreboard
from spikeforge.sim.harness.streams import StreamPorts


def _row_cycles(params):
    """Cycles the unit may spend on one row without a stall: a generous bound for the timeouts."""
    p = params
    per_row = p.channels // p.lanes * (p.head_channels if p.variant == "v2" else 1)
    return 2 * per_row + p.channels + 64


class AttentionDriver:
    """Streams token rows into the unit and collects the output rows.

    Parameters
    ----------
    dut : cocotb handle
    manifest : Manifest
    params : AttentionParams
    seed : int
        Seed of the idle cycles and the backpressure.
    idle : float
        Probability of an idle cycle before an input row.
    stall : float
        Probability that ``o.ready`` is low in a cycle.
    """

    def __init__(self, dut, manifest, params, *, seed, idle=0.0, stall=0.0):
        self.params = params
        self._clock = getattr(dut, manifest.clock)
        self._rst = getattr(dut, manifest.reset)
        ports = StreamPorts(dut, manifest, seed=seed)
        self.qkv = ports.source("qkv", idle)
        self.o = ports.sink("o", stall)
        self._stall = stall

    async def start(self):
        start_clock(self._clock)
        await reset(self._clock, self._rst)
        self.o.start()

    async def run(self, q, k, v):
        """Send rows of (steps, tokens, channels) arrays; return (output rows as an array of the same shape,
        cycles from the first row offered to the last row taken, and to the last row of each call)."""
        p = self.params
        steps = q.shape[0]
        beats = [{"q": a, "k": b, "v": c} for a, b, c in zip(pack_rows(q), pack_rows(k), pack_rows(v))]
        start = get_sim_time(unit="ns")
        sender = cocotb.start_soon(self.qkv.send(beats))
        # A timestep's first output row needs all of its input rows; later rows follow within a few cycles.
        patience = (p.tokens + 1) * _row_cycles(p) / (1.0 - self._stall)
        rows, call_ends = [], []
        for index in range(steps * p.tokens):
            try:
                beat = await with_timeout(self.o.recv(), int(patience * CLOCK_PERIOD_NS), "ns")
            except TimeoutError:
                t, n = divmod(index, p.tokens)
                raise AssertionError(f"no output row for timestep {t}, token {n} after {int(patience)} cycles "
                                     f"({self.qkv.sent} of {len(beats)} input rows accepted)") from None
            rows.append(beat["o"])
            if (index + 1) % (p.timesteps * p.tokens) == 0:
                call_ends.append(round((get_sim_time(unit="ns") - start) / CLOCK_PERIOD_NS))
        cycles = round((get_sim_time(unit="ns") - start) / CLOCK_PERIOD_NS)
        await sender
        for _ in range(4):
            await RisingEdge(self._clock)
        if len(self.o):
            raise AssertionError(f"{len(self.o)} output rows more than the {steps * p.tokens} expected")
        return unpack_rows(rows, p.channels).reshape(q.shape), cycles, call_ends


def _setup(dut):
    config = run_config.load()
    manifest = run_config.load_manifest(config)
    params = AttentionParams.create(**config["params"])
    return config, manifest, params


@cocotb.test()
async def compare(dut):
    """Random rows with idle cycles and backpressure, checked row by row against the golden model."""
    config, manifest, params = _setup(dut)
    p = params
    rng = np.random.default_rng(config["seed"])
    stimulus = STIMULI[config.get("stimulus", "random")]
    q, k, v = stimulus(p, rng, calls=config["calls"], density=tuple(config["density"]))
    expected = run_model(p, q, k, v)
    driver = AttentionDriver(dut, manifest, p, seed=config["seed"], idle=config["idle"], stall=config["stall"])
    await driver.start()
    actual, cycles, _ = await driver.run(q, k, v)

    board = Scoreboard()
    board.channel("spikes", lambda item: f"channel {item} spiked")
    for step in range(q.shape[0]):
        call, t = divmod(step, p.timesteps)
        for n in range(p.tokens):
            board.expect("spikes", np.flatnonzero(expected[step, n]).tolist())
            board.observe("spikes", np.flatnonzero(actual[step, n]).tolist())
            board.check("spikes", f"call {call}, timestep {t}, token {n}")
    board.finish()
    dut._log.info(f"{q.shape[0] * p.tokens} rows equal to the model in {cycles} cycles; "
                  f"output density {expected.mean():.3f}")


@cocotb.test()
async def replay(dut):
    """Send the rows of each of the configuration's ``runs`` (packed ``q``, ``k``, ``v``), one run after the
    other's last output row; write each run's output rows and cycles to ``output`` as JSON."""
    config, manifest, params = _setup(dut)
    p = params
    shape = (-1, p.tokens, p.channels)
    driver = AttentionDriver(dut, manifest, p, seed=config.get("seed", 0), idle=config.get("idle", 0.0),
                             stall=config.get("stall", 0.0))
    await driver.start()
    results = []
    for run in config["runs"]:
        q, k, v = (unpack_rows(run[name], p.channels).reshape(shape) for name in ("q", "k", "v"))
        o, cycles, call_ends = await driver.run(q, k, v)
        results.append({"o": pack_rows(o), "cycles": cycles, "call_ends": call_ends})
    Path(config["output"]).write_text(json.dumps({"runs": results}) + "\n")
