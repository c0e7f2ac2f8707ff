"""Bit-exact golden model of the spike-driven self-attention unit: the specification the RTL is checked against.

Pure Python and numpy (int64), vectorized over tokens and channels. Per timestep t of an attention call, with
binary Q, K, V of shape (tokens N, channels D) and heads of Dh = D / H channels (see docs/attention.md):

- v1: ``kv[c] = sat(sum_n K[n, c] & V[n, c])``; ``s = SN(kv)``; ``O[n, c] = Q[n, c] & s[c]``.
- v2: per head, ``M[i, j] = sat(sum_n K[n, i] & V[n, j])``; ``X[n, j] = sum_i Q[n, i] & M[i, j]``;
  ``O = SN(X)`` elementwise.

``sat`` saturates at ``2**count_bits - 1``. SN is a multi-step LIF per element in fixed point with
``frac_bits`` fractional bits: ``Xf = X << (frac_bits - scale_shift)``; ``H = V + ((Xf - V) >> decay_shift)``
(arithmetic shift); spike when ``H >= threshold``; ``V <- 0`` on a spike, else ``H``. The membrane V is 0 at the
first timestep of every call and carries over the ``timesteps`` steps of the call.
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.attention.params import AttentionParams


__all__ = ["AttentionModel", "check_spikes", "event_additions", "run_model"]


def check_spikes(name, array, params, *, calls=False):
    """Return ``array`` as a uint8 spike array of shape (steps, tokens, channels), or raise ValueError.

    With ``calls`` the step count must be a positive multiple of ``timesteps``; otherwise it must equal it.
    """
    p = params
    a = np.asarray(array)
    if a.ndim != 3 or a.shape[1:] != (p.tokens, p.channels):
        raise ValueError(f"'{name}' must have shape (timesteps, tokens, channels) = "
                         f"({p.timesteps}, {p.tokens}, {p.channels}), not {a.shape}")
    if calls:
        if a.shape[0] == 0 or a.shape[0] % p.timesteps:
            raise ValueError(f"'{name}' must hold a positive multiple of {p.timesteps} timesteps, "
                             f"not {a.shape[0]}")
    elif a.shape[0] != p.timesteps:
        raise ValueError(f"'{name}' must hold timesteps = {p.timesteps} steps, not {a.shape[0]}")
    if not (np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
        raise ValueError(f"'{name}' must hold integer spikes 0 or 1, not {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > 1):
        raise ValueError(f"'{name}' must hold spikes 0 or 1; found {int(a.min())}..{int(a.max())}")
    return a.astype(np.uint8)


class AttentionModel:
    """The unit's state (the SN membranes) and its per-timestep computation.

    Parameters
    ----------
    params : AttentionParams
        The validated parameters the generator was built from.

    Attributes
    ----------
    membrane : numpy.ndarray
        int64 membranes in units of ``2**-frac_bits``: shape (channels,) for v1, (tokens, channels) for v2.
    timestep : int
        The timestep within the call that :meth:`step` computes next, 0..timesteps-1.
    counts, x : numpy.ndarray
        The saturated counts (v1: (channels,); v2: (heads, Dh, Dh)) and the SN input in counts (v1:
        (channels,); v2: (tokens, channels)) of the last step, for diagnosing a mismatch.
    """

    def __init__(self, params):
        if not isinstance(params, AttentionParams):
            raise TypeError(f"params must be an AttentionParams, not {params!r}")
        self.params = params
        shape = (params.channels,) if params.variant == "v1" else (params.tokens, params.channels)
        self.membrane = np.zeros(shape, dtype=np.int64)
        self.timestep = 0
        self.counts = None
        self.x = None

    def sn(self, x):
        """One SN update of every element from the SN input ``x`` (counts); returns the spikes (bool)."""
        p = self.params
        shift = p.input_shift
        xf = x << shift if shift >= 0 else x >> -shift
        v = self.membrane if self.timestep else np.zeros_like(self.membrane)
        h = v + ((xf - v) >> p.decay_shift)
        spike = h >= p.threshold_fixed
        self.membrane = np.where(spike, 0, h)
        return spike

    def step(self, q, k, v):
        """Compute one timestep from binary arrays of shape (tokens, channels); return O as uint8."""
        p = self.params
        q, k, v = (np.asarray(a, dtype=np.int64) for a in (q, k, v))
        if p.variant == "v1":
            self.counts = np.minimum((k & v).sum(axis=0), p.count_max)
            self.x = self.counts
            o = q & self.sn(self.x)[np.newaxis, :]
        else:
            heads = (p.tokens, p.heads, p.head_channels)
            qh, kh, vh = (a.reshape(heads) for a in (q, k, v))
            self.counts = np.minimum(np.einsum("nhi,nhj->hij", kh, vh), p.count_max)
            self.x = np.einsum("nhi,hij->nhj", qh, self.counts).reshape(p.tokens, p.channels)
            o = self.sn(self.x)
        self.timestep = (self.timestep + 1) % p.timesteps
        return o.astype(np.uint8)


def run_model(params, q, k, v):
    """Run whole attention calls: ``q``, ``k``, ``v`` of shape (calls * timesteps, tokens, channels), binary.

    Returns O, uint8 of the same shape. Raises ValueError when an array has the wrong shape or values.
    """
    q, k, v = (check_spikes(name, a, params, calls=True) for name, a in (("q", q), ("k", k), ("v", v)))
    model = AttentionModel(params)
    return np.stack([model.step(q[t], k[t], v[t]) for t in range(q.shape[0])])


def event_additions(params, q, k, v):
    """The additions the spikes ask for (the events schedule's work), summed over the steps of binary Q, K, V of
    shape (steps, tokens, channels).

    v1: one per (token, channel) with ``K[n, c] = V[n, c] = 1``. v2: one per (token, i, j) of a head with
    ``K[n, i] = V[n, j] = 1`` (K^T V), and a row of M, ``head_channels`` additions, per spike of Q (Q M).
    """
    p = params
    q, k, v = (check_spikes(name, a, p, calls=True).astype(np.int64) for name, a in (("q", q), ("k", k), ("v", v)))
    if p.variant == "v1":
        return int((k & v).sum())
    heads = k.shape[:2] + (p.heads, p.head_channels)
    kv_pairs = (k.reshape(heads).sum(axis=3) * v.reshape(heads).sum(axis=3)).sum()
    return int(kv_pairs + p.head_channels * q.sum())
