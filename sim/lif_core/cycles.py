"""The cycle model of the LIF core (with or without its STDP learning engine): clock cycles of each part of a
timestep without idle cycles or backpressure. Pure Python.

A timestep is its input events, each an integrate pass over the G = N / P neuron groups, then the tick: the
neuron pass (G cycles plus the latency of the two pipelines) and, with a learning engine, the learning passes,
during which the spikes leave, one neuron per cycle (docs/lif_core.md, docs/stdp.md). A reward command is a pass
of its own over the A x G weight words.

Everything that counts cycles derives from here: the estimate of a sweep without an RTL run
(:func:`spikeforge.sim.lif_core.workload.estimate_cycles`, via :func:`step_cycles`) and the bound on how long a
bench waits for the core (:func:`patience`: the cocotb drivers, the benchmark scripts).
tests/test_lif_core_pysim.py and tests/test_stdp_pysim.py hold the estimate against the RTL.
"""

from __future__ import annotations


__all__ = ["event_cycles", "learning_cycles", "patience", "reward_cycles", "step_cycles", "tick_cycles"]


def _learns(stdp):
    return stdp is not None and stdp.enabled


def _single_port(stdp):
    return _learns(stdp) and stdp.weight_port == "single"


def event_cycles(params, stdp=None):
    """Cycles of one input event offered back to back: the integrate pass visits the G groups, one a cycle.

    With learning, a core of one group spends 2 (an event waits for the write-back of the one before), and a
    single weight port (``stdp.weight_port = "single"``), which reads only in the cycles without a write-back,
    2 G (at least 3)."""
    G = params.groups
    if _single_port(stdp):
        return max(2 * G, 3)
    if _learns(stdp) and G == 1:
        return 2
    return G


def reward_cycles(params, stdp):
    """Cycles of a pass over the A x G weight words plus its latency: a reward command, and a reward engine's
    eligibility decay at every tick. A single weight port takes twice as long."""
    rate = 2 if _single_port(stdp) else 1
    return rate * params.axons * params.groups + 2


def learning_cycles(params, stdp, learning_groups):
    """Cycles of a tick's learning passes, each plus its latency: the trace pass (A cycles), the scan of the groups
    (2 cycles each), one potentiation pass of A cycles per group with a learning spike (2 A with a single weight
    port) and, with rewards, the eligibility decay (:func:`reward_cycles`)."""
    G, A = params.groups, params.axons
    cycles = (A + 2) + 2 * G + 1 + learning_groups * (2 * A + 1 if _single_port(stdp) else A + 3)
    if stdp.reward:
        cycles += reward_cycles(params, stdp)
    return cycles


def tick_cycles(params, spikes, *, stdp=None, learning_groups=0):
    """Cycles of a tick in which ``spikes`` neurons spike and ``learning_groups`` groups hold a learning spike,
    from the tick offered to ``done``.

    Without learning: G cycles plus the latency of the two pipelines (8 cycles, 9 when a spike leaves: the
    emitter's output register), unless the spikes, emitted one per cycle, take longer. With a learning engine ``stdp`` (a :class:`StdpParams`, enabled): G cycles plus 6,
    plus the learning passes (:func:`learning_cycles`) or the spikes, whichever take longer."""
    G = params.groups
    if not _learns(stdp):
        return max(G, spikes) + 8 + (spikes > 0)
    return G + 6 + max(learning_cycles(params, stdp, learning_groups), spikes)


def step_cycles(params, events, spikes, *, stdp=None, learning_groups=0):
    """Cycles of a timestep of ``events`` input events offered back to back, then its tick
    (:func:`tick_cycles`)."""
    return events * event_cycles(params, stdp) + tick_cycles(params, spikes, stdp=stdp,
                                                             learning_groups=learning_groups)


def patience(params, stdp=None, *, events=0, slack=40):
    """A bound on the cycles a bench waits for the core: ``slack`` times the longest wait without stalls, plus
    1000.

    The longest wait is a timestep of ``events`` events in which every neuron spikes and every group learns
    (``events = 0``: a tick, the longest a handshake or ``done`` waits for), or a reward command. The slack covers
    idle cycles and backpressure."""
    learns = _learns(stdp)
    longest = step_cycles(params, events, params.neurons, stdp=stdp,
                          learning_groups=params.groups if learns else 0)
    if learns and stdp.reward:
        longest = max(longest, reward_cycles(params, stdp))
    return slack * longest + 1000
