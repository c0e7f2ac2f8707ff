"""Chip configurations shared by the chip's pysim and cocotb tests: 1 x 1, 1 x 2, 2 x 2 and 3 x 3 chips, a layer
split over two cores, skip and recurrent connections, per-neuron thresholds and biases, a core at the host's node,
a learning core, two cores of one phase joined by a recurrent connection, and a stochastic learning core whose
events arrive out of axon order from three sources. Every neuron is an output, so every core's spikes are
compared."""

import numpy as np

from spikeforge.hdl.chip.params import ChipParams


CORE = dict(axons=8, neurons=8, lanes=2, weight_bits=6, threshold=20)
# Rates whose products are not multiples of 2 ** lr_shift, so the rounding offsets change the weights.
STOCHASTIC = {"a_plus": 37, "a_minus": 29, "lr_shift": 6, "stochastic": True, "seed": 77}


def every_neuron_out(cores):
    return [{"core": name} for name in cores]


def network(width, height, cores, connections, **extra):
    return ChipParams.create(width=width, height=height, inputs=8, cores=cores, connections=connections,
                             outputs=every_neuron_out(cores), **extra)


CHIPS = {
    "1x1": network(1, 1, {"c": dict(CORE, node=0, refractory=1)}, [{"source": "input", "target": "c"}]),
    "1x2-layers": network(2, 1, {"h": dict(CORE, node=1, threshold="per_neuron", bias="per_neuron"),
                                 "o": dict(CORE, node=0, model="cuba")},
                          [{"source": "input", "target": "h"}, {"source": "h", "target": "o"}]),
    "2x2-skip-recurrent": network(2, 2, {"h": dict(CORE, axons=16, node=1), "o": dict(CORE, axons=16, node=3)},
                                  [{"source": "input", "target": "h"},
                                   {"source": "h", "target": "h", "axon": 8, "recurrent": True},
                                   {"source": "h", "target": "o"},
                                   {"source": "input", "target": "o", "axon": 8}]),
    "2x2-split-layer": network(2, 2, {"a": dict(CORE, neurons=4, node=1), "b": dict(CORE, neurons=4, node=2),
                                      "o": dict(CORE, node=3)},
                               [{"source": "input", "target": "a"}, {"source": "input", "target": "b"},
                                {"source": "a", "target": "o", "axon": 0}, {"source": "b", "target": "o", "axon": 4}]),
    "3x3-chain": network(3, 3, {"a": dict(CORE, node=8), "b": dict(CORE, node=4), "c": dict(CORE, node=0),
                                "d": dict(CORE, axons=16, node=6)},
                         [{"source": "input", "target": "a"}, {"source": "a", "target": "b"},
                          {"source": "b", "target": "c"}, {"source": "c", "target": "d"},
                          {"source": "d", "target": "d", "axon": 8, "recurrent": True}], table_size=6),
    # b ticks long before a (one group against 32): its spikes reach a while a still integrates its inputs, and
    # must wait for a's tick, since the connection is recurrent.
    "1x2-same-phase": network(2, 1, {"a": dict(CORE, neurons=32, axons=16, lanes=1, node=0),
                                     "b": dict(CORE, lanes=8, node=1)},
                              [{"source": "input", "target": "a"}, {"source": "input", "target": "b"},
                               {"source": "b", "target": "a", "axon": 8, "recurrent": True}]),
    "1x2-learning": network(2, 1, {"h": dict(CORE, node=1, stdp={"a_plus": 40, "a_minus": 30, "lr_shift": 4})},
                            [{"source": "input", "target": "h"}]),
    # A learning core with stochastic rounding draws an offset per event: it must take them in axon order, at
    # their step. Its events come from two sources on interleaved axons (the inputs, which arrive first, between
    # and above s's spikes, which come after s's tick) and from itself (its last step's spikes, which arrive
    # after its tick).
    "1x2-learning-order": network(2, 1, {"s": dict(CORE, neurons=4, node=0),
                                         "h": dict(CORE, neurons=4, axons=16, node=1, stdp=STOCHASTIC)},
                                  [{"source": "input", "target": "s"},
                                   {"source": "s", "target": "h", "first": 0, "count": 2, "axon": 0},
                                   {"source": "input", "target": "h", "first": 0, "count": 4, "axon": 2},
                                   {"source": "s", "target": "h", "first": 2, "count": 2, "axon": 6},
                                   {"source": "input", "target": "h", "first": 4, "count": 4, "axon": 8},
                                   {"source": "h", "target": "h", "axon": 12, "recurrent": True}], map_size=5),
}


def weights_for(params, seed):
    """Random weights of every core, and thresholds and biases of the cores that take them per neuron."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for c in params.cores:
        arrays[c.name] = rng.integers(-16, 32, size=(c.params.axons, c.params.neurons))
        if c.params.per_neuron_threshold:
            arrays[f"{c.name}.threshold"] = rng.integers(8, 40, size=c.params.neurons)
        if c.params.per_neuron_bias:
            arrays[f"{c.name}.bias"] = rng.integers(-4, 5, size=c.params.neurons)
    return arrays


def random_steps(params, count, seed, rate=0.4):
    rng = np.random.default_rng(seed)
    return [[int(n) for n in np.flatnonzero(rng.random(params.inputs) < rate)] for _ in range(count)]
