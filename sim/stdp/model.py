"""Bit-exact golden model of the LIF core with its STDP learning engine.

Pure Python and numpy. The rule and the order of every update (the specification the RTL follows):

Integrate phase, for each input event of axon a, in arrival order:

1. the event is integrated with the weights as they are (``acc += W[a]``);
2. depression: for every plastic neuron n, ``W[a, n] <- clip(W[a, n] - ((a_minus * y[n] + r) >> lr_shift))``,
   where y is the postsynaptic trace as the last tick left it (it holds the spikes of earlier steps only);
3. axon a is marked as having fired in this step.

A reward command (reward mode only), in the same order as the events:
``W[a, n] <- clip(W[a, n] + ((reward * E[a, n] + r) >> lr_shift))`` for every synapse.

At tick t:

1. the neurons update as in :class:`~spikeforge.sim.lif_core.model.LifModel` and spike;
2. traces: ``x <- x - (x >> tau_pre_shift)``, ``y <- y - (y >> tau_post_shift)``, then the trace of every axon
   that fired in this step and of every neuron that spiked takes the impulse (``all``: adds it, saturating;
   ``nearest``: is set to it); in reward mode every eligibility decays, ``E <- E - (E >> eligibility_shift)``;
3. potentiation: for every plastic neuron n that spiked, ``W[a, n] <- clip(W[a, n] + ((a_plus * x[a] + r) >>
   lr_shift))`` for every axon a, with x as step 2 left it (it includes this step's input events).

So a pair with dt = t_post - t_pre >= 0 potentiates by a_plus * x with x = impulse decayed dt times; a pair with
dt < 0 depresses by a_minus * y with y = impulse decayed |dt| - 1 times. The same-step pair (dt = 0) counts as
causal and potentiates. In reward mode the two updates go to E (saturating) instead of W.

``r`` is 0, or with ``stochastic`` the low ``lr_shift`` bits of lane (n mod P)'s 16-bit Galois LFSR, which then
steps once. A lane draws once for every synapse update it computes, in the order the hardware computes them:
depression by group g = 0..G-1; potentiation by group g, then axon a; a reward by axon a, then group g.
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.stdp import lfsr
from spikeforge.hdl.stdp.lfsr import LFSR_TAPS
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.lif_core.model import LifModel


__all__ = ["StdpModel", "lfsr_seeds", "lfsr_step", "LFSR_TAPS"]


def lfsr_seeds(seed, lanes):
    """Nonzero, distinct 16-bit start states of the per-lane LFSRs (:func:`spikeforge.hdl.stdp.lfsr.lfsr_seeds`)."""
    return np.array(lfsr.lfsr_seeds(seed, lanes), dtype=np.int64)


def lfsr_step(state):
    """One step of the Galois LFSR, elementwise."""
    return (state >> 1) ^ np.where(state & 1, LFSR_TAPS, 0)


class StdpModel(LifModel):
    """The LIF core model with plastic weights.

    Parameters
    ----------
    params : LifParams
    stdp : StdpParams
    weights : array_like, optional

    Attributes
    ----------
    x : numpy.ndarray
        Presynaptic traces, one per axon.
    y : numpy.ndarray
        Postsynaptic traces, one per neuron.
    eligibility : numpy.ndarray
        Per-synapse eligibility traces (axons, neurons); zero unless ``stdp.reward``.
    learning : bool
        Global run-time switch of learning.
    plastic : numpy.ndarray of bool
        Per-neuron run-time switch of learning.
    lfsr : numpy.ndarray
        The per-lane LFSR states.
    fired : numpy.ndarray of bool
        Per axon: an event of it arrived since the last tick (its trace takes the impulse at the next tick).
    """

    def __init__(self, params, stdp, weights=None):
        super().__init__(params, weights)
        if not isinstance(stdp, StdpParams):
            raise TypeError(f"stdp must be a StdpParams, not {stdp!r}")
        self.stdp = stdp
        self.x = np.zeros(params.axons, dtype=np.int64)
        self.y = np.zeros(params.neurons, dtype=np.int64)
        self.eligibility = np.zeros((params.axons, params.neurons), dtype=np.int64)
        self.learning = stdp.enabled
        self.plastic = np.ones(params.neurons, dtype=bool)
        self.lfsr = lfsr_seeds(stdp.seed, params.lanes)
        self.fired = np.zeros(params.axons, dtype=bool)

    # Rounding offsets, drawn lane by lane in hardware order.

    def _draw(self, lanes_mask):
        """Offsets for the lanes in ``lanes_mask`` (bool array of P); steps those lanes' LFSRs."""
        s = self.stdp
        if not s.stochastic:
            return np.zeros(self.params.lanes, dtype=np.int64)
        r = np.where(lanes_mask, self.lfsr & ((1 << s.lr_shift) - 1), 0)
        self.lfsr = np.where(lanes_mask, lfsr_step(self.lfsr), self.lfsr)
        return r

    def _offsets_by_group(self, mask):
        """Offsets for a pass over all groups (``mask`` has one bool per neuron), group by group."""
        P = self.params.lanes
        mask = mask.reshape(-1, P)
        return np.concatenate([self._draw(m) for m in mask])

    def _apply(self, axon, delta, mask):
        """Add ``delta`` (per neuron) to row ``axon`` of W, or of E in reward mode, where ``mask``."""
        s = self.stdp
        if s.reward:
            lo, hi = s.eligibility_range
            row = self.eligibility[axon]
            self.eligibility[axon] = np.where(mask, np.clip(row + delta, lo, hi), row)
        else:
            row = self.weights[axon]
            self.weights[axon] = np.where(mask, np.clip(row + delta, s.w_min, s.w_max), row)

    def event(self, axon):
        p, s = self.params, self.stdp
        if not 0 <= axon < p.axons:
            self.bad_events += 1
            return
        super().event(axon)
        self.fired[axon] = True
        if not self.learning:
            return
        mask = self.plastic
        r = self._offsets_by_group(mask)
        self._apply(axon, -((s.a_minus * self.y + r) >> s.lr_shift), mask)

    def reward(self, value):
        """A reward command: W <- clip(W + ((value * E + r) >> lr_shift)) for every synapse of a neuron that
        learns (learning on and the neuron plastic); the others keep their weights."""
        p, s = self.params, self.stdp
        if not s.reward:
            raise ValueError("Reward commands need an engine built with reward = true")
        lo, hi = s.reward_range
        if not lo <= value <= hi:
            raise ValueError(f"Reward {value} is out of the range {lo}..{hi} for reward_bits = {s.reward_bits}")
        mask = self.plastic & self.learning
        for a in range(p.axons):
            r = self._offsets_by_group(mask)
            delta = (value * self.eligibility[a] + r) >> s.lr_shift
            self.weights[a] = np.where(mask, np.clip(self.weights[a] + delta, s.w_min, s.w_max), self.weights[a])

    def _bump(self, trace, fired, shift):
        s = self.stdp
        trace = trace - (trace >> shift)
        if s.accumulate == "all":
            return np.where(fired, np.minimum(trace + s.impulse, s.trace_max), trace)
        return np.where(fired, s.impulse, trace)

    def tick(self):
        p, s = self.params, self.stdp
        spikes = super().tick()
        spiked = np.zeros(p.neurons, dtype=bool)
        spiked[spikes] = True
        self.x = self._bump(self.x, self.fired, s.tau_pre_shift)
        self.y = self._bump(self.y, spiked, s.tau_post_shift)
        self.fired[:] = False
        if s.reward:
            self.eligibility = self.eligibility - (self.eligibility >> s.eligibility_shift)
        if self.learning:
            learners = spiked & self.plastic
            P = p.lanes
            for g in np.flatnonzero(learners.reshape(-1, P).any(axis=1)):
                lanes = learners[g * P:(g + 1) * P]
                cols = slice(g * P, (g + 1) * P)
                for a in range(p.axons):
                    r = self._draw(lanes)
                    delta = (s.a_plus * self.x[a] + r) >> s.lr_shift
                    mask = np.zeros(p.neurons, dtype=bool)
                    mask[cols] = lanes
                    full = np.zeros(p.neurons, dtype=np.int64)
                    full[cols] = delta
                    self._apply(a, full, mask)
        return spikes
