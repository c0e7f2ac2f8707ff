"""Mapping quantized populations onto the cores of a chip (the ``[chip]`` format of docs/chip.md).

A population of N neurons becomes ceil(N / core_neurons) cores of at most ``core_neurons`` neurons each (a split
layer); every core of it has one axon per neuron of each of its sources, the sources' axon ranges one after the
other in the order of the projections, so a projection from a split source becomes one connection per (source
core, target core) pair. Cores take mesh nodes in the network's feed-forward order on the smallest near-square
mesh that holds them; the routing tables and input maps are then sized to what the network needs.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from spikeforge.hdl.chip.params import ChipParams
from spikeforge.sim.nir.network import INPUT

from .errors import CompileError
from .uniform import uniform as one_shape


__all__ = ["Placement", "place", "MAX_LANES"]


#: The most neurons a core updates per cycle (more lanes are faster and larger).
MAX_LANES = 4
_MAX_MESH = 16


@dataclasses.dataclass(frozen=True)
class CoreSlice:
    """Neurons ``first .. first + count - 1`` of ``population`` on core ``name``."""

    name: str
    population: str
    first: int
    count: int


@dataclasses.dataclass(frozen=True)
class Placement:
    """A compiled chip: its parameters (``chip``, a :class:`ChipParams`), its arrays (weights and per-neuron
    values, by the names of docs/chip.md), and which neurons of which population each core holds."""

    chip: ChipParams
    arrays: dict
    slices: tuple

    def cores_of(self, population):
        return tuple(s for s in self.slices if s.population == population)


def _identifier(name, taken):
    base = re.sub(r"\W", "_", name)
    base = base if base and not base[0].isdigit() else f"n_{base}"
    base = f"{base}_" if base == INPUT else base
    candidate, i = base, 1
    while candidate in taken:
        candidate, i = f"{base}_{i}", i + 1
    return candidate


def _lanes(neurons):
    """The largest power of two up to :data:`MAX_LANES` that divides ``neurons``."""
    return math.gcd(neurons, MAX_LANES)


def _slices(network, core_neurons):
    taken, slices = set(), []
    for pop in network.populations:
        count = math.ceil(pop.size / core_neurons)
        name = _identifier(pop.name, taken)
        for k in range(count):
            first = k * core_neurons
            core = name if count == 1 else _identifier(f"{name}_{k}", taken | {name})
            taken.add(core)
            slices.append(CoreSlice(core, pop.name, first, min(core_neurons, pop.size - first)))
        taken.add(name)
    return slices


def _axon_offsets(network, population, core_axons):
    """Projection index (into ``population``) -> its first axon; raises when the fan-in exceeds a core."""
    offsets, axons = [], 0
    for j in network.projections_into(population):
        offsets.append(axons)
        axons += network.source_size(j.source)
    if axons > core_axons:
        raise CompileError(f"node '{population}': its fan-in is {axons} axons, more than the largest core's "
                           f"{core_axons} (--core-axons)")
    return offsets, max(axons, 1)


def _mesh(cores):
    if cores > _MAX_MESH * _MAX_MESH:
        raise CompileError(f"the network needs {cores} cores, more than a {_MAX_MESH} x {_MAX_MESH} mesh holds; "
                           f"use larger cores (--core-neurons)")
    width = math.ceil(math.sqrt(cores))
    return width, math.ceil(cores / width)


def place(network, layers, *, core_neurons, core_axons, lanes=None, uniform=False, fifo_depth=4):
    """The :class:`Placement` of ``network`` with its :class:`QuantizedLayer` ``layers`` (by population name);
    ``lanes`` maps core names to their lanes where they should have fewer than :func:`_lanes` gives;
    ``uniform`` gives every core one shape (:mod:`.uniform`)."""
    lanes = lanes or {}
    slices = _slices(network, core_neurons)
    width, height = _mesh(len(slices))
    cores, arrays, connections = {}, {}, []
    sources = {INPUT: [CoreSlice(INPUT, INPUT, 0, network.inputs)]}
    for s in slices:
        sources.setdefault(s.population, []).append(s)
    for node, s in enumerate(slices):
        layer = layers[s.population]
        offsets, axons = _axon_offsets(network, s.population, core_axons)
        cores[s.name] = {"node": node, "neurons": s.count, "axons": axons, "lanes": lanes.get(s.name, _lanes(s.count)),
                         **layer.lif}
        w = np.zeros((axons, s.count), dtype=np.int64)
        for j, offset, q in zip(network.projections_into(s.population), offsets, layer.weights):
            w[offset:offset + q.shape[1]] = q[s.first:s.first + s.count].T
            for src in sources[j.source]:
                connections.append({"source": src.name, "target": s.name, "first": 0, "count": src.count,
                                    "axon": offset + src.first, "recurrent": j.recurrent})
        arrays[s.name] = w
        for name, values in (("threshold", layer.threshold), ("bias", layer.bias)):
            if values is not None:
                arrays[f"{s.name}.{name}"] = values[s.first:s.first + s.count]
    if uniform:
        cores, arrays = one_shape(cores, arrays)
    outputs = [{"core": s.name, "first": 0, "count": s.count} for name in network.outputs for s in sources[name]]
    chip = _sized_chip(width=width, height=height, inputs=network.inputs, cores=cores, connections=connections,
                       outputs=outputs, fifo_depth=fifo_depth)
    return Placement(chip=chip, arrays=arrays, slices=tuple(slices))


def _sized_chip(**table):
    """The chip with its routing tables and input maps just large enough."""
    maps = max(sum(1 for c in table["connections"] if c["target"] == name) for name in table["cores"])
    if maps > 16:
        raise CompileError(f"a core takes {maps} connections, more than a tile's 16 input-map entries; use larger "
                           f"cores (--core-neurons) so that fewer cores feed each one")
    roomy = ChipParams.create(**table, map_size=max(maps, 1), table_size=1024)
    return ChipParams.create(**table, map_size=max(maps, 1),
                             table_size=max(roomy.routes_per_node().values(), default=1))
