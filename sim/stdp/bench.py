"""cocotb tests of the STDP learning engine's RTL against its golden model, :class:`StdpModel`.

Run them through :func:`spikeforge.sim.harness.runner.run` on a build from
:func:`spikeforge.sim.stdp.rtl.build_core`. The run configuration holds what the LIF core's bench
(:mod:`spikeforge.sim.lif_core.bench`) takes, plus ``"stdp"``, the engine's parameters
(``StdpParams.create(params, **stdp)``), and optionally ``"reward_idle"`` (see
:class:`~spikeforge.sim.stdp.driver.StdpDriver`).

Every test drives the same stimulus into the RTL and the model and compares every spike and, after every tick,
every weight, presynaptic trace, postsynaptic trace and (reward-modulated engines) eligibility, besides the
neuron state and counters the LIF bench compares. The first difference fails the test with one plain sentence,
e.g. "after tick 4: weight of axon 2 neuron 5 = 17 in the RTL, 18 in the model".

The tests: ``check_random`` (random weights, events, rewards, idle cycles, backpressure, run-time switching of
learning globally and per neuron, random configuration commands), ``check_switching``, ``check_clipping``,
``check_reward``, ``check_learning_config`` (directed), and ``replay``, which only records a given stimulus's
response for :func:`spikeforge.sim.stdp.rtl.simulate_rtl`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.harness import run_config
from spikeforge.sim.harness.clocking import CLOCK_PERIOD_NS
from spikeforge.sim.harness.layout import Field
from spikeforge.sim.harness.scoreboard import Mismatch
from spikeforge.sim.lif_core.bench import LifBench, expected_fields
from spikeforge.sim.lif_core.events import events_by_step
from spikeforge.sim.stdp.driver import StdpDriver
from spikeforge.sim.stdp.model import StdpModel


__all__ = ["Reward", "StdpBench", "expected_stdp_fields"]


# The addresses a configuration field uses; the fields not named here use the neuron only.
_ADDRESSES = {"WEIGHT": ("axon", "neuron"), "ELIGIBILITY": ("axon", "neuron"), "X_TRACE": ("axon",),
              "FIRED": ("axon",), "LEARNING": ()}


def _addresses(field):
    return _ADDRESSES.get(field, ("neuron",))


def expected_stdp_fields(params, stdp):
    """``{field name: (width, signed)}`` of the configuration fields a learning core must store: those of
    :func:`~spikeforge.sim.lif_core.bench.expected_fields` (the record holds the postsynaptic trace and the
    plastic bit) and the engine's presynaptic traces, fired bits, learning switch, eligibilities and LFSRs
    (docs/stdp.md)."""
    fields = expected_fields(params, stdp)
    fields.update({"X_TRACE": (stdp.trace_bits, False), "FIRED": (1, False), "LEARNING": (1, False)})
    if stdp.reward:
        fields["ELIGIBILITY"] = (stdp.eligibility_bits, True)
    if stdp.has_lfsr:
        fields["LFSR"] = (16, False)
    return fields


@dataclasses.dataclass(frozen=True)
class Reward:
    """A reward command among the input events of a step."""
    value: int


class StdpBench(LifBench):
    """The learning core's RTL (through :class:`StdpDriver`) and :class:`StdpModel`, fed the same stimulus and
    compared; parameters as for :class:`LifBench`."""

    driver_class = StdpDriver
    driver_options = LifBench.driver_options + ("reward_idle",)

    def __init__(self, dut, config, test):
        self.stdp = StdpParams.create(LifParams.create(**config["params"]), **config["stdp"])
        super().__init__(dut, config, test)
        self.changes = 0

    def new_model(self):
        return StdpModel(self.params, self.stdp)

    def spec_fields(self):
        return expected_stdp_fields(self.params, self.stdp)

    # --- stimulus helpers ----------------------------------------------------------------------------

    def random_weights(self, density=0.8):
        """Random weights, mostly inside [w_min, w_max] and skewed positive so that neurons fire; a few just
        outside (clipped by the first update that touches them)."""
        lo, hi = self.params.weight_range
        w_min, w_max = self.stdp.w_min, self.stdp.w_max
        low, high = max(lo, w_min - 2), min(hi, w_max + 2)
        start = max(low, (low + high) // 3)
        return np.array([[self.rng.randint(start, high) if self.rng.random() < density else
                          self.rng.randint(low, high) for _ in range(self.params.neurons)]
                         for _ in range(self.params.axons)], dtype=np.int64)

    def random_reward(self):
        lo, hi = self.stdp.reward_range
        return Reward(self.rng.randint(lo, hi))

    def random_inputs(self, *, bad=0.0):
        """The events of one random step (see :meth:`LifBench.random_axons`), with reward commands mixed in
        when the engine takes them."""
        inputs = self.random_axons(bad=bad)
        if self.stdp.reward:
            for _ in range(self.rng.choice((0, 0, 1, 1, 2))):
                inputs.insert(self.rng.randint(0, len(inputs)), self.random_reward())
        return inputs

    def random_command(self):
        command = super().random_command()
        op, field, neuron, axon, data = command
        if isinstance(field, str) and "axon" in _addresses(field):
            axon = self.rng.randrange(self.params.axons)
        return op, field, neuron, axon, data

    # --- configuration: the learning engine's fields -------------------------------------------------

    def command_valid(self, op, field, neuron, axon, data):
        name = self._field_name(field)
        spec = self.fields.get(name)
        if spec is None:
            return False
        if "neuron" in _addresses(name) and not 0 <= neuron < self.params.neurons:
            return False
        if "axon" in _addresses(name) and not 0 <= axon < self.params.axons:
            return False
        return op == "READ" or Field(0, *spec).fits(data)

    def _model_value(self, field, neuron, axon):
        m = self.model
        values = {"X_TRACE": lambda: m.x[axon], "FIRED": lambda: m.fired[axon], "LEARNING": lambda: m.learning,
                  "ELIGIBILITY": lambda: m.eligibility[axon, neuron],
                  "LFSR": lambda: m.lfsr[neuron % self.params.lanes]}
        if field in values:
            return int(values[field]())
        return super()._model_value(field, neuron, axon)

    def _model_write(self, field, neuron, axon, data):
        m = self.model
        if field == "X_TRACE":
            m.x[axon] = data
        elif field == "FIRED":
            m.fired[axon] = bool(data)
        elif field == "LFSR":
            m.lfsr[neuron % self.params.lanes] = data
        elif field == "LEARNING":
            m.learning = bool(data)
        elif field == "ELIGIBILITY":
            m.eligibility[axon, neuron] = data
        else:
            super()._model_write(field, neuron, axon, data)

    @staticmethod
    def describe(op, field, neuron, axon, data):
        """A command in words: "WRITE X_TRACE of axon 3 = 5"."""
        addresses = _addresses(field) if isinstance(field, str) else ("axon", "neuron")
        where = " ".join(f"{name} {neuron if name == 'neuron' else axon}" for name in addresses)
        value = f" = {data}" if op == "WRITE" else ""
        name = field if isinstance(field, str) else f"field code {field}"
        return f"{op} {name}{f' of {where}' if where else ''}{value}"

    async def set_learning(self, on, context):
        await self.configure([("WRITE", "LEARNING", 0, 0, int(bool(on)))], context)

    async def set_plastic(self, neurons, on, context):
        await self.configure([("WRITE", "PLASTIC", int(n), 0, int(bool(on))) for n in neurons], context)

    # --- timesteps -----------------------------------------------------------------------------------

    async def deliver(self, inputs):
        """Send axon events and :class:`Reward` commands to both, in order."""
        for is_reward, group in itertools.groupby(inputs, key=lambda item: isinstance(item, Reward)):
            group = list(group)
            if is_reward:
                for reward in group:
                    self.model.reward(reward.value)
                await self.driver.send_rewards(reward.value for reward in group)
            else:
                for axon in group:
                    self.model.event(axon)
                await self.driver.send_events(group)

    async def step(self, inputs, *, check_acc=False, check_depression=False):
        """One timestep: ``inputs`` (axons and rewards) in both, optionally everything learning changed before
        the tick (depression and rewards) compared, then the tick; compares the spikes and then the state,
        weights, traces and eligibilities."""
        before = self.model.weights.copy(), self.model.eligibility.copy()
        await self.deliver(inputs)
        if check_depression:
            await self.check_learned(f"step {self.model.timestep}, before the tick")
        await super().step([], check_acc=check_acc)
        self.changes += int(np.count_nonzero(before[0] != self.model.weights))
        self.changes += int(np.count_nonzero(before[1] != self.model.eligibility))

    async def check_learned(self, context):
        """Read every weight, trace and eligibility back and compare them with the model."""
        learned = await self.driver.read_learned()
        p = self.params
        names = {"weights": "weight", "eligibility": "eligibility"}
        for name, values in learned.items():
            expected = getattr(self.model, name)
            if values.ndim == 2:
                for a in range(p.axons):
                    self.board.compare_all(context, lambda n, a=a, name=name: f"{names[name]} of axon {a} neuron {n}",
                                           expected[a], values[a])
            else:
                owner = "axon" if name == "x" else "neuron"
                self.board.compare_all(context, lambda i, name=name, owner=owner: f"{owner} {i} {name} trace",
                                       expected, values)

    async def check_state(self, context):
        await super().check_state(context)
        await self.check_learned(context)

    async def finish(self):
        """Compare the learning switches, then finish as :meth:`LifBench.finish`."""
        context = f"after the last step ({self.model.timestep} steps)"
        self.board.compare(context, "learning", int(self.model.learning), int(await self.driver.read_learning()))
        self.board.compare_all(context, lambda n: f"neuron {n} plastic", self.model.plastic.astype(int),
                               (await self.driver.read_plastic()).astype(int))
        await super().finish()
        cocotb.log.info("%s: learning changed %d weights and eligibilities over the steps", self.test, self.changes)
        report = self.config.get("report")
        if report:
            summary = json.loads(Path(report).read_text())
            summary[self.test]["changes"] = self.changes
            Path(report).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")


# --- randomized comparison ---------------------------------------------------------------------------------

@cocotb.test()
async def check_random(dut):
    """Random weights, per-neuron parameters, events (a few out of range), rewards, idle cycles, backpressure,
    learning switched globally and per neuron, and random configuration commands, for ``steps`` timesteps."""
    bench = StdpBench(dut, run_config.load(), "random")
    p, rng = bench.params, bench.rng
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    for _ in range(int(bench.config.get("steps", 20))):
        context = f"before step {bench.model.timestep}"
        if rng.random() < 0.15:
            await bench.set_learning(not bench.model.learning, context)
        if rng.random() < 0.2:
            neurons = rng.sample(range(p.neurons), rng.randint(1, p.neurons))
            await bench.set_plastic(neurons, rng.random() < 0.5, context)
        if rng.random() < 0.15:
            await bench.configure([bench.random_command() for _ in range(rng.randint(1, 4))], context)
        await bench.step(bench.random_inputs(bad=0.05), check_acc=rng.random() < 0.15,
                         check_depression=rng.random() < 0.25)
    await bench.finish()


# --- directed tests ----------------------------------------------------------------------------------------

@cocotb.test()
async def check_switching(dut):
    """Learning on, then off for half the neurons, then off globally, then on again, under the same strong
    input: the weights of a neuron that does not learn must not move while its traces keep counting."""
    bench = StdpBench(dut, run_config.load(), "switching")
    p, rng = bench.params, bench.rng
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    drive = sorted(rng.sample(range(p.axons), max(1, p.axons // 2)))

    async def steps(count):
        for _ in range(count):
            await bench.step(drive + rng.sample(range(p.axons), rng.randint(0, 2)))

    await steps(3)
    frozen = list(range(0, p.neurons, 2))
    await bench.set_plastic(frozen, False, "freezing every other neuron")
    before = bench.model.weights[:, frozen].copy()
    await steps(3)
    if not np.array_equal(bench.model.weights[:, frozen], before):
        raise Mismatch("bench error: the model changed the weights of neurons that do not learn")
    await bench.set_learning(False, "learning off")
    before = bench.model.weights.copy()
    await steps(3)
    if not np.array_equal(bench.model.weights, before):
        raise Mismatch("bench error: the model changed weights with learning off")
    await bench.set_learning(True, "learning on")
    await bench.set_plastic(frozen, True, "every neuron learns")
    await steps(3)
    await bench.finish()


@cocotb.test()
async def check_clipping(dut):
    """Weights at and beyond w_min and w_max and traces at their maximum, so that updates are as large as they
    get and clip at both ends; voltages written above threshold make every neuron spike, for potentiation."""
    bench = StdpBench(dut, run_config.load(), "clipping")
    p, s, rng = bench.params, bench.stdp, bench.rng
    lo, hi = p.weight_range
    ends = sorted({max(lo, s.w_min - 1), s.w_min, s.w_max, min(hi, s.w_max + 1)})
    weights = np.array([[rng.choice(ends) for _ in range(p.neurons)] for _ in range(p.axons)])
    await bench.start(weights, **bench.per_neuron_params())
    top = s.trace_max
    for round_ in range(4):
        commands = [("WRITE", "X_TRACE", 0, a, top) for a in range(p.axons)]
        commands += [("WRITE", "Y_TRACE", n, 0, top) for n in range(p.neurons)]
        if round_ % 2 == 0:
            commands += [("WRITE", "V", n, 0, p.v_range[1]) for n in range(p.neurons)]
            commands += [("WRITE", "REFRACTORY", n, 0, 0) for n in range(p.neurons) if "REFRACTORY" in bench.fields]
        await bench.configure(commands, f"traces at their maximum, round {round_}")
        axons = rng.sample(range(p.axons), rng.randint(1, p.axons))
        await bench.step(axons * 2, check_depression=True)
    inside = (bench.model.weights >= s.w_min) & (bench.model.weights <= s.w_max)
    touched = bench.model.weights != weights
    if not inside[touched].all():
        raise Mismatch("bench error: the model left an updated weight outside [w_min, w_max]")
    await bench.finish()


@cocotb.test()
async def check_reward(dut):
    """Reward-modulated engines: eligibilities near their limits, rewards of the extreme values, several in a
    row, before and among the events of a step. Other engines: the core has no reward port."""
    bench = StdpBench(dut, run_config.load(), "reward")
    p, s, rng = bench.params, bench.stdp, bench.rng
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    if not s.reward:
        if bench.driver.reward is not None:
            raise Mismatch("the RTL has a reward port but the engine was built with reward = false")
        cocotb.log.info("reward = false: no reward commands to check")
        await bench.finish()
        return
    e_lo, e_hi = s.eligibility_range
    r_lo, r_hi = s.reward_range
    for round_ in range(3):
        near = (e_lo, e_lo + 1, 0, e_hi - 1, e_hi)
        commands = [("WRITE", "ELIGIBILITY", n, a, rng.choice(near + (rng.randint(e_lo, e_hi),)))
                    for a in range(p.axons) for n in range(p.neurons)]
        await bench.configure(commands, f"eligibilities near their limits, round {round_}")
        await bench.step([Reward(r_hi), Reward(r_lo), Reward(0), Reward(1), Reward(-1)], check_depression=True)
        await bench.step(bench.random_inputs() + [Reward(rng.choice((r_lo, r_hi)))], check_depression=True)
        await bench.step([bench.random_reward() for _ in range(3)] + bench.random_axons())
    await bench.finish()


@cocotb.test()
async def check_learning_config(dut):
    """The learning engine's configuration fields: writes read back, and commands with out-of-range addresses
    or values that do not fit are counted in bad_config, answered with 0 and change nothing."""
    bench = StdpBench(dut, run_config.load(), "learning_config")
    p, rng = bench.params, bench.rng
    await bench.start(bench.random_weights(), **bench.per_neuron_params())
    neuron_top = bench.driver.neuron_field.range[1]
    axon_top = bench.driver.axon_field.range[1]
    data_lo, data_hi = bench.driver.data_field.range
    learning_fields = [name for name in ("X_TRACE", "Y_TRACE", "PLASTIC", "FIRED", "LEARNING", "ELIGIBILITY",
                                         "LFSR") if name in bench.fields]
    good = []
    for name in learning_fields:
        for _ in range(3):
            neuron, axon = rng.randrange(p.neurons), rng.randrange(p.axons)
            if "neuron" not in _addresses(name):
                neuron = rng.randint(0, neuron_top)     # ignored
            if "axon" not in _addresses(name):
                axon = rng.randint(0, axon_top)         # ignored
            good += [("WRITE", name, neuron, axon, bench.random_value(name)), ("READ", name, neuron, axon, 0)]
    good.append(("WRITE", "LEARNING", 0, 0, 1))
    await bench.configure(good, "writing and reading the learning fields")
    bad = []
    for name in learning_fields:
        width, is_signed = bench.fields[name]
        lo, hi = Field(0, width, is_signed).range
        bad += [("WRITE", name, 0, 0, value) for value in (hi + 1, lo - 1) if data_lo <= value <= data_hi]
        if "neuron" in _addresses(name) and neuron_top >= p.neurons:
            bad += [("READ", name, neuron_top, 0, 0), ("WRITE", name, p.neurons, 0, 0)]
        if "axon" in _addresses(name) and axon_top >= p.axons:
            bad += [("READ", name, 0, axon_top, 0), ("WRITE", name, 0, p.axons, 0)]
    for command in bad:
        if bench.command_valid(*command):
            raise AssertionError(f"bench error: {bench.describe(*command)} is a valid command")
        await bench.configure([command], f"after {bench.describe(*command)}")
    await bench.check_state("after the bad commands")
    for _ in range(3):
        await bench.step(bench.random_inputs())
    await bench.finish()


# --- replay for simulate_rtl -------------------------------------------------------------------------------

@cocotb.test()
async def replay(dut):
    """Run the run configuration's ``weights``, ``events`` and ``rewards`` for ``steps`` timesteps and write the
    spikes, the final weights, with ``trace_weights`` the weights after every step, with ``dump_state`` v and
    u after every tick, and the clock cycles of each step (first event offered to ``done``, as the LIF core's
    replay counts them) to ``output``. Compares nothing.

    A reward ``[t, value]`` is delivered after the tick of step ``t``, in the order given."""
    config = run_config.load()
    driver = StdpDriver(dut, run_config.load_manifest(config), seed=0, event_idle=0.0, cfg_idle=0.0,
                        spike_stall=0.0, rsp_stall=0.0, reward_idle=0.0)
    await driver.start()
    await driver.load_weights(np.array(config["weights"], dtype=np.int64).reshape(driver.axons, driver.neurons))
    zeros = np.zeros(driver.neurons, dtype=np.int64)
    await driver.load_neurons(**{name: zeros for name in driver.params.neuron_fields()})
    steps = int(config["steps"])
    events = events_by_step(config["events"], steps)
    rewards = events_by_step(config["rewards"], steps)
    names = (["v", "u"] if driver.params.has_current else ["v"]) if config.get("dump_state") else []
    spikes, state, trace, cycles = [], {name: [] for name in names}, [], []
    for t in range(steps):
        start = get_sim_time(unit="ns")
        spikes += [[t, n] for n in await driver.step(events[t], f"step {t}")]
        cycles.append(round((get_sim_time(unit="ns") - start) / CLOCK_PERIOD_NS))
        if rewards[t]:
            await driver.send_rewards(rewards[t])
        if names:
            for name, values in (await driver.read_neurons(*names)).items():
                state[name].append(values.tolist())
        if config.get("trace_weights"):
            trace.append((await driver.read_weights()).tolist())
    weights = trace[-1] if trace else (await driver.read_weights()).tolist()
    Path(config["output"]).write_text(json.dumps({"spikes": spikes, "state": state, "weights": weights,
                                                  "trace": trace, "cycles": cycles}) + "\n")
