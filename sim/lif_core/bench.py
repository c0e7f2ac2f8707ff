"""cocotb tests of the LIF core's RTL against the golden model :class:`spikeforge.sim.lif_core.model.LifModel`.

Run them through :func:`spikeforge.sim.harness.runner.run` on a build from
:func:`spikeforge.sim.lif_core.rtl.build_core`. The run configuration holds:

- ``"params"``: the model's parameters (``LifParams.create(**params)``); normally those the RTL was built from,
  a different set makes the bench fail on purpose;
- ``"seed"`` (default 0) and ``"steps"`` (default 30) of the random test;
- optionally ``"event_idle"``, ``"cfg_idle"``, ``"spike_stall"``, ``"rsp_stall"`` (see :class:`LifDriver`) and
  ``"report"``, a path where each test writes how much it compared.

Every test drives the same stimulus into the RTL and the model and compares every spike (timestep, neuron) and,
after every tick, every neuron's v, u (cuba) and refractory counter, plus the timestep and bad-event and
bad-command counters. The first difference fails the test with one plain sentence (see
:class:`~spikeforge.sim.harness.scoreboard.Scoreboard`).

The tests: ``check_random`` (random weights, events, idle cycles, backpressure and run-time configuration),
``check_saturation``, ``check_refractory``, ``check_reconfiguration``, ``check_bad_events``,
``check_bad_config`` (directed), and ``replay``, which only records a given stimulus's response for
:func:`spikeforge.sim.lif_core.rtl.simulate_rtl`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.sim.harness import run_config
from spikeforge.sim.harness.clocking import CLOCK_PERIOD_NS
from spikeforge.sim.harness.layout import Field
from spikeforge.sim.harness.scoreboard import Mismatch, Scoreboard
from spikeforge.sim.lif_core.driver import LifDriver
from spikeforge.sim.lif_core.events import events_by_step
from spikeforge.sim.lif_core.fields import NEURON_FIELDS, state_names
from spikeforge.sim.lif_core.model import LifModel


__all__ = ["LifBench", "expected_fields"]


_DRIVER_OPTIONS = ("event_idle", "cfg_idle", "spike_stall", "rsp_stall")
_FIELD_ATTRIBUTES = {field: name for name, field in NEURON_FIELDS.items()}


def expected_fields(params, stdp=None):
    """``{field name: (width, signed)}`` of the configuration fields a core of ``params`` must store: the weights
    and the neuron record (:meth:`LifParams.neuron_fields`, with the learning engine ``stdp``'s fields of it).
    The bench checks the built core against it; tests/test_params.py holds the record against the
    specification."""
    fields = {"WEIGHT": (params.weight_bits, True)}
    fields.update((NEURON_FIELDS[name], shape) for name, shape in params.neuron_fields(stdp).items())
    return fields


class LifBench:
    """The RTL (through :class:`LifDriver`) and the golden model, fed the same stimulus and compared.

    Parameters
    ----------
    dut : cocotb handle
    config : dict
        The run configuration (see the module documentation).
    test : str
        Name of the test; it selects this test's random streams, so tests do not depend on each other.
    """

    def __init__(self, dut, config, test):
        self.config = config
        self.test = test
        self.params = p = LifParams.create(**config["params"])
        self.seed = int(config.get("seed", 0))
        self.rng = random.Random(f"{self.seed}/{test}/stimulus")
        manifest = run_config.load_manifest(config)
        options = {name: config[name] for name in self.driver_options if name in config}
        self.driver = self.driver_class(dut, manifest, seed=f"{self.seed}/{test}", **options)
        built = LifParams.create(**manifest.parameters["lif_core"])
        if (built.neurons, built.axons, built.lanes) != (p.neurons, p.axons, p.lanes):
            raise ValueError(f"The model has {p.neurons} neurons, {p.axons} axons and {p.lanes} lanes but the RTL "
                             f"was built with {built.neurons}, {built.axons} and {built.lanes}")
        self.model = self.new_model()
        self.fields = self.spec_fields()
        self.board = Scoreboard()
        self.board.channel("spikes", lambda spike: f"neuron {spike[1]} spiked")
        self.board.channel("configuration responses", lambda data: f"a configuration response ({data})")
        self.bad_config = 0
        cfg = self.driver.cfg.layout
        # Configuration fields this core does not store, and field codes that name no field at all.
        self.absent_fields = [name for name in cfg.enum_members("field") if name not in self.fields]
        self.unused_field_codes = [code for code in range(1 << cfg.field("field").width)
                                   if cfg.enum_name("field", code) is None]

    # What a bench of a variant of the core (the STDP engine's) replaces.
    driver_class = LifDriver
    driver_options = _DRIVER_OPTIONS

    def new_model(self):
        """The golden model of ``self.params``, in its initial state."""
        return LifModel(self.params)

    def spec_fields(self):
        """``{field name: (width, signed)}`` of the configuration fields the core must store."""
        return expected_fields(self.params)

    # --- setup ---------------------------------------------------------------------------------------

    async def start(self, weights=None, **neurons):
        """Reset the core, then load ``weights`` and every per-neuron field (those given in ``neurons``, the
        model's initial values for the rest) into both the RTL and the model."""
        self.check_fields()
        await self.driver.start()
        if weights is not None:
            self.model.load_weights(weights)
        for name, values in neurons.items():
            getattr(self.model, name)[:] = values
        await self.driver.load_weights(self.model.weights)
        await self.driver.load_neurons(**{name: getattr(self.model, name) for name in self.params.neuron_fields()})
        await self.check_state("after loading the configuration")

    def check_fields(self):
        """The configuration fields the RTL was built with must be those the model's parameters call for."""
        def words(spec):
            return "absent" if spec is None else f"{spec[0]} bits {'signed' if spec[1] else 'unsigned'}"

        for name in sorted(set(self.fields) | set(self.driver.fields)):
            want, got = self.fields.get(name), self.driver.fields.get(name)
            if want != got:
                raise Mismatch(f"configuration field {name}: {words(got)} in the RTL, {words(want)} in the model")

    # --- stimulus helpers ----------------------------------------------------------------------------

    def random_weights(self, density=0.7):
        """Random weights, skewed positive so that neurons fire."""
        lo, hi = self.params.weight_range
        return np.array([[self.rng.randint(lo // 2, hi) if self.rng.random() < density else 0
                          for _ in range(self.params.neurons)] for _ in range(self.params.axons)], dtype=np.int64)

    def random_threshold(self):
        _, hi = self.params.v_range
        return self.rng.randint(1, max(1, min(hi, 3 * self.params.weight_range[1])))

    def random_bias(self):
        w_hi = self.params.weight_range[1]
        return self.rng.randint(-(w_hi // 8), w_hi // 4)

    def per_neuron_params(self):
        """Random per-neuron thresholds and biases for the fields this configuration stores per neuron."""
        values = {}
        if self.params.per_neuron_threshold:
            values["threshold"] = [self.random_threshold() for _ in range(self.params.neurons)]
        if self.params.per_neuron_bias:
            values["bias"] = [self.random_bias() for _ in range(self.params.neurons)]
        return values

    def random_axons(self, *, bad=0.0):
        """The events of one random timestep; with probability ``bad`` each one is an out-of-range axon."""
        count = 0 if self.rng.random() < 0.1 else self.rng.randint(1, self.params.axons)
        bad_axons = self.bad_axons()
        axons = []
        for _ in range(count):
            if bad_axons and self.rng.random() < bad:
                axons.append(self.rng.choice(bad_axons))
            else:
                axons.append(self.rng.randrange(self.params.axons))
        return axons

    def bad_axons(self):
        """Axon addresses that fit the event payload but are out of range."""
        return list(range(self.params.axons, self.driver.axon_field.range[1] + 1))

    def random_value(self, field):
        """A random valid value of configuration field ``field``."""
        p = self.params
        if field == "WEIGHT":
            lo, hi = p.weight_range
        elif field == "V":
            lo, hi = p.v_range
        elif field == "U":
            lo, hi = p.u_range
        elif field == "ACC":
            lo, hi = p.acc_range
        elif field == "THRESHOLD":
            return self.random_threshold()
        elif field == "BIAS":
            return self.random_bias()
        else:
            lo, hi = Field(0, *self.fields[field]).range
        return self.rng.randint(lo, hi)

    def random_command(self):
        """A random configuration command: mostly valid writes and reads, now and then an invalid one."""
        invalid = self.absent_fields + self.unused_field_codes
        if invalid and self.rng.random() < 0.05:
            return ("READ" if self.rng.random() < 0.5 else "WRITE", self.rng.choice(invalid), 0, 0, 0)
        field = self.rng.choice(sorted(self.fields))
        neuron = self.rng.randrange(self.params.neurons)
        axon = self.rng.randrange(self.params.axons) if field == "WEIGHT" else 0
        if self.rng.random() < 0.3:
            return ("READ", field, neuron, axon, 0)
        return ("WRITE", field, neuron, axon, self.random_value(field))

    # --- configuration -------------------------------------------------------------------------------

    def _field_name(self, field):
        if isinstance(field, str):
            return field
        return self.driver.cfg.layout.enum_name("field", field)

    def command_valid(self, op, field, neuron, axon, data):
        """Whether the core must accept a command, by the specification: the field is stored, the addresses
        are in range and a written value fits the field."""
        spec = self.fields.get(self._field_name(field))
        if spec is None or not 0 <= neuron < self.params.neurons:
            return False
        if self._field_name(field) == "WEIGHT" and not 0 <= axon < self.params.axons:
            return False
        return op == "READ" or Field(0, *spec).fits(data)

    def _model_value(self, field, neuron, axon):
        if field == "WEIGHT":
            return int(self.model.weights[axon, neuron])
        return int(getattr(self.model, _FIELD_ATTRIBUTES[field])[neuron])

    def _model_write(self, field, neuron, axon, data):
        if field == "WEIGHT":
            self.model.weights[axon, neuron] = data
        else:
            getattr(self.model, _FIELD_ATTRIBUTES[field])[neuron] = data

    @staticmethod
    def describe(op, field, neuron, axon, data):
        """A command in words: "WRITE V of neuron 3 = 5"."""
        where = f"axon {axon} neuron {neuron}" if field == "WEIGHT" or not isinstance(field, str) else \
            f"neuron {neuron}"
        value = f" = {data}" if op == "WRITE" else ""
        name = field if isinstance(field, str) else f"field code {field}"
        return f"{op} {name} of {where}{value}"

    async def configure(self, commands, context):
        """Send configuration commands (tuples ``(op, field, neuron, axon, data)``) to the RTL, apply the valid
        writes to the model, and compare every read response and the bad-command counter.

        A write has no response, so when the last command is a write a read of neuron 0's v follows it: the
        core handles one command at a time, so its answer means every command before it took effect."""
        commands = list(commands)
        if commands and commands[-1][0] == "WRITE":
            commands.append(("READ", "V", 0, 0, 0))
        expected_reads = []
        for op, field, neuron, axon, data in commands:
            valid = self.command_valid(op, field, neuron, axon, data)
            if not valid:
                self.bad_config += 1
            name = self._field_name(field)
            if op == "READ":
                expected_reads.append(self._model_value(name, neuron, axon) if valid else 0)
            elif valid:
                self._model_write(name, neuron, axon, data)
        responses = await self.driver.configure(self.driver.command(op, field, neuron=neuron, axon=axon, data=data)
                                                for op, field, neuron, axon, data in commands)
        reads = [command for command in commands if command[0] == "READ"]
        for command, want, got in zip(reads, expected_reads, responses):
            self.board.compare(context, f"the answer to {self.describe(*command)}", want, got)
        self.board.compare(context, "bad_config", self.bad_config, self.driver.bad_config)

    # --- timesteps -----------------------------------------------------------------------------------

    async def step(self, axons, *, check_acc=False):
        """One timestep of input events ``axons`` in both; compares the spikes and then the state."""
        t = self.model.timestep
        for axon in axons:
            self.model.event(axon)
        await self.driver.send_events(axons)
        if check_acc:
            acc = (await self.driver.read_neurons("acc"))["acc"]
            self.board.compare_all(f"step {t}, before the tick", lambda n: f"neuron {n} acc", self.model.acc, acc)
        expected = self.model.tick()
        fired = await self.driver.end_step(f"step {t}")
        self.board.expect("spikes", [(t, int(n)) for n in expected])
        self.board.observe("spikes", [(t, n) for n in fired])
        self.board.check("spikes", f"step {t}")
        await self.check_state(f"after tick {t}")

    async def check_state(self, context):
        """Read every neuron's dynamic state (that its parameters call for) back and compare it, and the counters,
        with the model."""
        state = await self.driver.read_neurons(*state_names(self.params))
        for name, values in state.items():
            self.board.compare_all(context, lambda n, name=name: f"neuron {n} {name}", getattr(self.model, name),
                                   values)
        self.check_counters(context)

    def check_counters(self, context):
        self.board.compare(context, "timestep", self.model.timestep, self.driver.timestep)
        self.board.compare(context, "bad_events", self.model.bad_events, self.driver.bad_events)
        self.board.compare(context, "bad_config", self.bad_config, self.driver.bad_config)

    async def finish(self):
        """Wait a little, then make sure no spike or configuration response is left over, and report."""
        await self.driver.idle(32)
        t = self.model.timestep
        self.board.observe("spikes", [(t, beat["neuron"]) for beat in self.driver.spikes.take_all()])
        self.board.observe("configuration responses", [beat["data"] for beat in self.driver.cfg_rsp.take_all()])
        self.board.finish(f"after the last step ({t} steps)")
        self.check_counters(f"after the last step ({t} steps)")
        report = self.config.get("report")
        if report:
            path = Path(report)
            summary = json.loads(path.read_text()) if path.exists() else {}
            summary[self.test] = {"steps": t, "spikes": self.board.items_checked,
                                  "values": self.board.values_checked}
            path.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
        cocotb.log.info("%s: %d steps, %d spikes and %d values matched the model", self.test, t,
                        self.board.items_checked, self.board.values_checked)


# --- randomized comparison ---------------------------------------------------------------------------------

@cocotb.test()
async def check_random(dut):
    """Random weights, per-neuron parameters, events (a few out of range), idle cycles, backpressure and
    run-time configuration commands, for ``steps`` timesteps."""
    bench = LifBench(dut, run_config.load(), "random")
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    for _ in range(int(bench.config.get("steps", 30))):
        if bench.rng.random() < 0.2:
            commands = [bench.random_command() for _ in range(bench.rng.randint(1, 4))]
            await bench.configure(commands, f"before step {bench.model.timestep}")
        await bench.step(bench.random_axons(bad=0.05), check_acc=bench.rng.random() < 0.2)
    await bench.finish()


# --- directed tests ----------------------------------------------------------------------------------------

@cocotb.test()
async def check_saturation(dut):
    """Accumulator, current and voltage pushed past both ends of their ranges (saturating or wrapping):
    state primed next to the limits through the configuration port, then maximal weights."""
    bench = LifBench(dut, run_config.load(), "saturation")
    p = bench.params
    w_lo, w_hi = p.weight_range
    weights = np.array([[w_hi if a % 2 == 0 else w_lo for _ in range(p.neurons)] for a in range(p.axons)])
    await bench.start(weights, **bench.per_neuron_params())
    positive = [a for a in range(p.axons) if a % 2 == 0]
    negative = [a for a in range(p.axons) if a % 2 == 1] or positive
    limits = {"ACC": p.acc_range, "V": p.v_range, "U": p.u_range}

    def near(field, top):
        lo, hi = limits[field]
        margin = bench.rng.randint(0, min(4 * w_hi, (hi - lo) // 4))
        return hi - margin if top else lo + margin

    async def prime(top):
        """Every neuron's acc, v and u next to the top (True), the bottom (False) or a random end (None)."""
        commands = [("WRITE", field, n, 0, near(field, bench.rng.random() < 0.5 if top is None else top))
                    for field in limits if field in bench.fields for n in range(p.neurons)]
        commands += [("WRITE", "REFRACTORY", n, 0, 0) for n in range(p.neurons) if "REFRACTORY" in bench.fields]
        await bench.configure(commands, f"priming before step {bench.model.timestep}")

    for top, axons in ((True, positive), (False, negative)):
        for repeat in range(1, 3):
            await prime(top)
            await bench.step(axons * repeat, check_acc=True)
    for _ in range(2):
        await prime(None)
        await bench.step(bench.random_axons(), check_acc=True)
        await bench.step(positive * 3, check_acc=True)
    await bench.finish()


@cocotb.test()
async def check_refractory(dut):
    """Strong input makes every neuron fire as often as it may; refractory counters count down (also when
    written through the configuration port) and hold v."""
    bench = LifBench(dut, run_config.load(), "refractory")
    p = bench.params
    _, w_hi = p.weight_range
    weights = np.full((p.axons, p.neurons), w_hi)
    neurons = {}
    if p.per_neuron_threshold:
        neurons["threshold"] = [bench.rng.randint(1, max(1, w_hi // 2)) for _ in range(p.neurons)]
    if p.per_neuron_bias:
        neurons["bias"] = [0] * p.neurons
    await bench.start(weights, **neurons)
    drive = list(range(min(p.axons, 3)))
    steps = min(2 * (p.refractory + 2), 16)
    for _ in range(steps):
        await bench.step(drive)
    if "REFRACTORY" in bench.fields:
        top = Field(0, *bench.fields["REFRACTORY"]).range[1]
        await bench.configure([("WRITE", "REFRACTORY", 0, 0, top), ("WRITE", "REFRACTORY", p.neurons - 1, 0, 1)],
                              f"before step {bench.model.timestep}")
    for _ in range(steps):
        await bench.step(drive)
    for _ in range(min(p.refractory + 2, 8)):
        await bench.step([])
    await bench.finish()


@cocotb.test()
async def check_reconfiguration(dut):
    """Weights, thresholds, biases and state changed between timesteps, and the whole weight matrix replaced
    and read back, with the core keeping on running."""
    bench = LifBench(dut, run_config.load(), "reconfiguration")
    p = bench.params
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    for _ in range(3):
        await bench.step(bench.random_axons())
    # A few weights, read back.
    cells = [(bench.rng.randrange(p.axons), bench.rng.randrange(p.neurons)) for _ in range(8)]
    commands = [("WRITE", "WEIGHT", n, a, bench.random_value("WEIGHT")) for a, n in cells]
    commands += [("READ", "WEIGHT", n, a, 0) for a, n in cells]
    await bench.configure(commands, f"new weights before step {bench.model.timestep}")
    # Thresholds and biases: per-neuron ones change; global ones cannot be written (counted as bad commands).
    commands = [("WRITE", field, n, 0, bench.random_value(field)) for field in ("THRESHOLD", "BIAS")
                if field in bench.fields for n in range(p.neurons)]
    commands += [("WRITE", field, 0, 0, 1) for field in ("THRESHOLD", "BIAS") if field not in bench.fields]
    await bench.configure(commands, f"new thresholds and biases before step {bench.model.timestep}")
    for _ in range(3):
        await bench.step(bench.random_axons())
    # The whole weight matrix, then read back; voltages put just around the thresholds.
    weights = bench.random_weights(density=0.5)
    await bench.configure([("WRITE", "WEIGHT", n, a, int(weights[a, n]))
                           for a in range(p.axons) for n in range(p.neurons)], "replacing every weight")
    readback = await bench.driver.read_weights()
    for a in range(p.axons):
        bench.board.compare_all("reading the new weights back", lambda n, a=a: f"weight of axon {a} neuron {n}",
                                weights[a], readback[a])
    v_lo, v_hi = p.v_range
    commands = [("WRITE", "V", n, 0, max(v_lo, min(v_hi, int(bench.model.threshold[n]) + bench.rng.randint(-2, 1))))
                for n in range(p.neurons)]
    await bench.configure(commands, f"voltages around the thresholds before step {bench.model.timestep}")
    for _ in range(3):
        await bench.step(bench.random_axons())
    await bench.finish()


@cocotb.test()
async def check_bad_events(dut):
    """Events with out-of-range axon addresses are counted in bad_events and change no accumulator."""
    bench = LifBench(dut, run_config.load(), "bad_events")
    p = bench.params
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    bad = bench.bad_axons()
    if not bad:
        cocotb.log.info("every axon address of a %d-axon core is in range: only good events", p.axons)
    for _ in range(4):
        axons = [bench.rng.randrange(p.axons) for _ in range(3)] + bench.rng.sample(bad, min(len(bad), 3))
        bench.rng.shuffle(axons)
        await bench.step(axons, check_acc=True)
    # Only bad events in a step: nothing moves but the leak and the bias.
    await bench.step(bad[:4], check_acc=True)
    await bench.finish()


@cocotb.test()
async def check_bad_config(dut):
    """Configuration commands for absent fields, out-of-range addresses and values that do not fit are counted
    in bad_config, answered with 0 when they read, and change nothing; good commands still work after them."""
    bench = LifBench(dut, run_config.load(), "bad_config")
    p = bench.params
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    neuron_top = bench.driver.neuron_field.range[1]
    axon_top = bench.driver.axon_field.range[1]
    data_lo, data_hi = bench.driver.data_field.range
    bad = []
    for field in bench.absent_fields + bench.unused_field_codes[-1:]:
        bad += [("READ", field, 0, 0, 0), ("WRITE", field, 0, 0, 1)]
    if neuron_top >= p.neurons:
        bad += [("READ", "V", neuron_top, 0, 0), ("WRITE", "V", p.neurons, 0, 1),
                ("WRITE", "WEIGHT", p.neurons, 0, 1), ("READ", "WEIGHT", neuron_top, 0, 0)]
    if axon_top >= p.axons:
        bad += [("WRITE", "WEIGHT", 0, p.axons, 1), ("READ", "WEIGHT", 0, axon_top, 0)]
    for field, (width, is_signed) in sorted(bench.fields.items()):
        lo, hi = Field(0, width, is_signed).range
        for value in (hi + 1, lo - 1):
            if data_lo <= value <= data_hi:
                bad.append(("WRITE", field, 1 % p.neurons, 0, value))
    for command in bad:
        if bench.command_valid(*command):
            raise AssertionError(f"bench error: {LifBench.describe(*command)} is a valid command")
        neuron = bench.rng.randrange(p.neurons)
        good = [("WRITE", "V", neuron, 0, bench.random_value("V")), ("READ", "V", neuron, 0, 0)]
        await bench.configure([command], f"after {LifBench.describe(*command)}")
        await bench.configure(good, f"after good commands following {LifBench.describe(*command)}")
    # Nothing changed: the weights and the state read back as the model has them, and the core still runs.
    readback = await bench.driver.read_weights()
    for a in range(p.axons):
        bench.board.compare_all("after the bad commands", lambda n, a=a: f"weight of axon {a} neuron {n}",
                                bench.model.weights[a], readback[a])
    await bench.check_state("after the bad commands")
    for _ in range(3):
        await bench.step(bench.random_axons())
    await bench.finish()


# --- replay for simulate_rtl -------------------------------------------------------------------------------

@cocotb.test()
async def replay(dut):
    """Run the run configuration's ``weights`` and ``events`` for ``steps`` timesteps and write the spikes, the
    clock cycles of each step (first event offered to ``done``) and, with ``dump_state``, v and u after every
    tick to ``output``. Compares nothing."""
    config = run_config.load()
    driver = LifDriver(dut, run_config.load_manifest(config), seed=0, event_idle=0.0, cfg_idle=0.0,
                       spike_stall=0.0, rsp_stall=0.0)
    await driver.start()
    await driver.load_weights(np.array(config["weights"], dtype=np.int64).reshape(driver.axons, driver.neurons))
    zeros = np.zeros(driver.neurons, dtype=np.int64)
    await driver.load_neurons(**{name: zeros for name in driver.params.neuron_fields()})
    steps = int(config["steps"])
    by_step = events_by_step(config["events"], steps)
    names = (["v", "u"] if driver.params.has_current else ["v"]) if config.get("dump_state") else []
    spikes, state, cycles = [], {name: [] for name in names}, []
    for t in range(steps):
        start = get_sim_time(unit="ns")
        spikes += [[t, n] for n in await driver.step(by_step[t], f"step {t}")]
        cycles.append(round((get_sim_time(unit="ns") - start) / CLOCK_PERIOD_NS))
        if names:
            for name, values in (await driver.read_neurons(*names)).items():
                state[name].append(values.tolist())
    Path(config["output"]).write_text(json.dumps({"spikes": spikes, "state": state, "cycles": cycles}) + "\n")
