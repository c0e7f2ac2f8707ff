"""The chip's parameters (validation, phases, input maps, routing tables) and its golden model against networks
of LIF models composed by hand, step by step."""

import numpy as np
import pytest

from spikeforge.hdl.chip.params import ChipParams, MapEntry
from spikeforge.sim.chip.model import ChipModel, run_chip
from spikeforge.sim.lif_core.model import LifModel


CORE = dict(axons=8, neurons=8, lanes=2, weight_bits=6, threshold=20)


def chip(cores, connections, outputs, **extra):
    return ChipParams.create(**{"width": 2, "height": 2, "inputs": 8, "cores": cores, "connections": connections,
                                "outputs": outputs, **extra})


def two_layers(recurrent=False, skip=False):
    connections = [{"source": "input", "target": "hidden"}, {"source": "hidden", "target": "out", "axon": 0}]
    cores = {"hidden": dict(CORE, node=1), "out": dict(CORE, axons=16, node=3)}
    if skip:
        connections.append({"source": "input", "target": "out", "axon": 8})
    if recurrent:
        cores["hidden"]["axons"] = 16
        connections.append({"source": "hidden", "target": "hidden", "axon": 8, "recurrent": True})
    return chip(cores, connections, [{"core": "out"}])


def random_weights(params, seed):
    rng = np.random.default_rng(seed)
    return {c.name: rng.integers(-20, 32, size=(c.params.axons, c.params.neurons)) for c in params.cores}


def random_inputs(steps, inputs, seed, rate=0.4):
    return np.random.default_rng(seed).random((steps, inputs)) < rate


def test_phases_maps_and_routes():
    p = two_layers(recurrent=True, skip=True)
    assert [(c.name, c.key, c.phase) for c in p.cores] == [("hidden", 1, 0), ("out", 2, 1)]
    assert p.phases == 2 and p.sources == 3 and p.key_bits == 2 and p.neuron_bits == 3
    assert p.input_map("hidden") == (MapEntry(key=0, first=0, count=8, base=0),
                                     MapEntry(key=1, first=0, count=8, base=8))
    assert p.input_map("out") == (MapEntry(key=1, first=0, count=8, base=0),
                                  MapEntry(key=0, first=0, count=8, base=8))
    assert p.output_map() == (MapEntry(key=2, first=0, count=8, base=0),)
    # XY trees: the inputs enter at node 0 and go east to node 1 (hidden) and on south to node 3 (out); hidden's
    # spikes go to itself and south to out; out's go to the host at node 0, west then north (X first: 3 -> 2 -> 0).
    routes = {(e["node"], e["key"]): e["route"] for e in p.routes()}
    EAST, SOUTH, WEST, NORTH, LOCAL = 1 << 1, 1 << 2, 1 << 3, 1 << 0, 1 << 4
    assert routes == {(0, 0): EAST, (1, 0): LOCAL | SOUTH, (3, 0): LOCAL, (1, 1): LOCAL | SOUTH, (3, 1): LOCAL,
                      (3, 2): WEST, (2, 2): NORTH, (0, 2): LOCAL}
    assert ChipParams.create(**p.to_dict()) == p


def test_one_core_is_the_lif_model():
    p = ChipParams.create(width=1, height=1, inputs=8, cores={"c": dict(CORE, node=0)},
                          connections=[{"source": "input", "target": "c"}], outputs=[{"core": "c"}])
    weights = random_weights(p, 1)
    reference = LifModel(p.cores[0].params, weights["c"])
    model = ChipModel(p, weights)
    for t, row in enumerate(random_inputs(20, 8, 2)):
        axons = list(np.flatnonzero(row))
        assert model.step(axons) == sorted(int(n) for n in reference.step(axons)), f"step {t}"
    np.testing.assert_array_equal(model.cores["c"].v, reference.v)


@pytest.mark.parametrize("recurrent, skip", [(False, False), (False, True), (True, False), (True, True)])
def test_layers_skip_and_recurrence_follow_snntorch_step_semantics(recurrent, skip):
    """Feed-forward: a layer sees the previous layer's spikes of the same step; recurrent: of the last step."""
    p = two_layers(recurrent, skip)
    weights = random_weights(p, 3)
    hidden = LifModel(p.core("hidden").params, weights["hidden"])
    out = LifModel(p.core("out").params, weights["out"])
    model = ChipModel(p, weights)
    last_hidden = []
    for t, row in enumerate(random_inputs(30, 8, 4)):
        x = [int(n) for n in np.flatnonzero(row)]
        h = [int(n) for n in hidden.step(x + ([8 + n for n in last_hidden] if recurrent else []))]
        o = [int(n) for n in out.step(h + ([8 + n for n in x] if skip else []))]
        last_hidden = h
        assert model.step(x) == o, f"step {t}"
        assert model.spikes == {"hidden": h, "out": o}
    np.testing.assert_array_equal(model.cores["out"].v, out.v)


def test_a_batch_resets_the_chip_between_samples():
    p = two_layers(recurrent=True)
    weights = random_weights(p, 5)
    sample = random_inputs(10, 8, 6).astype(np.uint8)
    out = run_chip(p, np.stack([sample, sample]), weights)
    assert out.shape == (2, 10, 8) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(run_chip(p, sample, weights), out[0])
    assert out.any()


@pytest.mark.parametrize("change, message", [
    (lambda c: c["connections"].append({"source": "nowhere", "target": "out"}),
     r"^Parameter 'connections\[2\]\.source' names no core: 'nowhere' \(cores: hidden, out; or 'input'\)$"),
    (lambda c: c["connections"].append({"source": "input", "target": "out", "axon": 12}),
     r"^Parameter 'connections\[2\]\.axon' must leave room for 8 axons in core 'out', which has 16: 0\.\.8; 12 is "
     r"out of range$"),
    (lambda c: c["connections"].append({"source": "input", "target": "out", "axon": 4}),
     r"^Parameter 'connections\[2\]\.axon': axon 4 of core 'out' is already driven by connections\[1\]; an axon "
     r"has one source$"),
    (lambda c: (c["cores"]["hidden"].update(axons=16, acc_bits=10),
                c["connections"].append({"source": "out", "target": "hidden", "axon": 8})),
     r"^Parameter 'connections' forms a cycle through hidden -> out -> hidden; mark the connection that carries "
     r"the previous step's spikes with recurrent = true$"),
    (lambda c: c["cores"]["out"].update(node=1),
     r"^Parameter 'cores\.out\.node' is 1, which core 'hidden' already has; one core per node$"),
    (lambda c: c["cores"]["out"].update(node=4),
     r"^Parameter 'cores\.out\.node' must be a node of the mesh, 0\.\.3; 4 is out of range$"),
    (lambda c: c["cores"]["out"].update(acc_bits=8),
     r"^Parameter 'cores\.out': 'acc_bits' must be at least weight_bits \+ bits\(axons\) = 10, so that no step's "
     r"input can overflow the accumulator \(the order packets arrive in must not matter\); 8 is too narrow$"),
    (lambda c: c["cores"]["out"].update(stdp={"reward": True}),
     r"^Parameter 'cores\.out': 'stdp\.reward' must be false: a chip has no path for reward commands yet "
     r"\(docs/chip\.md\), so a reward-modulated core would never learn$"),
    (lambda c: c.update(table_size=1),
     r"^Parameter 'table_size' must hold the 2 routes through node 0; 1 is too small$"),
])
def test_bad_chips_are_refused_naming_the_rule(change, message):
    table = two_layers().to_dict()
    change(table)
    with pytest.raises((TypeError, ValueError), match=message):
        ChipParams.create(**table)


def test_per_neuron_thresholds_and_biases_load_into_the_cores():
    params = ChipParams.create(width=1, height=1, inputs=4, connections=[{"source": "input", "target": "c"}],
                               cores={"c": dict(node=0, axons=4, neurons=3, threshold="per_neuron",
                                                bias="per_neuron", decay_v=0, model="if")},
                               outputs=[{"core": "c"}])
    arrays = {"c": np.ones((4, 3), dtype=np.int64), "c.threshold": np.array([1, 2, 5]), "c.bias": np.array([0, 1, -1])}
    # Input 0 spikes every step: each neuron gains 1 + its bias, v > threshold fires it and resets it to 0.
    # neuron 0: v 1 > 1? no, 2 fires; neuron 1: v 2, 4 > 2 fires; neuron 2: v 0 forever.
    out = run_chip(params, np.array([[1, 0, 0, 0]] * 4, dtype=np.uint8), arrays)
    assert out.tolist() == [[0, 0, 0], [1, 1, 0], [0, 0, 0], [1, 1, 0]]


def test_arrays_of_no_core_are_refused():
    params = ChipParams.create(width=1, height=1, inputs=4, connections=[{"source": "input", "target": "c"}],
                               cores={"c": dict(node=0, axons=4, neurons=3)}, outputs=[{"core": "c"}])
    with pytest.raises(ValueError, match=r"Array 'c\.threshold' is not a chip's"):
        ChipModel(params, {"c.threshold": np.zeros(3, dtype=np.int64)})
