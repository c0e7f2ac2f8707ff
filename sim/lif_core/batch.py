"""The LIF core's replay (with or without its learning engine) on the batch harness, in one Verilator run.

The same sequence as the cocotb replays (:func:`spikeforge.sim.lif_core.bench.replay`,
:func:`spikeforge.sim.stdp.bench.replay`), queued as a :class:`~spikeforge.sim.harness.batch.Sequence` of
beats, so the spikes, the state and the cycles of every step are the same: the configuration writes of a fresh
core (with learning: traces and eligibilities zero, every neuron plastic; then the weights and the neuron
fields zero), then per step its events, the tick (complete at ``done``), its rewards, and the reads of the state
(and of the weights when traced); at the end the weights of a learning core.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from spikeforge.hdl.export import export
from spikeforge.hdl.lif_core.core import LifCore
from spikeforge.hdl.lif_core.manifest import lif_core_manifest
from spikeforge.sim.harness.batch import BatchModel, Sequence, Stimulus
from spikeforge.sim.harness.batch_build import compile_model
from spikeforge.sim.lif_core.cycles import patience
from spikeforge.sim.lif_core.fields import NEURON_FIELDS
from spikeforge.sim.stdp.rest import rest_writes


__all__ = ["CoreReplay", "compile_core", "replay"]


TOPLEVEL = "lif_core"


@dataclasses.dataclass(frozen=True)
class CoreReplay:
    """What :func:`replay` gives back.

    Attributes
    ----------
    spikes : list of (int, int)
        (timestep, neuron), in time then neuron order.
    state : dict
        ``{name: array (steps, neurons)}``; empty without ``dump_state``.
    cycles : list of int
        Each step's cycles, from its first beat offered to ``done``, as the cocotb replay counts them.
    learned : list of numpy.ndarray
        With learning: the weights after every step when traced, else the final weights; else empty.
    total_cycles : int
        Every cycle of the run, the configuration included.
    seconds : float
        Wall time of the run in the harness (without building the stimulus).
    """

    spikes: list
    state: dict
    cycles: list
    learned: list
    total_cycles: int
    seconds: float


def compile_core(params, *, build_dir, stdp=None):
    """Export the :class:`LifCore` of ``params`` (and ``stdp``) to ``build_dir`` and compile it into the batch
    harness (cached); returns the :class:`~spikeforge.sim.harness.batch.BatchModel`."""
    core = LifCore(params, stdp=stdp)
    verilog, manifest = export(core, name=TOPLEVEL, build_dir=build_dir, description=lif_core_manifest(core))
    return BatchModel(compile_model(verilog, manifest, build_dir=build_dir))


def _commands(op, field, *, axon=0, neuron=0, data=0):
    axon, neuron, data = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (axon, neuron, data))
    count = max(len(axon), len(neuron), len(data))
    return {"op": np.full(count, op, dtype=object), "field": np.full(count, field, dtype=object),
            "axon": np.broadcast_to(axon, count), "neuron": np.broadcast_to(neuron, count),
            "data": np.broadcast_to(data, count)}


def _concat(*commands):
    return {key: np.concatenate([c[key] for c in commands]) for key in commands[0]}


def _start_commands(params, stdp, weights):
    """The writes that make a freshly reset core a fresh model: a learning core's learning state
    (:func:`~spikeforge.sim.stdp.rest.rest_writes`), then the weights and the neuron fields."""
    A, N = params.axons, params.neurons
    every_axon, every_neuron = np.repeat(np.arange(A), N), np.tile(np.arange(N), A)
    commands = []
    if stdp is not None:
        writes = rest_writes(params, stdp)
        commands.append({"op": np.full(len(writes), "WRITE", dtype=object),
                         "field": np.array([w["field"] for w in writes], dtype=object),
                         **{key: np.array([w[key] for w in writes], dtype=np.int64) for key in ("axon", "neuron", "data")}})
    commands.append(_commands("WRITE", "WEIGHT", axon=every_axon, neuron=every_neuron,
                              data=np.asarray(weights, dtype=np.int64).ravel()))
    commands += [_commands("WRITE", NEURON_FIELDS[name], neuron=np.arange(N)) for name in params.neuron_fields()]
    return _concat(*commands)


def replay(model, params, *, weights, by_step, dump_state, stdp=None, rewards_by_step=None, trace_weights=False):
    """Run the steps of ``by_step`` (each a list of axons) on ``model``.

    Parameters
    ----------
    model : BatchModel
        From :func:`compile_core` with the same parameters.
    params : LifParams
    weights : numpy.ndarray
        (axons, neurons), already checked.
    by_step : list of list of int
        The axons of each step's events.
    dump_state : bool
        Read ``v`` (and ``u`` for cuba) after every tick.
    stdp : StdpParams, optional
        The learning engine the core was built with.
    rewards_by_step : list of list of int, optional
        Reward values sent after each step's tick.
    trace_weights : bool
        Read every weight after every step.

    Returns
    -------
    CoreReplay

    Raises
    ------
    spikeforge.sim.harness.batch.BatchStuck
        If the core stops answering.
    """
    A, N = params.axons, params.neurons
    steps = len(by_step)
    stimulus = Stimulus(model, watch=("done",))
    sequence = Sequence(stimulus)
    sequence.then("cfg", _start_commands(params, stdp, weights))
    names = (["v", "u"] if params.has_current else ["v"]) if dump_state else []
    state_reads = _concat(*[_commands("READ", NEURON_FIELDS[name], neuron=np.arange(N)) for name in names]) \
        if names else None
    weight_reads = _commands("READ", "WEIGHT", axon=np.repeat(np.arange(A), N), neuron=np.tile(np.arange(N), A))
    first_beats = []
    for t, axons in enumerate(by_step):
        events = sequence.then("events", {"axon": np.asarray(axons, dtype=np.int64)})
        tick = sequence.then("tick", [0], until=("done", 1))
        first_beats.append(("events", events.start) if len(events) else ("tick", tick.start))
        if rewards_by_step and rewards_by_step[t]:
            sequence.then("reward", [int(value) for value in rewards_by_step[t]])
        if names:
            sequence.then("cfg", state_reads, until=("cfg_rsp", len(names) * N))
        if trace_weights:
            sequence.then("cfg", weight_reads, until=("cfg_rsp", A * N))
    if stdp is not None and not trace_weights:
        sequence.then("cfg", weight_reads, until=("cfg_rsp", A * N))
    start = time.monotonic()
    result = model.run(stimulus, finish={"done": steps, "cfg_rsp": sequence.expected("cfg_rsp")},
                       patience=patience(params, stdp))
    seconds = time.monotonic() - start

    tick_cycles = result.beats("tick").cycles
    spike_cycles = result.beats("spikes").cycles
    step_of_spike = np.searchsorted(tick_cycles, spike_cycles, side="right") - 1
    neurons = result.values("spikes", "neuron")
    spikes = [(int(t), int(n)) for t, n in zip(step_of_spike, neurons)]
    done = result.beats("done").cycles
    cycles = [int(done[t] - result.beats(stream).offered[beat] + 1) for t, (stream, beat) in enumerate(first_beats)]

    responses = result.values("cfg_rsp", "data")
    per_step = len(names) * N + (A * N if trace_weights else 0)
    by_step_reads = responses[:steps * per_step].reshape(steps, per_step)
    state = {name: by_step_reads[:, i * N:(i + 1) * N].copy() for i, name in enumerate(names)}
    if trace_weights:
        learned = list(by_step_reads[:, len(names) * N:].reshape(steps, A, N))
    elif stdp is not None:
        learned = [responses[steps * per_step:].reshape(A, N)]
    else:
        learned = []
    return CoreReplay(spikes=spikes, state=state, cycles=cycles, learned=learned, total_cycles=result.cycles,
                      seconds=seconds)
