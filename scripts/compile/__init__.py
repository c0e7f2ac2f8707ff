"""The network compiler: a NIR graph to a chip configuration (``spikeforge compile``, docs/compile.md).

The graph is first discretized (:mod:`spikeforge.sim.nir.graph`, the same network the float reference runs),
then each population is quantized (:mod:`.quantize`), split over cores and placed on a mesh (:mod:`.mapping`),
and checked against the boards (:mod:`.fit`); :mod:`.report` describes the result and :mod:`.files` writes it.
"""

from __future__ import annotations

import dataclasses

from .fit import core_blocks, fit
from .errors import CompileError
from .mapping import place
from .quantize import quantize


__all__ = ["Compiled", "CompileError", "compile_network"]


@dataclasses.dataclass(frozen=True)
class Compiled:
    """A compiled network: the discrete-time ``network`` it came from, its quantized ``layers`` (population name
    -> :class:`~.quantize.QuantizedLayer`) and its ``placement`` (:class:`~.mapping.Placement`)."""

    network: object
    layers: dict
    placement: object
    weight_bits: int

    @property
    def notes(self):
        """Every approximation, the discretization's and the quantization's, in order."""
        return tuple(self.network.notes) + tuple(n for layer in self.layers.values() for n in layer.notes)


def compile_network(network, *, weight_bits=8, core_neurons=256, core_axons=256, board=None, uniform=False):
    """Compile a :class:`~spikeforge.sim.nir.network.Network`; raises :class:`CompileError` (one line) when it
    cannot be mapped with these limits. With a ``board``, cores give up lanes until the chip fits it
    (:func:`fewer_lanes`); ``uniform`` gives every core one shape (:mod:`.uniform`)."""
    layers = {pop.name: quantize(network, pop, weight_bits) for pop in network.populations}
    limits = dict(core_neurons=core_neurons, core_axons=core_axons, uniform=uniform)
    placement = place(network, layers, **limits)
    lanes = {}
    while board is not None and not fit(placement.chip, board).fits and fewer_lanes(placement.chip, board, lanes):
        placement = place(network, layers, lanes=lanes, **limits)
    return Compiled(network=network, layers=layers, placement=placement, weight_bits=weight_bits)


def fewer_lanes(chip, board, lanes):
    """Halve the lanes of the core of ``chip`` whose halving saves the most block RAM on ``board`` (the most
    lanes, to save logic, when none saves any; the smaller core, which slows the step least, between equals),
    recording it in ``lanes``; False when every core has one lane."""
    def saving(core):
        fewer = dataclasses.replace(core.params, lanes=core.params.lanes // 2)
        return sum(core_blocks(board, core.params, core.stdp)) - sum(core_blocks(board, fewer, core.stdp))

    candidates = [core for core in chip.cores if core.params.lanes > 1]
    if not candidates:
        return False
    core = max(candidates, key=lambda c: (saving(c), c.params.lanes, -c.params.neurons))
    lanes[core.name] = core.params.lanes // 2
    return True
