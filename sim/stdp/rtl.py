"""Running a learning LIF core's generated Verilog in Icarus (through cocotb) or Verilator (the batch harness,
:mod:`spikeforge.sim.lif_core.batch`), from the host.

:func:`build_core` exports and builds one configuration; :func:`simulate_rtl` replays a stimulus (input events
and reward commands) on it, for the ``simulate`` command, and returns the spikes, the weights it learned and
optionally the state after every tick, in the same form as
:func:`spikeforge.sim.stdp.simulate.simulate_model` does from the golden model.
"""

from __future__ import annotations

from spikeforge.hdl.lif_core.core import LifCore
from spikeforge.hdl.lif_core.manifest import lif_core_manifest
from spikeforge.hdl.export import export
from spikeforge.sim.harness.manifest import Manifest
from spikeforge.sim.harness.runner import build
from spikeforge.sim.lif_core.events import events_by_step
from spikeforge.sim.lif_core.rtl import event_schedule, run_replay
from spikeforge.sim.stdp.model import StdpModel
from spikeforge.sim.stdp.simulate import check_params, check_steps, learned_result, schedule_rewards


__all__ = ["BENCH", "TOPLEVEL", "build_core", "simulate_rtl"]


BENCH = "spikeforge.sim.stdp.bench"
TOPLEVEL = "lif_core"


def build_core(params, stdp, *, sim, build_dir, waves=False):
    """Export a learning :class:`LifCore` of ``params`` and ``stdp`` to ``build_dir`` and build it for ``sim``.

    Returns
    -------
    spikeforge.sim.harness.runner.Build

    Raises
    ------
    spikeforge.sim.harness.runner.BuildError
        If the simulator cannot build the Verilog.
    """
    check_params(params, stdp)
    core = LifCore(params, stdp=stdp)
    verilog, manifest = export(core, name=TOPLEVEL, build_dir=build_dir, description=lif_core_manifest(core))
    return build(sim, sources=[verilog], manifest=manifest, build_dir=build_dir, waves=waves)


def simulate_rtl(params, stdp, *, weights, events, rewards=(), steps, sim="icarus", build_dir, dump_state=True,
                 trace_weights=False, waves=False):
    """Run ``steps`` timesteps of ``events`` and ``rewards`` on the RTL of a learning core.

    The core starts like a fresh :class:`StdpModel`: the given weights, every state field, trace and eligibility
    zero, every neuron plastic, learning on.

    Parameters
    ----------
    params : LifParams
    stdp : StdpParams
    weights : array_like
        Integer weights of shape (axons, neurons).
    events : iterable of (int, int)
        (timestep, axon) input events; events outside ``0 <= t < steps`` are ignored.
    rewards : iterable of (int, int)
        (timestep, value) reward commands (reward-modulated engines only), each delivered after the tick of its
        step, in the order given; those outside ``0 <= t < steps`` are ignored.
    steps : int
        Number of timesteps.
    sim : str
        ``"icarus"`` or ``"verilator"``.
    build_dir : path-like
        Build directory of this configuration.
    dump_state : bool
        Read ``v`` (and ``u`` for cuba) back after every tick.
    trace_weights : bool
        Read every weight back after every step (slow for large cores: one configuration read per weight).
    waves : bool
        Record waveforms into the build directory.

    Returns
    -------
    spikes : list of (int, int)
        (timestep, neuron), in time then neuron order.
    state : dict
        ``{"v": array (steps, neurons)}`` plus ``"u"`` for cuba; empty without ``dump_state``.
    learned : dict
        ``{"weights": array (axons, neurons)}``, the final weights, plus with ``trace_weights``
        ``"trace"``: array (steps, axons, neurons), the weights after every step (after its rewards).
    cycles : list of int
        Each step's clock cycles, from its first event offered to ``done`` (a reward's pass is in the next
        step's, whose events wait for it).

    Raises
    ------
    ValueError
        If the weights, an event or a reward do not fit the core.
    RuntimeError
        If the simulation fails.
    """
    check_params(params, stdp)
    check_steps(steps)
    model = StdpModel(params, stdp, weights)  # validates the weights
    reward_schedule = schedule_rewards(stdp, rewards, steps)
    if sim == "verilator" and not waves:
        from spikeforge.sim.lif_core import batch

        compiled = batch.compile_core(params, stdp=stdp, build_dir=build_dir)
        schedule = event_schedule(compiled.compiled.manifest, params, events, steps)
        done = batch.replay(compiled, params, weights=model.weights, by_step=events_by_step(schedule, steps),
                            dump_state=dump_state, stdp=stdp, rewards_by_step=events_by_step(reward_schedule, steps),
                            trace_weights=trace_weights)
        return (*learned_result(params, done.spikes, done.state, done.learned[-1],
                                done.learned if trace_weights else None, steps), done.cycles)
    built = build_core(params, stdp, sim=sim, build_dir=build_dir, waves=waves)
    config = {
        "params": params.to_dict(),
        "stdp": stdp.to_dict(),
        "weights": model.weights.tolist(),
        "events": event_schedule(Manifest.load(built.manifest), params, events, steps),
        "rewards": reward_schedule,
        "steps": steps,
        "dump_state": dump_state,
        "trace_weights": trace_weights,
    }
    replay, spikes, state = run_replay(built, BENCH, config, sim=sim, params=params, steps=steps)
    return (*learned_result(params, spikes, state, replay["weights"], replay["trace"] if trace_weights else None,
                            steps), [int(c) for c in replay["cycles"]])
