"""Per-layer quantization of a discrete-time network (:class:`~spikeforge.sim.nir.network.Network`) to the LIF
core's integers.

Each population gets one scale ``s`` (integer units per float unit): its incoming weights' largest magnitude
becomes the largest B-bit weight, and its threshold, reset voltage, bias and leak are multiplied by the same
``s``, so a float step ``v <- beta v + W x + b`` becomes the core's integer step with every term ``s`` times
larger. The decays become the core's shift decay (``x - (x >> k)``) when
every factor is exactly 1 - 2**-k, which needs no multiplier, else its multiplicative decay (``x * (4096 - d) >>
12``, ``d = round((1 - beta) * 4096)``). The membrane (and current) width is the narrowest that no input can overflow, from a bound on the
largest step input; where that bound needs more than :data:`MAX_STATE_BITS`, the core saturates and the report
says so.
"""

from __future__ import annotations

import dataclasses

import numpy as np


__all__ = ["QuantizedLayer", "quantize", "MAX_STATE_BITS", "DECAY_ONE"]


#: The widest membrane the compiler gives a core; wider state costs logic in every lane.
MAX_STATE_BITS = 24
MIN_STATE_BITS = 8
#: The core's multiplicative decay keeps x * (DECAY_ONE - d) / DECAY_ONE per step.
DECAY_ONE = 4096


@dataclasses.dataclass(frozen=True)
class QuantizedLayer:
    """A population in integers.

    Attributes
    ----------
    population : str
    scale : float
        Integer units per float unit of the membrane.
    lif : dict
        The ``[lif_core]`` keys of its cores other than ``neurons``, ``axons`` and ``lanes``.
    weights : tuple of numpy.ndarray
        Per incoming projection (in the network's order), int64 ``(target size, source size)``.
    threshold, bias : numpy.ndarray or None
        Per-neuron int64 values when ``lif`` says ``"per_neuron"``, else None.
    weight_error : float
        The largest rounding error of a weight, relative to the largest weight (at most 1 / (2 (2^(B-1) - 1))).
    beta, alpha : float
        The decays the core applies (``1 - d / 4096``), to compare with the float ones.
    notes : tuple of str
        Where the integers approximate the float network beyond rounding.
    """

    population: str
    scale: float
    lif: dict
    weights: tuple
    threshold: object
    bias: object
    weight_error: float
    beta: float
    alpha: float
    notes: tuple


def _uniform(values, what, name, notes):
    """The one value of ``values``, or their median with a note when they differ."""
    if np.ptp(values) == 0:
        return float(values[0])
    median = float(np.median(values))
    notes.append(f"'{name}': {what} differs between neurons ({values.min():.6g}..{values.max():.6g}); the core "
                 f"has one, {median:.6g} (the median)")
    return median


def _shift(factor):
    """k when ``factor`` is exactly 1 - 2**-k (the core's shift decay ``x - (x >> k)``, no multiplier), else
    None."""
    if not 0.0 <= factor < 1.0:
        return None
    k = round(-np.log2(1.0 - factor))
    return k if 0 <= k <= MIN_STATE_BITS - 1 and 1.0 - 2.0 ** -k == factor else None


def _decays(factors):
    """The core's decay kind, its constants and the factors it applies, for the per-step factors ``{"decay_v":
    beta, "decay_u": alpha}``: shifts when every factor is 1 - 2**-k, else multiplicative (d = round((1 - f)
    4096))."""
    shifts = {key: _shift(f) for key, f in factors.items()}
    if None not in shifts.values():
        return "shift", shifts, {key: 1.0 - 2.0 ** -k for key, k in shifts.items()}
    constants = {key: int(np.clip(round((1.0 - f) * DECAY_ONE), 0, DECAY_ONE)) for key, f in factors.items()}
    return "mult", constants, {key: 1.0 - d / DECAY_ONE for key, d in constants.items()}


def _bits(bound):
    """Signed width that holds -bound..bound."""
    return int(np.ceil(bound)).bit_length() + 1


def _state_bits(pop, weights, bias, threshold, beta, alpha, notes):
    """The narrowest membrane width (and current, for cuba) that no input overflows, capped with a note."""
    drive_up = np.maximum(weights, 0).sum(axis=1) + np.maximum(bias, 0)
    drive_down = np.maximum(-weights, 0).sum(axis=1) + np.maximum(-bias, 0)
    drive = np.maximum(drive_up, drive_down).max(initial=0)
    if pop.model == "cuba":
        drive = drive / (1.0 - alpha) if alpha < 1 else np.inf
    below = drive / (1.0 - beta) if beta < 1 and pop.model != "if" else np.inf
    bound = max(float(np.abs(threshold).max(initial=0)) + drive, below, 1.0)
    bits = _bits(bound) if np.isfinite(bound) else MAX_STATE_BITS + 1
    if bits > MAX_STATE_BITS:
        notes.append(f"'{pop.name}': the membrane may exceed {MAX_STATE_BITS} bits (the input has no bound below "
                     f"{'with no leak' if not np.isfinite(bound) else f'of {bound:.3g}'}); the core saturates "
                     f"there")
    return int(np.clip(bits, MIN_STATE_BITS, MAX_STATE_BITS))


def _per_neuron_or_one(values):
    """(the ``[lif_core]`` value, the per-neuron array or None)."""
    if np.ptp(values) == 0:
        return int(values[0]), None
    return "per_neuron", values.astype(np.int64)


def quantize(network, population, weight_bits):
    """The :class:`QuantizedLayer` of ``population`` (a :class:`Population` of ``network``)."""
    pop = population
    notes = []
    incoming = network.projections_into(pop.name)
    largest = max((float(np.abs(j.weight).max(initial=0)) for j in incoming), default=0.0)
    top = (1 << (weight_bits - 1)) - 1
    reference = largest or float(np.abs(pop.threshold).max(initial=0)) or 1.0
    scale = top / reference
    weights = tuple(np.rint(j.weight * scale).astype(np.int64) for j in incoming)
    error = max((float(np.abs(w / scale - j.weight).max(initial=0)) / reference for w, j in zip(weights, incoming)),
                default=0.0)
    threshold = np.rint(pop.threshold * scale).astype(np.int64)
    v_reset = _uniform(np.rint(pop.v_reset * scale), "v_reset", pop.name, notes)
    constant = pop.bias if pop.model == "cuba" else pop.bias + pop.leak
    if pop.model == "cuba" and np.any(pop.leak):
        notes.append(f"'{pop.name}': v_leak is dropped (the core's cuba bias enters the current)")
    bias = np.rint(constant * scale).astype(np.int64)
    lif = {"model": pop.model, "weight_bits": weight_bits, "compare": "gt", "reset": "zero", "v_reset": int(v_reset)}
    factors = {}
    if pop.model != "if":
        factors["decay_v"] = _uniform(pop.beta, "beta", pop.name, notes)
    if pop.model == "cuba":
        factors["decay_u"] = _uniform(pop.alpha, "alpha", pop.name, notes)
        lif["bias_into"] = "current"
    if factors:
        lif["decay"], constants, applied = _decays(factors)
        lif.update(constants)
    else:
        applied = {}
    beta_q, alpha_q = applied.get("decay_v", 1.0), applied.get("decay_u", 1.0)
    stacked = np.concatenate(weights, axis=1) if weights else np.zeros((pop.size, 0), dtype=np.int64)
    lif["state_bits"] = _state_bits(pop, stacked, bias, threshold, beta_q, alpha_q, notes)
    lif["threshold"], per_threshold = _per_neuron_or_one(threshold)
    lif["bias"], per_bias = _per_neuron_or_one(bias)
    return QuantizedLayer(population=pop.name, scale=scale, lif=lif, weights=weights, threshold=per_threshold,
                          bias=per_bias, weight_error=error, beta=beta_q, alpha=alpha_q, notes=tuple(notes))
