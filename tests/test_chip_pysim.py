"""The chip's RTL in Amaranth's simulator against its golden model: every core's spikes (every neuron an output)
and every neuron's state after every timestep, on 1 x 1, 1 x 2, 2 x 2 and 3 x 3 chips, a layer split over two
cores, a skip and a recurrent connection, a core at the host's node, a learning core, idle inputs and output
backpressure, and a second network loaded into the same hardware."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from chips import CHIPS, CORE, network, random_steps, weights_for
from spikeforge.hdl.chip.chip import Chip
from spikeforge.hdl.chip.params import ChipParams
from spikeforge.hdl.chip.tile import PendingAxons
from spikeforge.sim.chip.load import learning_reads, load_commands, rest_commands
from spikeforge.sim.chip.model import ChipModel
from spikeforge.sim.chip.pysim import cfg_payload, run_chip_pysim
from spikeforge.sim.harness.pysim import handshake
from spikeforge.sim.lif_core.fields import NEURON_FIELDS, state_names


def reads_for(params):
    """READs of every stored per-neuron state field of every core and of a learning core's weights, traces,
    fired bits and LFSRs, and where the model holds each answer: (core, attribute, index)."""
    reads = [({"op": "READ", "unit": "CORE", "node": core.node, "field": NEURON_FIELDS[field], "neuron": n},
              core.name, field, n)
             for core in params.cores for field in state_names(core.params) for n in range(core.params.neurons)]
    reads += learning_reads(params)
    return [fields for fields, *_ in reads], [name for _, *name in reads]


def check(params, weights, steps, **options):
    reads, names = reads_for(params)
    chip = Chip(params)
    results = run_chip_pysim(chip, load_commands(params, weights), steps, reads=reads, **options)
    model = ChipModel(params, weights)
    spikes = 0
    for t, ((outputs, answers, *_), inputs) in enumerate(zip(results, steps)):
        expected = model.step(inputs)
        assert sorted(outputs) == expected, f"step {t}: the RTL output {sorted(outputs)}, the model {expected}"
        for (core, attribute, index), value in zip(names, answers):
            want = int(getattr(model.cores[core], attribute)[index])
            assert value == want, f"after step {t}: core {core} {attribute}[{index}] = {value} in the RTL, " \
                                  f"{want} in the model"
        spikes += len(expected)
    return spikes, results


@pytest.mark.parametrize("name", CHIPS)
def test_chip_matches_the_model(name):
    params = CHIPS[name]
    spikes, _ = check(params, weights_for(params, 1), random_steps(params, 8, 2))
    assert spikes > 8      # the cores do spike: the comparison covers spikes, not only silence


def test_idle_inputs_and_output_backpressure():
    params = CHIPS["2x2-skip-recurrent"]
    spikes, _ = check(params, weights_for(params, 3), random_steps(params, 6, 4), idle=0.4, stall=0.6, seed=5)
    assert spikes > 8


def test_learning_changes_the_weights_as_the_model_does():
    params = CHIPS["1x2-learning"]
    weights = weights_for(params, 7)
    steps = random_steps(params, 8, 8, rate=0.6)
    core = params.cores[0]
    reads = [{"op": "READ", "unit": "CORE", "node": core.node, "field": "WEIGHT", "axon": a, "neuron": n}
             for a in range(core.params.axons) for n in range(core.params.neurons)]
    results = run_chip_pysim(Chip(params), load_commands(params, weights), steps, reads=reads)
    model = ChipModel(params, weights)
    for t, (inputs, (outputs, answers, *_)) in enumerate(zip(steps, results)):
        assert sorted(outputs) == model.step(inputs), f"step {t}"
        learned = model.cores["h"].weights.reshape(-1).tolist()
        assert answers == learned, f"after step {t}: the learned weights differ"
    assert not np.array_equal(model.cores["h"].weights, weights["h"])


LEARNING = {"a_plus": 40, "a_minus": 30, "lr_shift": 4}


@pytest.mark.parametrize("stdp, recurrent, field", [
    # The first sample's updates step the LFSRs: the second sample's learned weights show their state (with rates
    # whose products are not multiples of 2 ** lr_shift, so the rounding offset matters).
    ({"a_plus": 37, "a_minus": 29, "lr_shift": 6, "stochastic": True, "seed": 77}, False, "WEIGHT"),
    # The first sample's last spikes reach the core after its last tick and wait in its tile for the next tick:
    # unless the rest clears them, the second sample's presynaptic traces show them.
    (LEARNING, True, "X_TRACE"),
], ids=["lfsr", "fired"])
def test_a_learning_core_starts_every_sample_from_rest(stdp, recurrent, field):
    """docs/chip.md: the samples of a batch are independent. After the loader's rest and load commands, a learning
    core's second sample equals the model started from reset: outputs, and the weights or the traces."""
    connections = [{"source": "input", "target": "h"}]
    if recurrent:
        connections.append({"source": "h", "target": "h", "axon": 8, "recurrent": True})
    params = network(2, 1, {"h": dict(CORE, axons=16, node=1, stdp=stdp)}, connections)
    weights = weights_for(params, 7)
    first, second = random_steps(params, 5, 8, rate=0.6), random_steps(params, 5, 9, rate=0.6)
    model = ChipModel(params, weights)
    for inputs in first:
        model.step(inputs)
    assert model.spikes["h"], "the first sample's last step should spike"
    core = params.cores[0].params
    neurons = core.neurons if field == "WEIGHT" else 1      # a presynaptic trace is addressed by its axon only
    reads = [{"op": "READ", "unit": "CORE", "node": 1, "field": field, "axon": a, "neuron": n}
             for a in range(core.axons) for n in range(neurons)]
    load = load_commands(params, weights)
    results = run_chip_pysim(Chip(params), load, first + second, reads=reads,
                             before={len(first): rest_commands(params) + load})
    model = ChipModel(params, weights)
    h = model.cores["h"]
    for t, (inputs, (outputs, answers, *_)) in enumerate(zip(second, results[len(first):])):
        assert sorted(outputs) == model.step(inputs), f"step {t} of the second sample"
        want = h.weights if field == "WEIGHT" else h.x
        assert answers == want.reshape(-1).tolist(), f"after step {t} of the second sample: {field} differs"


def test_a_second_network_runs_on_the_same_hardware():
    """The tables are run-time state: the 2x2 chip built for one network runs another after a reload."""
    first = CHIPS["2x2-skip-recurrent"]
    second = network(2, 2, {"h": dict(CORE, axons=16, node=1), "o": dict(CORE, axons=16, node=3)},
                     [{"source": "input", "target": "o"}, {"source": "o", "target": "h"},
                      {"source": "input", "target": "h", "axon": 8}])
    assert second.mesh == first.mesh and [c.params for c in second.cores] == [c.params for c in first.cores]
    chip = Chip(first)
    weights = weights_for(second, 9)
    steps = random_steps(second, 6, 10)
    # Load the first network and run it, then overwrite every table with the second's and run that.
    clear = [{"op": "WRITE", "unit": "MAP", "node": c.node, "index": i, "entry": {"enable": 0}}
             for c in first.cores for i in range(first.map_size)]
    clear += [{"op": "WRITE", "unit": "ROUTE", "node": n, "index": i, "route": {"enable": 0}}
              for n in range(first.nodes) for i in range(first.table_size)]
    commands = load_commands(first, weights_for(first, 11)) + clear + load_commands(second, weights)
    results = run_chip_pysim(chip, commands, [[]] + steps)
    # The first step ran the first network with no input; the chip's state carries over, so compare against a
    # model of the second network started from that state: both are at rest after a silent step from reset.
    model = ChipModel(second, weights)
    for t, ((outputs, *_), inputs) in enumerate(zip(results[1:], steps)):
        assert sorted(outputs) == model.step(inputs), f"step {t} of the second network"


def test_a_map_entry_beyond_its_core_is_refused():
    """A run-time WRITE of an input-map entry that would give axons the core lacks (or an output-map entry beyond
    the outputs) is refused: the entry it would replace keeps working, so the chip still equals the model."""
    params = CHIPS["1x2-layers"]
    weights = weights_for(params, 4)
    steps = random_steps(params, 5, 6)
    h = next(c for c in params.cores if c.name == "h")
    beyond = {"enable": 1, "key": 0, "first": 0, "count": params.inputs, "base": h.params.axons - 2}
    bad = [{"op": "WRITE", "unit": "MAP", "node": h.node, "index": 0, "entry": beyond},
           {"op": "WRITE", "unit": "OUTPUT", "index": 0,
            "entry": dict(beyond, key=h.key, base=params.output_count - 1)}]
    results = run_chip_pysim(Chip(params), load_commands(params, weights) + bad, steps)
    model = ChipModel(params, weights)
    for t, ((outputs, *_), inputs) in enumerate(zip(results, steps)):
        assert sorted(outputs) == model.step(inputs), f"step {t}: a refused map entry changed what the chip does"


def test_all_to_all_multicast_under_host_backpressure_neither_loses_nor_deadlocks():
    """The worst traffic at hand: four cores that spike with every neuron at every step (bias above threshold),
    each feeding every core (itself included; to a later phase feed-forward, else recurrent) at axons 8 x its
    index, every neuron an output, and the host taking an output in one cycle of ten."""
    names = ["a", "b", "c", "d"]
    cores = {name: dict(CORE, axons=32, node=i, bias=25) for i, name in enumerate(names)}
    connections = [{"source": "input", "target": "a"}]           # a's axons 0..7: the inputs
    for i, source in enumerate(names):
        for j, target in enumerate(names):
            if (source, target) != ("a", "a"):
                connections.append({"source": source, "target": target, "axon": 8 * i, "recurrent": j <= i})
    params = network(2, 2, cores, connections, map_size=4, table_size=8)
    assert params.phases == 4
    weights = {name: np.full((32, 8), 3) for name in names}
    spikes, _ = check(params, weights, random_steps(params, 4, 12, rate=1.0), stall=0.9, seed=13)
    assert spikes == 4 * 4 * 8


def test_a_learning_tile_delivers_its_collected_events_in_axon_order():
    """The pending-axon set of a learning core's tile: events collected in any order leave in ascending axon order
    once delivery starts, under backpressure; those arriving during a delivery wait for the next one; an
    axon the core does not have is dropped; the configuration reads (a cycle later) and writes the collected set.
    40 axons: three words of 16 bits, the last partly used."""
    pending = PendingAxons(axons=40, index_bits=6)
    delivered = []

    async def arrive(ctx, axon):
        ctx.set(pending.arrive.valid, 1)
        ctx.set(pending.arrive.payload, axon)
        await ctx.tick()
        ctx.set(pending.arrive.valid, 0)

    async def configure(ctx, axon, value):
        ctx.set(pending.cfg, {"axon": axon, "write": 1, "value": value})
        await ctx.tick()
        ctx.set(pending.cfg.write, 0)

    async def deliver(ctx, arriving):
        """Start a delivery, ``arriving`` coming in while it runs; wait until it is over."""
        ctx.set(pending.start, 1)
        await ctx.tick()
        ctx.set(pending.start, 0)
        for axon in arriving:
            await arrive(ctx, axon)
        await ctx.tick().until(~pending.busy)

    async def driver(ctx):
        for axon in [37, 3, 20, 16, 0, 45, 39]:
            await arrive(ctx, axon)
        await configure(ctx, 21, 1)
        await configure(ctx, 0, 0)
        for axon, bit in ((37, 1), (38, 0), (21, 1), (0, 0)):
            ctx.set(pending.cfg.axon, axon)
            await ctx.tick()
            assert ctx.get(pending.pending) == bit, f"axon {axon}"
        await deliver(ctx, [17, 5])
        assert delivered == [3, 16, 20, 21, 37, 39]
        await deliver(ctx, [])
        assert delivered[6:] == [5, 17]

    async def consumer(ctx):
        rng = random.Random(3)
        async for _, _, valid, ready, axon in ctx.tick().sample(pending.events.valid, pending.events.ready,
                                                                 pending.events.payload):
            if valid and ready:
                delivered.append(axon)
            ctx.set(pending.events.ready, rng.random() < 0.4)

    sim = Simulator(pending)
    sim.add_clock(1e-6)
    sim.add_testbench(driver)
    sim.add_testbench(consumer, background=True)
    sim.run()



def test_packets_no_router_or_tile_takes_are_counted_in_unmapped():
    """The inputs beyond the one connection's range reach a's tile, whose map has no entry for them; core b's
    spikes have no listener, so no router has a route for them. Both are counted in the chip's ``unmapped``, as
    many as the model says were sent, and the outputs still equal the model."""
    cores = {"a": dict(CORE, node=1), "b": dict(CORE, node=0)}
    connections = [{"source": "input", "target": "a", "count": 4}, {"source": "a", "target": "b"}]
    params = ChipParams.create(width=2, height=1, inputs=8, cores=cores, connections=connections,
                               outputs=[{"core": "a"}])
    weights = {name: np.full((8, 8), 12) for name in cores}
    steps = random_steps(params, 6, 7, rate=0.6)
    results = run_chip_pysim(Chip(params), load_commands(params, weights), steps)
    model = ChipModel(params, weights)
    expected, unrouted = 0, 0
    for t, ((outputs, _, _, unmapped), inputs) in enumerate(zip(results, steps)):
        assert sorted(outputs) == model.step(inputs), f"step {t}: the RTL's outputs differ from the model's"
        unrouted += len(model.spikes["b"])
        expected += sum(n >= 4 for n in inputs) + len(model.spikes["b"])
        assert unmapped == expected, f"after step {t}: unmapped = {unmapped} in the RTL, {expected} packets were " \
                                     f"sent that nothing takes"
    assert unrouted > 0 and expected > unrouted     # both kinds of packet occurred


def test_inputs_offered_during_a_step_wait_for_the_next():
    """A host that offers the next step's inputs as soon as it has sent the step, without waiting for ``done``:
    the chip takes them only after the step, so every step still equals the model."""
    params = CHIPS["2x2-skip-recurrent"]
    weights = weights_for(params, 2)
    steps = random_steps(params, 5, 9, rate=0.6)
    chip = Chip(params)
    outputs = []

    async def sender(ctx):
        for fields in load_commands(params, weights):
            await handshake(ctx, chip.cfg, cfg_payload(fields), timeout=10_000, what="cfg")
        for inputs in steps:
            for n in inputs:
                await handshake(ctx, chip.inputs, {"neuron": n}, timeout=10_000, what="inputs")
            await handshake(ctx, chip.step, timeout=10_000, what="step")

    async def receiver(ctx):
        ctx.set(chip.outputs.ready, 1)
        spikes = []
        for _ in range(100_000):
            if len(outputs) == len(steps):
                return
            _, _, valid, payload, done = await ctx.tick().sample(chip.outputs.valid, chip.outputs.payload, chip.done)
            if valid:
                spikes.append(payload.neuron)
            if done:
                outputs.append(sorted(spikes))
                spikes = []
        raise TimeoutError(f"{len(outputs)} of {len(steps)} steps were done after 100000 cycles")

    sim = Simulator(chip)
    sim.add_clock(1e-6)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run()
    model = ChipModel(params, weights)
    for t, inputs in enumerate(steps):
        expected = model.step(inputs)
        assert outputs[t] == expected, f"step {t}: the RTL output {outputs[t]}, the model {expected}"
