"""Random Q, K, V spike trains for the attention unit's checks and benchmarks."""

from __future__ import annotations

import numpy as np


__all__ = ["STIMULI", "count_qkv", "random_qkv"]


def random_qkv(params, rng, *, calls=1, density=(0.05, 0.5)):
    """Random binary Q, K and V of shape (calls * timesteps, tokens, channels), uint8.

    Every row (timestep, token) of each array has its own spike density, drawn uniformly from ``density``, so
    one call mixes sparse and dense rows, and counts and SN inputs spread over a wide range.

    Parameters
    ----------
    params : AttentionParams
    rng : numpy.random.Generator
    calls : int
        Attention calls, back to back.
    density : (float, float)
        Lowest and highest row density, 0 <= low <= high <= 1.
    """
    low, high = density
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"Density must be a range 0 <= low <= high <= 1, not {density!r}")
    shape = (calls * params.timesteps, params.tokens, params.channels)
    arrays = []
    for _ in range(3):
        rates = rng.uniform(low, high, size=shape[:2] + (1,))
        arrays.append((rng.random(shape) < rates).astype(np.uint8))
    return tuple(arrays)


def count_qkv(params, rng, *, calls=1, density=(0.05, 0.5)):
    """Q random as in :func:`random_qkv`; K = V set on the first c tokens of a channel, with c drawn uniformly
    from 0..tokens for every (timestep, channel).

    The counts then cover their whole range whatever the shape: in v1 the SN input of channel j is c_j itself,
    in v2 it is the sum over the channels i that Q selects of min(c_i, c_j), so the SN sees inputs on both sides
    of its threshold and carries membranes that decide later spikes.
    """
    q, _, _ = random_qkv(params, rng, calls=calls, density=density)
    counts = rng.integers(0, params.tokens + 1, size=(q.shape[0], 1, params.channels))
    k = (np.arange(params.tokens)[np.newaxis, :, np.newaxis] < counts).astype(np.uint8)
    return q, k, k.copy()


#: Stimulus name -> generator, for the benches' configuration.
STIMULI = {"random": random_qkv, "counts": count_qkv}
