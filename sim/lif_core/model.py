"""Bit-exact golden model of the LIF neuron core: the specification the RTL is checked against.

Pure Python and numpy, vectorized over neurons. All arithmetic is on int64 arrays, wide enough for every
intermediate value of a 32-bit state, and every overflow is resolved exactly as the RTL resolves it.

Per timestep t (see docs/lif_core.md):

- each input event of axon a adds W[a, n] to the accumulator ``acc[n]`` of every neuron n;
- at tick t every neuron, in this order: (cuba) ``u <- ovf(decay_u(u) + (acc << input_shift))``;
  ``v' <- ovf(decay_v(v) + (u if cuba else acc) + bias)``, or with ``bias_into = "current"``
  ``u <- ovf(decay_u(u) + acc + bias)`` and ``v' <- ovf(decay_v(v) + u)``; a refractory neuron keeps v, counts its
  refractory counter down and cannot fire; otherwise ``v <- v'`` and it spikes when ``v' > th`` (``gt``) or
  ``v' >= th`` (``ge``), then resets (``zero``: v_reset, ``subtract``: ``ovf(v - th)``, ``none``) and starts
  ``refractory`` steps of refractoriness; finally ``acc <- 0``.
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.sim.lif_core.events import events_by_step


__all__ = ["LifModel", "decay"]


def decay(kind, x, k):
    """Apply one step of leak of the given kind to the int64 array ``x``."""
    if kind == "shift":
        return x - (x >> k)
    if kind == "mult":
        # x * (4096 - d) / 4096, rounding toward zero (Loihi / Lava).
        return np.sign(x) * ((np.abs(x) * (4096 - k)) >> 12)
    if kind == "linear":
        return np.where(x > 0, np.maximum(x - k, 0), np.minimum(x + k, 0))
    raise ValueError(f"Unknown decay {kind!r}")


def _wrap(x, bits):
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


def _lava_wrap(x, bits):
    """Lava's single wrap of the Loihi current: above 2**(bits-1) subtract 2**bits, at or below -2**(bits-1)
    add it (lava/proc/lif/models.py, PyLifModelBitAcc)."""
    half = 1 << (bits - 1)
    x = np.where(x > half, x - 2 * half, x)
    return np.where(x <= -half, x + 2 * half, x)


class LifModel:
    """The LIF core's state and its update, one object per core.

    Parameters
    ----------
    params : LifParams
        The validated parameters the generator was built from.
    weights : array_like, optional
        Integer weights of shape (axons, neurons); zero when omitted.

    Attributes
    ----------
    weights, v, u, acc, refractory, threshold, bias : numpy.ndarray
        The configuration and state the RTL holds in its memories, int64.
    timestep : int
        Ticks processed so far.
    bad_events : int
        Input events whose axon address was out of range; they were dropped.
    """

    def __init__(self, params, weights=None):
        if not isinstance(params, LifParams):
            raise TypeError(f"params must be a LifParams, not {params!r}")
        self.params = p = params
        self.weights = np.zeros((p.axons, p.neurons), dtype=np.int64)
        if weights is not None:
            self.load_weights(weights)
        self.v = np.zeros(p.neurons, dtype=np.int64)
        self.u = np.zeros(p.neurons, dtype=np.int64)
        self.acc = np.zeros(p.neurons, dtype=np.int64)
        self.refractory = np.zeros(p.neurons, dtype=np.int64)
        self.threshold = np.full(p.neurons, 0 if p.per_neuron_threshold else p.threshold, dtype=np.int64)
        self.bias = np.full(p.neurons, 0 if p.per_neuron_bias else p.bias, dtype=np.int64)
        self.timestep = 0
        self.bad_events = 0

    def load_weights(self, weights):
        """Replace the weight matrix; raises ValueError when its shape or a value does not fit."""
        p = self.params
        w = np.asarray(weights)
        if w.shape != (p.axons, p.neurons):
            raise ValueError(f"Weights must have shape (axons, neurons) = ({p.axons}, {p.neurons}), "
                             f"not {w.shape}")
        if not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"Weights must be integers, not {w.dtype}")
        lo, hi = p.weight_range
        if w.size and (w.min() < lo or w.max() > hi):
            raise ValueError(f"Weights must be in the range {lo}..{hi} for weight_bits = {p.weight_bits}; "
                             f"found {int(w.min())}..{int(w.max())}")
        self.weights = w.astype(np.int64)

    def _overflow(self, x, bits, lo, hi):
        if self.params.saturate:
            return np.clip(x, lo, hi)
        return _wrap(x, bits)

    def event(self, axon):
        """An input event of ``axon`` in the current timestep. Out-of-range axons are counted and dropped."""
        p = self.params
        if not 0 <= axon < p.axons:
            self.bad_events += 1
            return
        self.acc = self._overflow(self.acc + self.weights[axon], p.acc_bits, *p.acc_range)

    def tick(self):
        """End the timestep: update every neuron and return the indices of the neurons that spiked."""
        p = self.params
        bias_u, bias_v = (self.bias, 0) if p.bias_into_current else (0, self.bias)
        if p.has_current:
            u = decay(p.decay, self.u, p.decay_u) + (self.acc << p.input_shift) + bias_u
            self.u = _lava_wrap(u, p.state_bits) if p.loihi else self._overflow(u, p.state_bits, *p.u_range)
            drive = self.u
        else:
            drive = self.acc
        v = self.v if p.model == "if" else decay(p.decay, self.v, p.decay_v)
        v = self._overflow(v + drive + bias_v, p.state_bits, *p.v_range)
        active = self.refractory == 0
        if p.compare == "gt":
            spike = active & (v > self.threshold)
        else:
            spike = active & (v >= self.threshold)
        if p.reset == "zero":
            v = np.where(spike, p.v_reset, v)
        elif p.reset == "subtract":
            v = np.where(spike, self._overflow(v - self.threshold, p.state_bits, *p.v_range), v)
        self.v = np.where(active, v, self.v)
        self.refractory = np.where(spike, p.refractory, np.where(active, 0, self.refractory - 1))
        self.acc = np.zeros_like(self.acc)
        self.timestep += 1
        return np.flatnonzero(spike)

    def step(self, axons):
        """Apply the events of one timestep (an iterable of axon addresses), tick, return the spikes."""
        for axon in axons:
            self.event(int(axon))
        return self.tick()

    def run(self, events, steps):
        """Run ``steps`` timesteps of ``events`` (an iterable of (t, axon)); return a list of (t, neuron)
        spikes, with t counted from this model's current timestep."""
        spikes = []
        for t, axons in enumerate(events_by_step(events, steps)):
            spikes.extend((t, int(n)) for n in self.step(axons))
        return spikes
