"""Running the LIF core's generated Verilog in Icarus (through cocotb) or Verilator (the batch harness), from the
host.

:func:`build_core` exports and builds one configuration for cocotb; :func:`simulate_rtl` replays a stimulus on
it (the ``simulate`` command) and returns the spikes and, optionally, the state after every tick, in the same
form as the golden model (:class:`spikeforge.sim.lif_core.model.LifModel`). In Verilator the replay is one run of
the batch harness (:mod:`spikeforge.sim.lif_core.batch`), with the same spikes, state and cycles.
"""

from __future__ import annotations


import numpy as np

from spikeforge.hdl.lif_core.core import LifCore
from spikeforge.hdl.lif_core.manifest import lif_core_manifest
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.export import export
from spikeforge.sim.harness.manifest import Manifest
from spikeforge.sim.harness.runner import build, run_with_output
from spikeforge.sim.lif_core.events import events_by_step
from spikeforge.sim.lif_core.model import LifModel


__all__ = ["BENCH", "TOPLEVEL", "build_core", "event_schedule", "replay_rtl", "run_replay", "simulate_rtl"]


BENCH = "spikeforge.sim.lif_core.bench"
TOPLEVEL = "lif_core"


def build_core(params, *, sim, build_dir, waves=False):
    """Export a :class:`LifCore` of ``params`` to ``build_dir`` and build it for ``sim``.

    The manifest is the one ``spikeforge generate`` writes (:func:`spikeforge.hdl.lif_core.manifest.lif_core_manifest`:
    parameters and memory map); it is all the cocotb side learns about the core.

    Returns
    -------
    spikeforge.sim.harness.runner.Build

    Raises
    ------
    spikeforge.sim.harness.runner.BuildError
        If the simulator cannot build the Verilog.
    """
    if not isinstance(params, LifParams):
        raise TypeError(f"params must be a LifParams, not {params!r}")
    core = LifCore(params)
    verilog, manifest = export(core, name=TOPLEVEL, build_dir=build_dir, description=lif_core_manifest(core))
    return build(sim, sources=[verilog], manifest=manifest, build_dir=build_dir, waves=waves)


def simulate_rtl(params, *, weights, events, steps, sim="icarus", build_dir, dump_state=True, waves=False):
    """Run ``steps`` timesteps of ``events`` on the RTL of ``params``; returns (spikes, state) as
    :func:`replay_rtl`, which also gives the cycles of each step."""
    spikes, state, _ = replay_rtl(params, weights=weights, events=events, steps=steps, sim=sim,
                                  build_dir=build_dir, dump_state=dump_state, waves=waves)
    return spikes, state


def replay_rtl(params, *, weights, events, steps, sim="icarus", build_dir, dump_state=True, waves=False):
    """Run ``steps`` timesteps of ``events`` on the RTL of ``params``.

    The core starts like a fresh :class:`LifModel`: the given weights, every state field zero, per-neuron
    thresholds and biases zero.

    Parameters
    ----------
    params : LifParams
    weights : array_like
        Integer weights of shape (axons, neurons).
    events : iterable of (int, int)
        (timestep, axon) input events; events outside ``0 <= t < steps`` are ignored, like
        :meth:`LifModel.run`. An axon outside ``0 <= axon < axons`` is sent and counted by the core as a bad
        event, as long as it fits the core's axon address.
    steps : int
        Number of timesteps.
    sim : str
        ``"icarus"`` or ``"verilator"``.
    build_dir : path-like
        Build directory of this configuration.
    dump_state : bool
        Read ``v`` (and ``u`` for cuba) back after every tick.
    waves : bool
        Record waveforms into the build directory.

    Returns
    -------
    spikes : list of (int, int)
        (timestep, neuron), in time then neuron order.
    state : dict
        ``{"v": array (steps, neurons)}`` plus ``"u"`` for cuba; empty without ``dump_state``.
    cycles : list of int
        Clock cycles of each step, from its first event offered to ``done``.

    Raises
    ------
    ValueError
        If the weights or an event do not fit the core.
    RuntimeError
        If the simulation fails.
    """
    model = LifModel(params, weights)  # validates the weights
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"Steps must be a non-negative integer, not {steps!r}")
    if sim == "verilator" and not waves:
        from spikeforge.sim.lif_core import batch

        compiled = batch.compile_core(params, build_dir=build_dir)
        schedule = event_schedule(compiled.compiled.manifest, params, events, steps)
        done = batch.replay(compiled, params, weights=model.weights, by_step=events_by_step(schedule, steps),
                            dump_state=dump_state)
        return done.spikes, done.state, done.cycles
    built = build_core(params, sim=sim, build_dir=build_dir, waves=waves)
    config = {
        "params": params.to_dict(),
        "weights": model.weights.tolist(),
        "events": event_schedule(Manifest.load(built.manifest), params, events, steps),
        "steps": steps,
        "dump_state": dump_state,
    }
    replay, spikes, state = run_replay(built, BENCH, config, sim=sim, params=params, steps=steps)
    return spikes, state, replay["cycles"]


def event_schedule(manifest, params, events, steps):
    """The ``[t, axon]`` events of ``0 <= t < steps`` for a replay.

    Raises
    ------
    ValueError
        If an axon does not fit the core's axon address (in the core's :class:`Manifest`).
    """
    axon = manifest.stream_layout("events").field("axon")
    schedule = []
    for t, address in events:
        t, address = int(t), int(address)
        if not axon.fits(address):
            raise ValueError(f"Event axon {address} at timestep {t} does not fit the axon address of a core of "
                             f"{params.axons} axons ({axon.range[0]}..{axon.range[1]})")
        if 0 <= t < steps:
            schedule.append([t, address])
    return schedule


def run_replay(built, bench, config, *, sim, params, steps):
    """Run ``bench``'s replay test on ``built`` with ``config`` (plus the output path it writes).

    Returns (the bench's whole output, spikes as a list of (t, neuron), state as ``{name: array (steps,
    neurons)}``); raises RuntimeError if the simulation fails."""
    result, replay = run_with_output(built, test_module=bench, tests=r"\.replay$", config=config, name="simulate")
    if not result.ok:
        raise RuntimeError(f"The RTL simulation in {sim} failed: {result.message}")
    spikes = [(int(t), int(n)) for t, n in replay["spikes"]]
    state = {name: np.array(values, dtype=np.int64).reshape(steps, params.neurons)
             for name, values in replay["state"].items()}
    return replay, spikes, state
