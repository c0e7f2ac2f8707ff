"""A random workload for the LIF core (with or without its STDP learning engine) and the activity it causes:
the counts behind throughput and energy figures of a sweep (docs/sweep.md)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from spikeforge.sim.lif_core.cycles import step_cycles
from spikeforge.sim.lif_core.model import LifModel


__all__ = ["Activity", "random_workload", "run_workload", "estimate_cycles"]


@dataclasses.dataclass(frozen=True)
class Activity:
    """What a workload did, counted over all its timesteps.

    Attributes
    ----------
    steps, events, spikes : int
        Timesteps, input events, output spikes.
    synaptic_ops : int
        Weights added to an accumulator: events x neurons.
    neuron_updates : int
        steps x neurons.
    weight_reads_bits, weight_writes_bits, state_reads_bits, state_writes_bits : int
        Memory traffic in bits: every event reads G weight words and reads and writes G state words; every
        tick reads and writes G state words. With learning on, every event also writes its G weight words back
        (depression), every tick reads and writes each axon's trace, and each group with a learning spike
        reads and writes one weight word per axon (potentiation).
    cycles : int
        Clock cycles, from :func:`estimate_cycles` or measured on the RTL.
    """

    steps: int
    events: int
    spikes: int
    synaptic_ops: int
    neuron_updates: int
    weight_reads_bits: int
    weight_writes_bits: int
    state_reads_bits: int
    state_writes_bits: int
    cycles: int


def random_workload(params, *, steps, activity, seed):
    """Random weights and events: each axon fires in each step with probability ``activity``.

    Returns (weights, events) with events a list of (t, axon)."""
    rng = np.random.default_rng(seed)
    lo, hi = params.weight_range
    weights = rng.integers(lo // 2, hi + 1, size=(params.axons, params.neurons))
    fired = rng.random((steps, params.axons)) < activity
    events = [(int(t), int(a)) for t, a in zip(*np.nonzero(fired))]
    return weights, events


def estimate_cycles(params, events_per_step, spikes_per_step, *, stdp=None, learning_groups_per_step=None):
    """Cycles of the RTL without stalls over the timesteps of a workload, by the core's cycle model
    (:func:`spikeforge.sim.lif_core.cycles.step_cycles`): ``events_per_step[t]`` input events and
    ``spikes_per_step[t]`` spikes in step t, with a learning engine ``stdp`` (a :class:`StdpParams`)
    ``learning_groups_per_step[t]`` groups with a learning spike.
    tests/test_lif_core_pysim.py and tests/test_stdp_pysim.py hold it against the RTL."""
    if stdp is None or not stdp.enabled:
        learning_groups_per_step = itertools.repeat(0)
    return sum(step_cycles(params, events, spikes, stdp=stdp, learning_groups=groups)
               for events, spikes, groups in zip(events_per_step, spikes_per_step, learning_groups_per_step))


def run_workload(params, *, steps, activity, seed, state_word_bits, stdp=None):
    """Run a random workload on the golden model (with the learning engine ``stdp`` when given and enabled:
    every neuron plastic, learning on) and count its activity."""
    from spikeforge.sim.stdp.model import StdpModel

    weights, events = random_workload(params, steps=steps, activity=activity, seed=seed)
    learn = stdp is not None and stdp.enabled
    model = StdpModel(params, stdp, weights) if learn else LifModel(params, weights)
    spikes = model.run(events, steps)
    events_per_step = np.bincount([t for t, _ in events], minlength=steps)
    spikes_per_step = np.bincount([t for t, _ in spikes], minlength=steps)
    G, E, A = params.groups, len(events), params.axons
    learning_groups = [len({n // params.lanes for s, n in spikes if s == t}) for t in range(steps)]
    weight_word = params.lanes * params.weight_bits
    potentiated = sum(learning_groups) * A * weight_word if learn else 0
    traces = steps * A * stdp.trace_bits if learn else 0
    return Activity(
        steps=steps, events=E, spikes=len(spikes),
        synaptic_ops=E * params.neurons,
        neuron_updates=steps * params.neurons,
        weight_reads_bits=E * G * weight_word + potentiated,
        weight_writes_bits=(E * G * weight_word + potentiated) if learn else 0,
        state_reads_bits=(E + steps) * G * state_word_bits + traces,
        state_writes_bits=(E + steps) * G * state_word_bits + traces,
        cycles=estimate_cycles(params, events_per_step, spikes_per_step, stdp=stdp if learn else None,
                               learning_groups_per_step=learning_groups),
    )
