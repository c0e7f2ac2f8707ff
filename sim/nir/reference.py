"""The float reference of a discrete-time NIR network: the step semantics of :mod:`spikeforge.sim.nir.network`,
in numpy float64, every sample of a batch independent and all of them stepped at once.

Each step, the populations in the network's order: ``x = bias + sum(weight @ source spikes)`` over the
population's projections (a recurrent projection's source spikes of the previous step, zero before the first
step, the others' of this step), then the model's update, ``spike = v > threshold`` and ``v <- v_reset`` where it
spiked. All states start at zero.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .network import INPUT


__all__ = ["Outputs", "run"]


@dataclasses.dataclass(frozen=True)
class Outputs:
    """What :func:`run` gives, each array ``(batch, steps, ...)`` (no batch axis when the input had none).

    Attributes
    ----------
    spikes : numpy.ndarray
        uint8, the output populations' spikes concatenated in the network's output order.
    populations : dict
        Every population's spikes by name, uint8, ``(..., steps, size)``.
    v, i : dict
        When recorded, every population's voltage and current (zero unless ``cuba``) after each step, after the
        reset, float64; otherwise empty.
    """

    spikes: np.ndarray
    populations: dict
    v: dict
    i: dict


def run(network, spikes, *, record=False):
    """Run ``network`` on the input ``spikes``, ``(batch, steps, inputs)`` or ``(steps, inputs)`` of 0 and 1;
    ``record`` also keeps every population's ``v`` and ``i`` after each step."""
    spikes = np.asarray(spikes)
    single = spikes.ndim == 2
    batch = spikes[None] if single else spikes
    if batch.ndim != 3 or batch.shape[2] != network.inputs:
        raise ValueError(f"the input spikes must be (batch, steps, {network.inputs}) or (steps, {network.inputs}), "
                         f"not {spikes.shape}")
    if not np.all((batch == 0) | (batch == 1)):
        raise ValueError("the input spikes must be 0 or 1")
    samples, steps, _ = batch.shape
    into = {p.name: network.projections_into(p.name) for p in network.populations}
    now = {p.name: np.zeros((samples, p.size)) for p in network.populations}
    v = {p.name: np.zeros((samples, p.size)) for p in network.populations}
    i = {p.name: np.zeros((samples, p.size)) for p in network.populations}
    history = {name: [] for name in ("spikes", "v", "i")}
    for step in range(steps):
        before, now[INPUT] = dict(now), batch[:, step].astype(np.float64)
        for population in network.populations:
            name = population.name
            x = population.bias + sum((before if j.recurrent else now)[j.source] @ j.weight.T for j in into[name])
            v[name], i[name], now[name] = _step(population, v[name], i[name], x)
        history["spikes"].append({p.name: now[p.name] for p in network.populations})
        if record:
            history["v"].append(dict(v))
            history["i"].append(dict(i))
    populations = _stack(history["spikes"], network, samples, np.uint8, single)
    return Outputs(
        spikes=np.concatenate([populations[name] for name in network.outputs], axis=-1),
        populations=populations,
        v=_stack(history["v"], network, samples, np.float64, single) if record else {},
        i=_stack(history["i"], network, samples, np.float64, single) if record else {})


def _step(population, v, i, x):
    """``(v, i, spikes)`` after one step of ``population`` with input ``x``."""
    if population.model == "cuba":
        i = population.alpha * i + x
        x = i
    v = population.beta * v + x + population.leak
    spiked = v > population.threshold
    return np.where(spiked, population.v_reset, v), i, spiked.astype(np.float64)


def _stack(history, network, samples, dtype, single):
    """``{population: (samples, steps, size)}`` from a list of per-step ``{population: (samples, size)}``."""
    stacked = {}
    for population in network.populations:
        steps = [record[population.name] for record in history]
        array = (np.stack(steps, axis=1) if steps else np.zeros((samples, 0, population.size))).astype(dtype)
        stacked[population.name] = array[0] if single else array
    return stacked
