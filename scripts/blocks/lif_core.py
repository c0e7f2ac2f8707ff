"""The LIF core (``[lif_core]``), with its STDP learning engine when ``[stdp]`` is enabled.

Generator :mod:`spikeforge.hdl.lif_core.core`, golden models :mod:`spikeforge.sim.lif_core.model` and
:mod:`spikeforge.sim.stdp.model`, benches :mod:`spikeforge.sim.lif_core.bench` and :mod:`spikeforge.sim.stdp.bench`,
board top-level :class:`spikeforge.boards.lif_top.LifTop`; docs/lif_core.md and docs/stdp.md.
"""

from __future__ import annotations

import contextlib
import dataclasses

import click
import numpy as np

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.files import MAX_STEPS

from ..data_files import (DataFileError, OutOfOrder, SpikeWriter, read_event_steps, read_events, read_weights,
                          write_cycles, write_spikes, write_state)
from ..errors import ConfigError, InputError, ToolError
from ..progress import progress, still_running
from .description import (Block, BoardRun, BoardRunDone, MismatchError, Simulation, SweepWorkload, Verdict,
                          check_workload, counted, fmax_hz, lazy)


__all__ = ["BLOCK", "learning"]


TOPLEVEL = "lif_core"
VERIFY_STEPS = 30
LEARNING_VERIFY_STEPS = 20     # every weight, trace and eligibility is read back after every tick
RTL_BACKENDS = ("none", "icarus", "verilator")


def learning(config):
    """The [stdp] parameters when the configuration builds the learning engine, else None."""
    stdp = config.blocks.get("stdp")
    return stdp if stdp is not None and stdp.enabled else None


def _component(config):
    from spikeforge.hdl.lif_core.core import LifCore

    return LifCore(config.blocks["lif_core"], stdp=learning(config))


def _design(config):
    p = config.blocks["lif_core"]
    return f"{p.neurons}x{p.axons}x{p.weight_bits} P={p.lanes}" + (" STDP" if learning(config) else "")


def _board_top(config, *, baud, clock_mhz=None):
    from spikeforge.boards.lif_top import LifTop

    return LifTop(config.blocks["lif_core"], stdp=learning(config), baud=baud, clock_mhz=clock_mhz)


# --- simulate ------------------------------------------------------------------------------------------------

def _stage(message):
    click.echo(f"spikeforge: {message}", err=True)


def _by_step(events, steps):
    from spikeforge.sim.lif_core.events import events_by_step

    return events_by_step(events, steps)


def _run_model(params, weights, by_step, dump_state, on_spikes):
    """Run the golden model over ``by_step``, ``(t, axons)`` for t = 0, 1, ...; hand each step's spiking neurons
    to ``on_spikes(t, neurons)``. Returns the state: v, and u for cuba, after every tick (empty without
    ``dump_state``)."""
    from spikeforge.sim.lif_core.model import LifModel

    model = LifModel(params, weights)
    steps, v, u = 0, [], []
    for t, axons in by_step:
        on_spikes(t, model.step(np.asarray(axons, dtype=np.int64)))
        if dump_state:
            v.append(model.v.copy())
            u.append(model.u.copy())
        steps += 1
    state = {}
    if dump_state:
        state["v"] = np.array(v, dtype=np.int64).reshape(steps, params.neurons)
        if params.has_current:
            state["u"] = np.array(u, dtype=np.int64).reshape(steps, params.neurons)
    return state


def _stream_model(params, stdp, request, stage, outputs):
    """The golden model over an events file read a timestep at a time (memory holds one step and the outputs,
    whatever the file's size; an inference core's spikes go to ``stage/spikes.csv`` as they come). Returns the
    summary line; raises :class:`~spikeforge.scripts.data_files.OutOfOrder` for a file whose rows go back in
    time."""
    steps = _steps_option(request)
    weights = _weights_option(request, params)
    reward_bits = stdp.reward_bits if stdp is not None and stdp.reward else None
    read = {"steps": 0, "rewards": 0}
    with _input_errors(), (progress(length=steps, label="simulating", unit="timesteps") if steps
                           else still_running(f"simulating {request.input}")) as bar:
        def by_step():
            for t, axons, values in read_event_steps(request.input, axons=params.axons, steps=steps,
                                                     reward_bits=reward_bits):
                read["steps"] += 1
                read["rewards"] += len(values)
                yield t, axons, values
                if bar is not None:
                    bar.update(1)

        if stdp is None:
            with open(stage / "spikes.csv", "w", newline="", encoding="utf-8") as file:
                writer = SpikeWriter(file)
                state = _run_model(params, weights, ((t, axons) for t, axons, _ in by_step()), outputs.state,
                                   writer.write)
            spikes, learned = writer.count, None
        else:
            from spikeforge.sim.stdp.simulate import simulate_model_steps

            found, state, learned = simulate_model_steps(params, stdp, weights=weights, by_step=by_step(),
                                                         dump_state=outputs.state, trace_weights=outputs.trace)
            write_spikes(stage / "spikes.csv", found)
            spikes = len(found)
    if not read["steps"]:
        raise InputError(f"{request.input}: no events, so the number of timesteps is unknown; give --steps")
    return _simulated(request, stage, spikes, read["steps"], state=state if outputs.state else None,
                      rewards=read["rewards"],
                      learned=(learned["trace" if outputs.trace else "weights"] if learned and outputs.weights
                               else None))


@dataclasses.dataclass(frozen=True)
class _Outputs:
    """What ``simulate`` writes besides spikes.csv."""
    state: bool         # state.npz
    weights: bool       # weights.npy
    trace: bool         # weights.npy holds every step's weights


def _run_learning(params, stdp, weights, events, rewards, steps, backend, outputs, build_dir):
    """Spikes, state, learned weights and the cycles of every step (None on the model) of a learning core."""
    events = _event_list(events)
    if backend == "model":
        from spikeforge.sim.stdp.simulate import simulate_model

        with progress(length=steps, label="simulating", unit="timesteps") as bar:
            return (*simulate_model(params, stdp, weights=weights, events=events, rewards=rewards, steps=steps,
                                    dump_state=outputs.state, trace_weights=outputs.trace,
                                    on_step=lambda: bar.update(1)), None)
    from spikeforge.sim.stdp.rtl import simulate_rtl

    _stage(f"simulating {steps} timesteps of the generated Verilog of the learning core in {backend}")
    return simulate_rtl(params, stdp, weights=weights, events=events, rewards=rewards, steps=steps,
                        sim=backend, build_dir=build_dir, dump_state=outputs.state, trace_weights=outputs.trace)


def _run_inference(params, weights, events, steps, backend, outputs, build_dir):
    """Spikes, state and the cycles of every step (None on the model) of an inference core."""
    if backend == "model":
        starts = np.searchsorted(events[:, 0], np.arange(steps + 1))     # step t: events[starts[t]:starts[t + 1]]
        spikes = []
        state = _run_model(params, weights, ((t, events[starts[t]:starts[t + 1], 1]) for t in range(steps)),
                           outputs.state, lambda t, neurons: spikes.extend((t, int(n)) for n in neurons))
        return spikes, state, None
    from spikeforge.sim.lif_core.rtl import replay_rtl

    _stage(f"simulating {steps} timesteps of the generated Verilog in {backend}")
    return replay_rtl(params, weights=weights, events=_event_list(events), steps=steps, sim=backend,
                      build_dir=build_dir, dump_state=outputs.state)


def _steps_option(request):
    steps = request.options.get("steps")
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise InputError(f"--steps {steps}: the number of timesteps must be in 1..{MAX_STEPS}")
    return steps


def _weights_option(request, params):
    path = request.options.get("weights")
    with _input_errors():
        return read_weights(path, params) if path is not None else None


@contextlib.contextmanager
def _input_errors():
    """A bad configuration or data file is bad input (one line, exit code 2)."""
    try:
        yield
    except (ConfigError, DataFileError) as exc:
        raise InputError(str(exc)) from None


def _read_input(config, request):
    """(events, rewards, weights, steps) of a simulate request, checked; the events sorted by time."""
    params, stdp = config.blocks["lif_core"], learning(config)
    steps = _steps_option(request)
    reward_bits = stdp.reward_bits if stdp is not None and stdp.reward else None
    with _input_errors():
        events, rewards = read_events(request.input, axons=params.axons, steps=steps, reward_bits=reward_bits)
    weights = _weights_option(request, params)
    if steps is None:
        if not len(events) and not rewards:
            raise InputError(f"{request.input}: no events, so the number of timesteps is unknown; give --steps")
        steps = max(([int(events[:, 0].max())] if len(events) else []) + [t for t, _ in rewards]) + 1
    events = events[np.argsort(events[:, 0], kind="stable")]
    rewards.sort(key=lambda reward: reward[0])
    return events, rewards, weights, steps


def _event_list(events):
    """The ``(t, axon)`` tuples of an events array, for the back ends that take a list."""
    return [tuple(event) for event in events.tolist()]


def _simulate(config, request, stage, build_dir):
    params, stdp = config.blocks["lif_core"], learning(config)
    options = request.options
    for option in ("dump_weights", "trace_weights"):
        if options.get(option) and stdp is None:
            raise InputError(f"--{option.replace('_', '-')} needs a learning core: {config.path} has no enabled "
                             f"[stdp] table")
    outputs = _Outputs(state=bool(options.get("dump_state")),
                       weights=bool(options.get("dump_weights") or options.get("trace_weights")),
                       trace=bool(options.get("trace_weights")))
    if request.backend == "model":
        try:
            return _stream_model(params, stdp, request, stage, outputs)
        except OutOfOrder:
            pass            # rows out of time order: read the whole file and sort it
    events, rewards, weights, steps = _read_input(config, request)
    try:
        if stdp is not None:
            spikes, state, learned, cycles = _run_learning(params, stdp, weights, events, rewards, steps,
                                                           request.backend, outputs, build_dir)
        else:
            spikes, state, cycles = _run_inference(params, weights, events, steps, request.backend, outputs,
                                                   build_dir)
    except RuntimeError as exc:
        raise ToolError(str(exc)) from None
    write_spikes(stage / "spikes.csv", spikes)
    return _simulated(request, stage, len(spikes), steps, state=state if outputs.state else None, cycles=cycles,
                      learned=learned["trace" if outputs.trace else "weights"] if outputs.weights else None,
                      rewards=len(rewards))


def _simulated(request, stage, spikes, steps, *, state=None, cycles=None, learned=None, rewards=0):
    """Write the outputs besides spikes.csv (already in ``stage``) and return the summary line."""
    written = ["spikes.csv"]
    if cycles is not None:
        write_cycles(stage / "cycles.json", sum(cycles), per_step=cycles)
        written.append("cycles.json")
    if state is not None:
        write_state(stage / "state.npz", state)
        written.append("state.npz")
    if learned is not None:
        np.save(stage / "weights.npy", learned)
        written.append("weights.npy")
    rewarded = f" and {counted(rewards, 'reward')}" if rewards else ""
    paths = [str(request.out_dir / name) for name in written]
    listed = paths[0] if len(paths) == 1 else f"{', '.join(paths[:-1])} and {paths[-1]}"
    return f"{counted(spikes, 'spike')} in {counted(steps, 'timestep')}{rewarded}; wrote {listed}"


# --- run on a board ------------------------------------------------------------------------------------------

def _read_for_board(config, request):
    """(weights, events by step, rewards by step, read the weights back) of a ``run`` request, checked."""
    stdp = learning(config)
    if request.options.get("dump_weights") and stdp is None:
        raise InputError(f"--dump-weights needs a learning core: {config.path} has no enabled [stdp] table")
    events, rewards, weights, steps = _read_input(config, request)
    return weights, _by_step(_event_list(events), steps), _by_step(rewards, steps), \
        bool(request.options.get("dump_weights"))


def _run_on_board(config, inputs, board, stage, out_dir):
    from spikeforge.scripts.host.run import run_learning_core, run_lif_core

    params, stdp = config.blocks["lif_core"], learning(config)
    weights, by_step, rewards, read_weights = inputs
    written = [out_dir / "spikes.csv"]
    if stdp is None:
        spikes = run_lif_core(board, params, weights, by_step)
    else:
        spikes, learned = run_learning_core(board, params, stdp, weights, by_step, rewards,
                                            read_weights=read_weights)
        if learned is not None:
            np.save(stage / "weights.npy", learned)
            written.append(out_dir / "weights.npy")
    write_spikes(stage / "spikes.csv", spikes)
    rewarded = f", {counted(sum(map(len, rewards)), 'reward')}" if stdp is not None and stdp.reward else ""
    return BoardRunDone(timesteps=len(by_step), events=sum(map(len, by_step)),
                        wrote=f"{counted(len(spikes), 'spike')}{rewarded}; wrote "
                              f"{' and '.join(str(path) for path in written)}")


# --- verify --------------------------------------------------------------------------------------------------

def _verify_steps(config):
    return LEARNING_VERIFY_STEPS if learning(config) else VERIFY_STEPS


def _verify(config, *, sim, steps, seed, build_dir, echo):
    params, stdp = config.blocks["lif_core"], learning(config)
    if stdp is not None:
        from spikeforge.sim.stdp.verify import verify

        echo(f"verifying {steps} random timesteps of the learning core (seed {seed}) in {sim} against the golden "
             f"model")
        return Verdict(*verify(params, stdp, sim=sim, steps=steps, seed=seed, build_dir=build_dir))
    from spikeforge.sim.lif_core.verify import verify

    echo(f"verifying {steps} random timesteps (seed {seed}) in {sim} against the golden model")
    return Verdict(*verify(params, sim=sim, steps=steps, seed=seed, build_dir=build_dir))


# --- sweep ---------------------------------------------------------------------------------------------------

def _check_workload(workload):
    check_workload(workload, counts={"steps": (1, 100000)}, fractions=("activity",), rtl=RTL_BACKENDS)


def _rtl_cycles(params, workload, build_dir):
    """Run the workload on the RTL; raise when it disagrees with the golden model."""
    from spikeforge.sim.lif_core.model import LifModel
    from spikeforge.sim.lif_core.rtl import replay_rtl
    from spikeforge.sim.lif_core.workload import random_workload

    weights, events = random_workload(params, steps=workload["steps"], activity=workload["activity"],
                                      seed=workload["seed"])
    spikes, _, cycles = replay_rtl(params, weights=weights, events=events, steps=workload["steps"],
                                   sim=workload["rtl"], build_dir=build_dir / f"rtl-{workload['rtl']}",
                                   dump_state=False)
    expected = LifModel(params, weights).run(events, workload["steps"])
    if sorted(spikes) != sorted(expected):
        raise MismatchError("RTL spikes differ from the golden model")
    return sum(cycles)


def _refuse(config, workload):
    if learning(config) is not None and workload["rtl"] != "none":
        raise ConfigError("workload rtl measures inference cores only; with [stdp] enabled the cycles come from "
                          "the estimate (set rtl = \"none\")")


def _measure(config, workload, build_dir, reports):
    from spikeforge.hdl.lif_core.core import neuron_layout
    from spikeforge.sim.energy import energy_pj
    from spikeforge.sim.lif_core.workload import run_workload

    params, stdp = config.blocks["lif_core"], learning(config)
    state_word_bits = params.lanes * neuron_layout(params, stdp).size
    activity = run_workload(params, steps=workload["steps"], activity=workload["activity"],
                            seed=workload["seed"], state_word_bits=state_word_bits, stdp=stdp)
    cycles, source = activity.cycles, "estimate"
    if workload["rtl"] != "none":
        cycles, source = _rtl_cycles(params, workload, build_dir), workload["rtl"]
    energy = energy_pj(activity, workload["energy"])
    row = {
        "cycles_source": source,
        "steps": activity.steps, "events": activity.events, "spikes": activity.spikes,
        "synaptic_ops": activity.synaptic_ops,
        "cycles_per_step": cycles / activity.steps,
        "synops_per_cycle": activity.synaptic_ops / cycles,
        "energy_nj": energy / 1000,
        "energy_per_synop_pj": energy / max(activity.synaptic_ops, 1),
    }
    if hz := fmax_hz(reports):
        row["synops_per_s"] = row["synops_per_cycle"] * hz
        row["steps_per_s"] = hz / row["cycles_per_step"]
    return row


BLOCK = Block(
    name="lif_core",
    params=LifParams,
    summary="a LIF neuron core",
    extensions={"stdp": StdpParams},
    toplevel=lambda config: TOPLEVEL,
    component=_component,
    describe=lazy("spikeforge.hdl.lif_core.manifest", "lif_core_manifest"),
    design=_design,
    board_top=_board_top,
    simulation=Simulation(
        input="events, a CSV file t,addr (addr: axon; with [stdp] reward = true also reward rows t,reward,value "
              "under the header t,addr,value)",
        outputs="DIR/spikes.csv (t,addr; addr = neuron), with --dump-state DIR/state.npz, with [stdp] and "
                "--dump-weights or --trace-weights DIR/weights.npy",
        options=("weights", "steps", "dump_state", "dump_weights", "trace_weights"),
        run=_simulate,
    ),
    verify=_verify,
    verify_steps=_verify_steps,
    sweep=SweepWorkload(
        defaults={"steps": 20, "activity": 0.05, "seed": 1, "rtl": "none"},
        check=_check_workload,
        measure=_measure,
        objectives={"logic_cells": "minimize", "synops_per_s": "maximize"},
        metrics=("cycles_per_step", "synops_per_cycle", "synops_per_s", "steps_per_s", "energy_nj",
                 "energy_per_synop_pj", "steps", "events", "spikes", "synaptic_ops"),
        refuse=_refuse,
    ),
    board_run=BoardRun(outputs="DIR/spikes.csv (t,addr; addr = neuron), with [stdp] and --dump-weights the "
                               "learned weights read back into DIR/weights.npy",
                       read=_read_for_board, run=_run_on_board),
)
