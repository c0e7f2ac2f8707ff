"""Floating-point reference of spike-driven self-attention, written straight from the equations.

This follows the BICLab Spike-Driven-Transformer code (V1: ``MS_SSA_Conv``; V2, Meta-SpikeFormer: the spike-driven
self-attention with ``scale = 0.125``) and SpikingJelly's multi-step LIF node with ``decay_input = True`` and
``v_reset = 0``, in float32 as PyTorch computes it by default:

- ``H_t = V_{t-1} + (X_t - V_{t-1}) / tau``; ``S_t = H_t >= v_threshold``; ``V_t = H_t * (1 - S_t)``; V_0 = 0.
- V1: ``kv = sum_n K * V`` per channel; ``O = Q * SN(kv)``.
- V2: per head ``X = (Q @ (K^T @ V)) * scale``; ``O = SN(X)``.

It shares nothing with the golden model (:mod:`spikeforge.sim.attention.model`) but the equations, so the two
checking each other means something.
"""

from __future__ import annotations

import numpy as np


__all__ = ["reference", "reference_for"]


def _lif(x_steps, *, tau, v_threshold, dtype):
    """SpikingJelly MultiStepLIFNode(tau, v_threshold, v_reset=0, decay_input=True) over the first axis."""
    v = np.zeros(x_steps.shape[1:], dtype=dtype)
    spikes = []
    for x in x_steps:
        h = v + (x - v) / dtype(tau)
        s = (h >= dtype(v_threshold)).astype(dtype)
        v = h * (1 - s)
        spikes.append(s)
    return np.stack(spikes)


def reference(q, k, v, *, variant, heads, timesteps, tau=2.0, v_threshold=0.5, scale=None,
              dtype=np.float32):
    """O of spike-driven self-attention for binary arrays of shape (calls * timesteps, N, D).

    ``scale`` defaults to 1 for v1 and 0.125 for v2. Returns O as uint8 of the same shape; the membrane starts
    at 0 at every call of ``timesteps`` steps.
    """
    if scale is None:
        scale = 1.0 if variant == "v1" else 0.125
    q, k, v = (np.asarray(a).astype(dtype) for a in (q, k, v))
    steps, n, d = q.shape
    out = []
    for start in range(0, steps, timesteps):
        qc, kc, vc = (a[start:start + timesteps] for a in (q, k, v))
        if variant == "v1":
            kv = (kc * vc).sum(axis=1) * dtype(scale)                    # (T, D)
            s = _lif(kv, tau=tau, v_threshold=v_threshold, dtype=dtype)
            out.append(qc * s[:, np.newaxis, :])
        else:
            split = (timesteps, n, heads, d // heads)
            qh, kh, vh = (a.reshape(split).transpose(0, 2, 1, 3) for a in (qc, kc, vc))   # (T, H, N, Dh)
            x = (qh @ (kh.transpose(0, 1, 3, 2) @ vh)) * dtype(scale)
            x = x.transpose(0, 2, 1, 3).reshape(timesteps, n, d)
            out.append(_lif(x, tau=tau, v_threshold=v_threshold, dtype=dtype))
    return np.concatenate(out).astype(np.uint8)


def reference_for(params, q, k, v, **kwargs):
    """:func:`reference` with tau, threshold and scale taken from an AttentionParams."""
    return reference(q, k, v, variant=params.variant, heads=params.heads, timesteps=params.timesteps,
                     tau=2.0 ** params.decay_shift, v_threshold=params.threshold,
                     scale=2.0 ** -params.scale_shift, **kwargs)
