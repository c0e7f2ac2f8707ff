"""The chip (``[chip]``): LIF cores on a table-routed AER mesh, one timestep across all of them.

Parameters :mod:`spikeforge.hdl.chip.params`, generator :mod:`spikeforge.hdl.chip.chip`, golden model
:mod:`spikeforge.sim.chip.model`, bench :mod:`spikeforge.sim.chip.bench`, board top-level
:class:`spikeforge.boards.chip_top.ChipTop`; docs/chip.md.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import click
import numpy as np

from spikeforge.hdl.chip.params import ChipParams

from spikeforge.sim.chip.load import neuron_arrays
from spikeforge.sim.files import load_npz, read_spikes as read_input_spikes
from spikeforge.sim.lif_core.fields import state_names

from ..data_files import write_cycles
from ..errors import InputError, ToolError
from ..progress import progress
from .description import (Block, BoardRun, BoardRunDone, MismatchError, Simulation, SweepWorkload, Verdict,
                          check_workload, fmax_hz, lazy, of_table)


__all__ = ["BLOCK", "read_spikes", "read_weights"]


TOPLEVEL = "chip"
VERIFY_STEPS = 8
RTL_BACKENDS = ("icarus", "verilator")


def _load_npz(path, what):
    try:
        return load_npz(path, what)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def read_weights(path, params):
    """The network's arrays from an .npz file (core name -> weights, ``<core>.threshold`` and ``<core>.bias`` of a
    core that takes them per neuron), every array checked against its core; raises InputError."""
    arrays = _load_npz(path, "weight arrays, one per core")
    expected = {}
    for core in params.cores:
        p = core.params
        expected[core.name] = ((p.axons, p.neurons), "(axons, neurons)", p.weight_range)
        for name in neuron_arrays(core):
            expected[f"{core.name}.{name}"] = ((p.neurons,), "(neurons,)", p.v_range)
    for name in arrays:
        if name not in expected:
            raise InputError(f"{path}: array '{name}' is not one of this chip's: {', '.join(expected)}")
    for name, w in arrays.items():
        shape, axes, (lo, hi) = expected[name]
        if w.shape != shape or not np.issubdtype(w.dtype, np.integer):
            raise InputError(f"{path}: '{name}' must be integers of shape {shape} {axes}, not {w.dtype} {w.shape}")
        bad = np.argwhere((w < lo) | (w > hi))
        if len(bad):
            at = ", ".join(str(i) for i in bad[0])
            raise InputError(f"{path}: '{name}' [{at}] = {w[tuple(bad[0])]} is outside {lo}..{hi}")
    return arrays


def read_spikes(path, params):
    """The ``spikes`` array of an .npz file: 0/1 of shape (batch, steps, inputs) or (steps, inputs)."""
    try:
        return read_input_spikes(path, params.inputs)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _weights(config, request):
    params = config.blocks["chip"]
    path = request.options.get("weights")
    if path is None and params.weights is not None:
        path = Path(config.path).parent / params.weights
    return {} if path is None else read_weights(path, params)


class _Recorder:
    """Every core's spikes and state after every step of a model run, and the packets on every link."""

    def __init__(self, params, spikes):
        self.params = params
        batch, steps = (1, spikes.shape[0]) if spikes.ndim == 2 else spikes.shape[:2]
        self.single = spikes.ndim == 2
        self.arrays = {}
        for core in params.cores:
            shape = (batch, steps, core.params.neurons)
            self.arrays[f"{core.name}.spikes"] = np.zeros(shape, dtype=np.uint8)
            for field in state_names(core.params):
                self.arrays[f"{core.name}.{field}"] = np.zeros(shape, dtype=np.int64)
        self.rasters = {core.name: [] for core in params.cores}
        self.traffic = {}

    def __call__(self, b, t, chip):
        for core in self.params.cores:
            fired = chip.spikes[core.name]
            self.arrays[f"{core.name}.spikes"][b, t, fired] = 1
            for field in state_names(core.params):
                self.arrays[f"{core.name}.{field}"][b, t] = getattr(chip.cores[core.name], field)
            if b == 0:
                self.rasters[core.name] += [(t, n) for n in fired]
        if t == self.arrays[f"{self.params.cores[0].name}.spikes"].shape[1] - 1 and b == 0:
            self.traffic = dict(chip.traffic)

    def state(self):
        return {name: a[0] if self.single else a for name, a in self.arrays.items()}


def _run_rtl(params, spikes, weights, request, build_dir):
    """Output spikes and cycles of ``spikes`` on the RTL; with ``--jobs N`` or ``--scheduler``, the batch split
    into N parts (one without ``--jobs``) run at once on local processes or the Dask cluster."""
    from spikeforge.sim.chip.rtl import simulate_rtl

    jobs, scheduler = request.options.get("jobs", 1), request.options.get("scheduler")
    if spikes.ndim == 2 or (jobs == 1 and not scheduler):
        return simulate_rtl(params, spikes, weights, sim=request.backend, build_dir=build_dir)
    from .. import workers

    if request.backend == "verilator":
        from spikeforge.sim.chip.batch import compile_chip

        compile_chip(params, build_dir=build_dir / "batch").close()     # compiled once, then cached for the parts
    parts = [part for part in np.array_split(np.arange(len(spikes)), jobs) if len(part)]
    results = {}
    with workers.executor(jobs, scheduler) as pool, \
            progress(length=len(spikes), label="simulating", unit="samples") as bar:
        futures = {pool.submit(simulate_rtl, params, spikes[part], weights, sim=request.backend,
                               build_dir=build_dir / f"part-{index}"): index for index, part in enumerate(parts)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            bar.update(len(parts[index]))
    return (np.concatenate([results[i][0] for i in range(len(parts))]),
            np.concatenate([results[i][1] for i in range(len(parts))]))


def _simulate(config, request, stage, build_dir):
    params = config.blocks["chip"]
    spikes = read_spikes(request.input, params)
    weights = _weights(config, request)
    steps = spikes.shape[-2] * (1 if spikes.ndim == 2 else spikes.shape[0])
    observe = request.options.get("dump_state") or request.options.get("plot")
    if observe and request.backend != "model":
        raise InputError("--dump-state and --plot of a chip come from the golden model (which the RTL equals); "
                         "use --backend model")
    spread = [f"--{name}" for name in ("jobs", "scheduler") if name in request.options]
    if spread and request.backend == "model":
        raise InputError(f"{spread[0]} spreads the samples of an RTL run; the golden model runs in one process")
    written = ["out.npz"]
    if request.backend == "model":
        from spikeforge.sim.chip.model import run_chip

        recorder = _Recorder(params, spikes)
        with progress(length=steps, label="simulating", unit="timesteps") as bar:
            def on_step(b, t, chip):
                bar.update(1)
                if observe:
                    recorder(b, t, chip)
            out = run_chip(params, spikes, weights, on_step=on_step)
        if request.options.get("dump_state"):
            np.savez(stage / "state.npz", **recorder.state())
            written.append("state.npz")
        if request.options.get("plot"):
            from spikeforge.sim.chip.plot import plot_run

            plot_run(stage / "chip.png", params, recorder.rasters, recorder.traffic)
            written.append("chip.png")
    else:
        click.echo(f"spikeforge: simulating {steps} timesteps of the chip's Verilog in {request.backend}", err=True)
        try:
            out, cycles = _run_rtl(params, spikes, weights, request, build_dir)
        except RuntimeError as exc:
            raise ToolError(str(exc)) from None
        write_cycles(stage / "cycles.json", cycles.sum(), per_step=cycles)
        written.append("cycles.json")
    np.savez(stage / "out.npz", spikes=out)
    paths = ", ".join(str(request.out_dir / name) for name in written)
    return f"{int(out.sum())} output spikes of shape {out.shape}; wrote {paths}"


def _run_on_board(config, inputs, board, stage, out_dir):
    from spikeforge.scripts.host.run import run_chip

    spikes, weights = inputs
    out = run_chip(board, config.blocks["chip"], weights, spikes)
    np.savez(stage / "out.npz", spikes=out)
    return BoardRunDone(timesteps=int(np.prod(spikes.shape[:-1])), events=int(spikes.sum()),
                        wrote=f"{int(out.sum())} output spikes of shape {out.shape}; wrote {out_dir / 'out.npz'}")


def _verify(config, *, sim, steps, seed, build_dir, echo):
    from spikeforge.sim.chip.rtl import verify

    params = config.blocks["chip"]
    weights = None
    if params.weights is not None:
        weights = read_weights(Path(config.path).parent / params.weights, params)
    echo(f"verifying {steps} random timesteps of 2 samples (seed {seed}) in {sim} against the golden model")
    return Verdict(*verify(params, weights, sim=sim, steps=steps, samples=2, seed=seed, build_dir=build_dir))


def _check_workload(workload):
    check_workload(workload, counts={"steps": (1, 10000)}, fractions=("activity",), rtl=RTL_BACKENDS)


def _measure(config, workload, build_dir, reports):
    """Cycles per step of random inputs at the workload's activity on the RTL, checked against the model."""
    from spikeforge.sim.chip.model import run_chip
    from spikeforge.sim.chip.rtl import simulate_rtl

    params = config.blocks["chip"]
    rng = np.random.default_rng(workload["seed"])
    weights = {c.name: rng.integers(-(1 << (c.params.weight_bits - 2)), 1 << (c.params.weight_bits - 1),
                                    size=(c.params.axons, c.params.neurons)) for c in params.cores}
    spikes = (rng.random((workload["steps"], params.inputs)) < workload["activity"]).astype(np.uint8)
    out, cycles = simulate_rtl(params, spikes, weights, sim=workload["rtl"],
                               build_dir=build_dir / f"rtl-{workload['rtl']}")
    if not np.array_equal(out, run_chip(params, spikes, weights)):
        raise MismatchError("RTL outputs differ from the golden model")
    row = {"cycles_source": workload["rtl"], "steps": workload["steps"],
           "cycles_per_step": float(cycles.mean()), "output_spikes": int(out.sum())}
    if hz := fmax_hz(reports):
        row["steps_per_s"] = hz / row["cycles_per_step"]
    return row


BLOCK = Block(
    name="chip",
    params=ChipParams,
    summary="a chip of LIF cores on an AER mesh",
    toplevel=lambda config: TOPLEVEL,
    component=of_table("chip", lazy("spikeforge.hdl.chip.chip", "Chip")),
    describe=lazy("spikeforge.hdl.chip.manifest", "chip_manifest"),
    design=of_table("chip", lambda p: f"{p.width}x{p.height} mesh, {len(p.cores)} cores"),
    board_top=of_table("chip", lazy("spikeforge.boards.chip_top", "ChipTop")),
    simulation=Simulation(
        input="an .npz file of spikes, (batch, steps, inputs) or (steps, inputs)",
        outputs="DIR/out.npz (spikes, (batch, steps, outputs) or (steps, outputs)); with --dump-state DIR/state.npz "
                "(every core's spikes and state per step), with --plot DIR/chip.png (rasters, packets per link)",
        options=("weights", "dump_state", "plot", "jobs", "scheduler"),
        run=_simulate,
    ),
    verify=_verify,
    verify_steps=lambda config: VERIFY_STEPS,
    sweep=SweepWorkload(
        defaults={"steps": 8, "activity": 0.2, "seed": 1, "rtl": "icarus"},
        check=_check_workload,
        measure=_measure,
        objectives={"logic_cells": "minimize", "cycles_per_step": "minimize"},
        metrics=("cycles_per_step", "steps_per_s", "output_spikes", "steps"),
    ),
    board_run=BoardRun(outputs="DIR/out.npz (spikes, (batch, steps, outputs) or (steps, outputs))",
                       read=lambda config, request: (read_spikes(request.input, config.blocks["chip"]),
                                                     _weights(config, request)),
                       run=_run_on_board),
)
