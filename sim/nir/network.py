"""A NIR graph in discrete time: the layers that the float reference runs and the compiler quantizes.

:mod:`spikeforge.sim.nir.graph` reads a NIR graph and, given a step ``dt`` and an integrator, turns it into a
:class:`Network`: every neuron node becomes a :class:`Population` with per-step constants, and every chain of
weight nodes (Affine, Linear, Scale, Flatten, Conv2d, pooling) between two neuron nodes becomes one dense
:class:`Projection`. The neurons' input gains (``r``, ``w_in`` and the integrator's factor) are folded into the
projections' weights and the populations' biases, so one step of a population is, with ``x`` the sum of its
projections' ``weight @ spikes`` (a recurrent projection's source spikes from the previous step, the others from
this step) plus its ``bias``:

- ``if``:   ``v <- v + x``
- ``lif``:  ``v <- beta * v + x + leak``
- ``cuba``: ``i <- alpha * i + x``, then ``v <- beta * v + i + leak`` (the current is not reset)

then ``spike = v > threshold`` (strict) and ``v <- v_reset`` where it spiked, in the same step. Populations are
listed in an order in which every feed-forward projection goes from an earlier population (or the input) to a
later one. This module is pure numpy: it does not import ``nir``.
"""

from __future__ import annotations

import dataclasses

import numpy as np


__all__ = ["INPUT", "MODELS", "Population", "Projection", "Network"]


#: The name of the network's input as a projection source.
INPUT = "input"

MODELS = ("if", "lif", "cuba")


@dataclasses.dataclass(frozen=True)
class Population:
    """One neuron node of the graph, discretized.

    Attributes
    ----------
    name : str
        The NIR node's name.
    model : str
        ``"if"``, ``"lif"`` or ``"cuba"``.
    beta, alpha, threshold, v_reset, leak, bias : numpy.ndarray
        Per neuron, float64, shape ``(size,)``: the voltage decay per step (1 for ``if``), the current decay per
        step (0 unless ``cuba``), the threshold, the reset voltage, the constant added to ``v`` each step
        (``(1 - beta) * v_leak``) and the bias added to the input ``x`` each step (into the current for ``cuba``).
    """

    name: str
    model: str
    beta: np.ndarray
    alpha: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray
    leak: np.ndarray
    bias: np.ndarray

    @property
    def size(self):
        return len(self.threshold)


@dataclasses.dataclass(frozen=True)
class Projection:
    """Dense weights from a source (a population's name or :data:`INPUT`) to a population.

    ``weight`` has shape ``(target.size, source size)``, float64, gains folded in. ``recurrent`` marks a
    projection that closes a cycle of the graph: its target sees the source's spikes of the previous step.
    """

    source: str
    target: str
    weight: np.ndarray
    recurrent: bool = False


@dataclasses.dataclass(frozen=True)
class Network:
    """A whole graph: ``inputs`` input neurons, the populations in feed-forward order, the projections, and the
    populations whose spikes are the graph's outputs, in output order.

    ``dt`` and ``integrator`` are what the graph was discretized with; ``notes`` lists every place where the
    discretization approximated the graph (empty when it is exact).
    """

    inputs: int
    populations: tuple
    projections: tuple
    outputs: tuple
    dt: float
    integrator: str
    notes: tuple = ()

    def population(self, name):
        return next(p for p in self.populations if p.name == name)

    def source_size(self, source):
        return self.inputs if source == INPUT else self.population(source).size

    def projections_into(self, name):
        return tuple(j for j in self.projections if j.target == name)

    @property
    def output_size(self):
        return sum(self.population(name).size for name in self.outputs)
