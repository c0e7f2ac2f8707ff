"""The golden model of a chip: the specification its RTL is checked against (pure Python and numpy).

One timestep, as a NIR graph runs in snnTorch (docs/chip.md):

1. The step's input spikes and the spikes the recurrent connections carried from the last step are the first
   events of the cores they reach.
2. Phase by phase (a core's phase is its depth in the feed-forward graph, :mod:`spikeforge.hdl.chip.params`),
   every core of the phase takes its events and ticks (the LIF or STDP golden model's ``step``); the spikes of
   a feed-forward connection are events of the same step for its target, which ticks in a later phase; those of
   a recurrent connection are events of the next step.
3. The output neurons' spikes of the step are the step's outputs.

No core's accumulator can overflow within a step (the parameters require it), and every axon has one source, so
the order in which a core's events arrive does not change anything, which is what lets the mesh deliver them in
any order.
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.chip.params import INPUT, ChipParams

from ..lif_core.model import LifModel
from ..stdp.model import StdpModel
from .load import neuron_arrays


__all__ = ["ChipModel", "run_chip"]


class ChipModel:
    """A chip's cores and the spikes between them.

    Parameters
    ----------
    params : ChipParams
    weights : dict, optional
        Core name -> integer array of shape (axons, neurons); zero when missing.

    Attributes
    ----------
    cores : dict
        Core name -> its :class:`~spikeforge.sim.lif_core.model.LifModel` (or ``StdpModel``), whose state (``v``,
        ``u``, ``acc``, ``refractory``, ``weights``...) is the state of that core.
    spikes : dict
        Core name -> the neurons that spiked in the last step, in order.
    events : dict
        Core name -> the events it integrated in the last step.
    traffic : dict
        ``(node, port)`` -> packets that left that router output so far (port 4: delivered at the node).
    timestep : int
    """

    def __init__(self, params, weights=None):
        if not isinstance(params, ChipParams):
            raise TypeError(f"params must be a ChipParams, not {params!r}")
        weights = weights or {}
        known = {c.name for c in params.cores} | {f"{c.name}.{name}" for c in params.cores for name in neuron_arrays(c)}
        unknown = sorted(set(weights) - known)
        if unknown:
            raise ValueError(f"Array {unknown[0]!r} is not a chip's: its names are a core's (weights) and "
                             f"'<core>.threshold', '<core>.bias' of a core that takes them per neuron")
        self.params = params
        self.cores = {}
        for core in params.cores:
            w = weights.get(core.name)
            model = StdpModel(core.params, core.stdp, w) if core.stdp else LifModel(core.params, w)
            for name in neuron_arrays(core):
                if f"{core.name}.{name}" in weights:
                    getattr(model, name)[:] = weights[f"{core.name}.{name}"]
            self.cores[core.name] = model
        self.spikes = {c.name: [] for c in params.cores}
        self.events = {c.name: 0 for c in params.cores}
        self._carried = {c.name: [] for c in params.cores}      # recurrent events for the next step
        self._phase = {c.name: c.phase for c in params.cores}
        self._links = params.tree_links()
        self.traffic = {}
        self.timestep = 0

    def _deliver(self, source, neurons, events, phase):
        """Turn ``source``'s spikes into axon events: this step's for targets in later phases (or any target of
        the host's inputs), the next step's for the others; count the packets on their tree's links."""
        for link in self._links.get(self.params.key_of(source), ()):
            self.traffic[link] = self.traffic.get(link, 0) + len(neurons)
        for c in self.params.connections:
            if c.source != source:
                continue
            axons = [c.axon + n - c.first for n in neurons if c.first <= n < c.first + c.count]
            later = source == INPUT or (not c.recurrent and self._phase[c.target] > phase)
            (events if later else self._carried)[c.target].extend(axons)

    def step(self, inputs):
        """Run one timestep with input spikes ``inputs`` (host input neuron indices); return the indices of the
        outputs that spiked, in ascending order."""
        p = self.params
        events, self._carried = self._carried, {c.name: [] for c in p.cores}
        for n in inputs:
            if not 0 <= n < p.inputs:
                raise ValueError(f"Input neuron {n} is out of range 0..{p.inputs - 1}")
        self._deliver(INPUT, sorted(set(int(n) for n in inputs)), events, -1)
        for phase in range(p.phases):
            for core in (c for c in p.cores if c.phase == phase):
                self.events[core.name] = len(events[core.name])
                self.spikes[core.name] = [int(n) for n in self.cores[core.name].step(sorted(events[core.name]))]
                self._deliver(core.name, self.spikes[core.name], events, phase)
        self.timestep += 1
        outputs = []
        for entry, r in zip(p.output_map(), p.outputs):
            outputs += [entry.base + n - r.first for n in self.spikes[r.core] if r.first <= n < r.first + r.count]
        return sorted(outputs)


def run_chip(params, spikes, weights=None, *, on_step=None):
    """Run input spikes through fresh chips, one per sample: ``spikes`` is a uint8 array of shape
    (batch, steps, inputs) or (steps, inputs); returns the output spikes, uint8, of shape (batch, steps,
    outputs) or (steps, outputs). Every sample starts from a reset chip. ``on_step(sample, step, chip)`` is
    called after every step with the :class:`ChipModel`."""
    spikes = np.asarray(spikes)
    single = spikes.ndim == 2
    batch = spikes[None] if single else spikes
    out = np.zeros((batch.shape[0], batch.shape[1], params.output_count), dtype=np.uint8)
    for b, sample in enumerate(batch):
        chip = ChipModel(params, weights)
        for t, row in enumerate(sample):
            out[b, t, chip.step(np.flatnonzero(row))] = 1
            if on_step is not None:
                on_step(b, t, chip)
    return out[0] if single else out
