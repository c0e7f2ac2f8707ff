"""A random workload for the LIF core and the activity it causes: the counts behind throughput and energy
figures of a sweep (docs/sweep.md)."""

from __future__ import annotations

import dataclasses

import numpy as np

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
    weight_reads_bits, state_reads_bits, state_writes_bits : int
        Memory traffic in bits: every event reads G weight words and reads and writes G state words; every
        tick reads and writes G state words.
    cycles : int
        Clock cycles, from :func:`estimate_cycles` or measured on the RTL.
    """

    steps: int
    events: int
    spikes: int
    synaptic_ops: int
    neuron_updates: int
    weight_reads_bits: int
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


def estimate_cycles(params, events_per_step, spikes_per_step):
    """Cycles of the RTL without stalls: each event costs G cycles back to back; a tick costs G cycles plus the
    latency of the two pipelines (8 cycles), unless the spikes, emitted one per cycle, take longer.
    tests/test_lif_core_pysim.py holds it against the RTL."""
    G = params.groups
    total = 0
    for events, spikes in zip(events_per_step, spikes_per_step):
        total += events * G + max(G, spikes) + 8
    return total


def run_workload(params, *, steps, activity, seed, state_word_bits):
    """Run a random workload on the golden model and count its activity."""
    weights, events = random_workload(params, steps=steps, activity=activity, seed=seed)
    model = LifModel(params, weights)
    spikes = model.run(events, steps)
    events_per_step = np.bincount([t for t, _ in events], minlength=steps)
    spikes_per_step = np.bincount([t for t, _ in spikes], minlength=steps)
    G, E = params.groups, len(events)
    weight_word = params.lanes * params.weight_bits
    return Activity(
        steps=steps, events=E, spikes=len(spikes),
        synaptic_ops=E * params.neurons,
        neuron_updates=steps * params.neurons,
        weight_reads_bits=E * G * weight_word,
        state_reads_bits=(E + steps) * G * state_word_bits,
        state_writes_bits=(E + steps) * G * state_word_bits,
        cycles=estimate_cycles(params, events_per_step, spikes_per_step),
    )
