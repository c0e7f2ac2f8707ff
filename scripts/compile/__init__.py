"""The network compiler: a NIR graph to a chip configuration (``spikeforge compile``, docs/compile.md).

The graph is first discretized (:mod:`spikeforge.sim.nir.graph`, the same network the float reference runs),
then each population is quantized (:mod:`.quantize`), split over cores and placed on a mesh (:mod:`.mapping`),
and checked against the boards (:mod:`.fit`); :mod:`.report` describes the result and :mod:`.files` writes it.
"""

from __future__ import annotations

import dataclasses

from .mapping import CompileError, place
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


def compile_network(network, *, weight_bits=8, core_neurons=256, core_axons=256):
    """Compile a :class:`~spikeforge.sim.nir.network.Network`; raises :class:`CompileError` (one line) when it
    cannot be mapped with these limits."""
    layers = {pop.name: quantize(network, pop, weight_bits) for pop in network.populations}
    placement = place(network, layers, core_neurons=core_neurons, core_axons=core_axons)
    return Compiled(network=network, layers=layers, placement=placement, weight_bits=weight_bits)
