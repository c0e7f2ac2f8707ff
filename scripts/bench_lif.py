"""Benchmark the LIF core: board resources and fmax, and measured cycles per timestep, over a sweep.

Sweep: neurons {64, 256, 1024} x lanes {1, 4, 8}, 256 axons, 8-bit weights, on every board of
:data:`spikeforge.boards.platforms.BOARDS`. For each point:

- a board build (:func:`spikeforge.boards.build.build`): logic cells, flip-flops, RAM blocks, fmax; a design
  that needs more than the device has is recorded as not fitting;
- a run of the core alone in Amaranth's simulator: cycles of one timestep with 5% and 50% of the axons active
  (events offered back to back, then the tick, counted to ``done``), once with no neuron firing and once with
  every neuron firing (the spike output is serialized, one neuron per cycle). A synaptic operation is one
  weight added to one neuron, so a timestep of E events does E * N of them.

Results stay in the build directory: a board build is redone only when its build files, tools or seed
changed (:func:`spikeforge.boards.build.build_design` checks), a cycle count only when the source of the
generator or the simulation changed. So a rerun only redoes what changed (and elaborates every point again).
The report is written to docs/benchmarks.md (``--out``).

Usage: python -m spikeforge.scripts.bench_lif [--build-dir build/bench_lif] [--out docs/benchmarks.md]
"""

import concurrent.futures
import hashlib
import random
import time
from pathlib import Path

import click

from spikeforge.boards.build import BuildError, DoesNotFit, build, select_tools
from spikeforge.boards.platforms import BOARDS, board_family
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.scripts.bench_report import cached, machine_line, source_digest, stored_build, verdict


__all__ = ["main"]


NEURONS = (64, 256, 1024)
LANES = (1, 4, 8)
AXONS = 256
WEIGHT_BITS = 8
ACTIVITIES = (0.05, 0.50)
EXAMPLE = (256, 8)          # the example core 256x256x8, P = 8

# Targets (docs/benchmarks.md, "Targets").
UP5K_SYNOPS_PER_CYCLE = 0.9     # x P, at 50% activity
UP5K_FMAX_MHZ = 30
UP5K_MAX_LCS = 3500
ECP5_FMAX_MHZ = 100
TINYODIN_CYCLES_PER_SYNOP = 2


def _params(neurons, lanes, **extra):
    return LifParams.create(neurons=neurons, axons=AXONS, lanes=lanes, weight_bits=WEIGHT_BITS, **extra)


def _source_hash(*packages):
    """Hash of the source of every loaded module of ``packages``."""
    import spikeforge.sim.lif_core.pysim  # noqa: F401 (loads every module a cycle count runs)
    return source_digest(hashlib.sha256(), *packages).hexdigest()[:16]


# --- cycles ------------------------------------------------------------------------------------------------

def measure_cycles(neurons, lanes, activity, firing, *, seed=1):
    """Cycles of one timestep of ``round(activity * AXONS)`` distinct events, in Amaranth's simulator.

    With ``firing`` every neuron fires in the step (bias above threshold), else none does (zero weights).
    The spikes are checked against the golden model.
    """
    from spikeforge.hdl.lif_core.core import LifCore
    from spikeforge.sim.lif_core.model import LifModel
    from spikeforge.sim.lif_core.pysim import run_script

    params = _params(neurons, lanes, threshold=64, bias=65 if firing else 0)
    axons = random.Random(seed).sample(range(AXONS), round(activity * AXONS))
    # Generous: integration takes len(axons) * G cycles, the tick about G, the spikes N.
    timeout = 4 * (len(axons) * params.groups + params.neurons) + 1000
    (spikes, cycles), = run_script(LifCore(params), [("step", axons)], timeout_cycles=timeout)
    expected = [int(n) for n in LifModel(params).step(axons)]
    if spikes != expected:
        raise AssertionError(f"RTL spikes differ from the model for {neurons} neurons, {lanes} lanes")
    return cycles


# --- one point ---------------------------------------------------------------------------------------------

def _build_point(board, neurons, lanes, out_dir, seed, toolchain):
    """The build's report, or why it failed; the build directory keeps the result for the next run."""
    try:
        report = build(_params(neurons, lanes), board, out_dir, seed=seed, toolchain=toolchain, echo=None)
        return {"status": "ok", "report": report}
    except DoesNotFit as error:
        return {"status": "does not fit", "error": str(error)}
    except BuildError as error:
        return {"status": "failed", "error": str(error)}


def _cycles_point(neurons, lanes):
    return {f"{activity:g}/{'firing' if firing else 'silent'}": measure_cycles(neurons, lanes, activity, firing)
            for activity in ACTIVITIES for firing in (False, True)}


# --- report ------------------------------------------------------------------------------------------------


def _events(activity):
    return round(activity * AXONS)


def _synops_per_cycle(neurons, cycles, activity):
    return _events(activity) * neurons / cycles


def render(builds, cycles, tools, seed):
    """docs/benchmarks.md from the cached results."""
    lines = [
        "# LIF core benchmarks",
        "",
        "Generated by `python -m spikeforge.scripts.bench_lif` (scripts/bench_lif.py); do not edit by hand.",
        f"Sweep: neurons x lanes (P), {AXONS} axons, {WEIGHT_BITS}-bit weights, 16-bit state, LIF with a shift "
        "decay, threshold 64. Each build is the whole board design: the core, the UART host link "
        "(docs/host_protocol.md) and a 32-byte receive FIFO.",
        "",
        machine_line() + " Build times are wall-clock seconds on a shared machine.",
        "",
        "Tools: " + "; ".join(f"{board_family(b)}: " + ", ".join(dict.fromkeys(v for v in t.values() if v))
                              for b, t in tools.items()) + f". nextpnr seed {seed}.",
        "",
        "## Timesteps (cycles, measured in Amaranth's simulator)",
        "",
        "One timestep: E events offered back to back, then the tick, counted until `done`. E = 13 (5%) or 128 (50%) "
        "of the 256 axons. *silent*: no neuron fires; *all fire*: every neuron fires and the spike output, one "
        "neuron per cycle, sets the pace of the tick. Synaptic operations per cycle = E x N / cycles (silent).",
        "",
        "| N | P | G = N/P | cycles 5% silent | 5% all fire | cycles 50% silent | 50% all fire | "
        "syn ops/cycle 5% | syn ops/cycle 50% | per P at 50% |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in NEURONS:
        for p in LANES:
            c = cycles.get((n, p))
            if c is None:
                lines.append(f"| {n} | {p} | {n // p} | not measured | | | | | | |")
                continue
            s5, s50 = _synops_per_cycle(n, c["0.05/silent"], 0.05), _synops_per_cycle(n, c["0.5/silent"], 0.5)
            lines.append(f"| {n} | {p} | {n // p} | {c['0.05/silent']} | {c['0.05/firing']} | {c['0.5/silent']} | "
                         f"{c['0.5/firing']} | {s5:.2f} | {s50:.2f} | {s50 / p:.2f} |")

    lines += [
        "",
        "## Board builds",
        "",
        "LCs: iCE40 logic cells (ICESTORM_LC) or ECP5 LUT4s (TRELLIS_COMB, half a slice). BRAM: iCE40 EBR "
        "(4 kbit) or ECP5 DP16KD (18 kbit). fmax: nextpnr's estimate for the board clock (constraint: the "
        "board oscillator, 12 MHz iCEBreaker, 25 MHz ULX3S). Syn ops/s: synaptic operations per second at fmax "
        "and 50% activity (silent).",
        "",
        "| board | N | P | LCs | FFs | BRAM | SPRAM | DSP | fmax MHz | M syn ops/s | build s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for board in BOARDS:
        for n in NEURONS:
            for p in LANES:
                b = builds.get((board, n, p))
                if b is None:
                    lines.append(f"| {board} | {n} | {p} | not built | | | | | | | |")
                    continue
                if b["status"] != "ok":
                    reason = b["error"].split(": ", 1)[-1].split(" (log:")[0]
                    lines.append(f"| {board} | {n} | {p} | {b['status']}: {reason} | | | | | | | |")
                    continue
                r = b["report"]
                res, avail = r["resources"], r["available"]
                c = cycles.get((n, p))
                rate = "" if c is None or r["fmax_mhz"] is None else \
                    f"{_synops_per_cycle(n, c['0.5/silent'], 0.5) * r['fmax_mhz']:.0f}"
                lines.append(f"| {board} | {n} | {p} | {res['logic_cells']}/{avail['logic_cells']} | {res['ffs']} | "
                             f"{res['bram']}/{avail['bram']} | {res['spram']}/{avail['spram']} | {res['dsp']} | "
                             f"{r['fmax_mhz']} | {rate} | {r['seconds']:.0f} |")
    lines += ["", "## Targets", ""] + _targets(builds, cycles) + ["", "## Notes", "", *_NOTES]
    return "\n".join(lines) + "\n"


_NOTES = [
    "- Weight memory on the iCE40UP5K. The 256x256x8 weights (512 kbit) fit the UP5K only in its four "
    "256-kbit SPRAMs (its 30 EBRs hold 120 kbit). Yosys' `synth_ice40` maps a memory to SB_SPRAM256KA only "
    "(1) with `-spram` (without it, it runs `memory_libmap -no-auto-huge`; Amaranth passes no `synth_opts` by "
    "default), (2) when the memory has no initial contents (`init none` in Yosys' `ice40/spram.txt`; Amaranth "
    "always emits a `$meminit_v2` of zeros) and (3) when its one address serves reads and writes and no read "
    "happens during a write (`rdwr no_change`): a read port that is read-first (an Amaranth `read_port()` "
    "enabled during writes) cannot map. The build passes `-spram`, deletes the weight memory's `$meminit_v2` "
    "before synthesis and, for weights above 64 kbit, sets `ram_style = \"huge\"` on it, since Yosys chooses "
    "between EBR and SPRAM by cost, not capacity (it put 64x256x8 weights in 32 EBRs) "
    "(`spikeforge.boards.build`); (3) is up to the core (`w_rd.en = ~w_wr.en`). Checked with Yosys 0.23 and "
    "0.70.",
    "- SPRAM geometry: each SPRAM is 16K x 16 bits. Yosys packs narrow words with the SPRAM's nibble write "
    "enables, but a word wider than 16 bits (P x 8 bits) takes P x 8 / 16 SPRAMs side by side however shallow "
    "it is: at P = 8 a 256x256x8 core fills all four SPRAMs to half, at P = 4 two of them. 1024 neurons x 256 "
    "axons x 8 bits (2 Mbit) never fit the UP5K's 1 Mbit of SPRAM.",
    "- *does not fit*: nextpnr could not place the design (the message names the resource). A build that "
    "failed otherwise is marked *failed* with the tool's first error.",
    "- fmax is nextpnr's timing estimate after routing with the board clock as the constraint (12 MHz, 25 MHz); "
    "a tighter constraint can raise it somewhat. Different nextpnr versions give different numbers for the "
    "same design, hence the versions and the seed above.",
]


def _targets(builds, cycles):
    n, p = EXAMPLE
    c = cycles.get((n, p))
    ice = builds.get(("icebreaker", n, p))
    ecp = builds.get(("ulx3s-85f", n, p))
    out = [f"Example core {n}x{AXONS}x{WEIGHT_BITS}, P = {p}:", ""]
    if c:
        s50 = _synops_per_cycle(n, c["0.5/silent"], 0.5)
        out.append(f"- UP5K >= {UP5K_SYNOPS_PER_CYCLE} P = {UP5K_SYNOPS_PER_CYCLE * p:g} synaptic ops per cycle "
                   f"at 50% activity: {s50:.2f} ({s50 / p:.2f} P), {verdict(s50 >= UP5K_SYNOPS_PER_CYCLE * p)}. "
                   f"tinyODIN spends {TINYODIN_CYCLES_PER_SYNOP} cycles per synaptic op (0.5 per cycle); this core "
                   f"does {s50 / 0.5:.1f}x that per cycle.")
    if ice and ice["status"] == "ok":
        r = ice["report"]
        out.append(f"- UP5K >= {UP5K_FMAX_MHZ} MHz: {r['fmax_mhz']} MHz, "
                   f"{verdict((r['fmax_mhz'] or 0) >= UP5K_FMAX_MHZ)}.")
        out.append(f"- UP5K <= {UP5K_MAX_LCS} LCs: {r['resources']['logic_cells']} (whole board design), "
                   f"{verdict(r['resources']['logic_cells'] <= UP5K_MAX_LCS)}.")
    elif ice:
        out.append(f"- UP5K: the build {ice['status']}: {ice['error']}")
    if ecp and ecp["status"] == "ok":
        r = ecp["report"]
        out.append(f"- ECP5 >= {ECP5_FMAX_MHZ} MHz: {r['fmax_mhz']} MHz, "
                   f"{verdict((r['fmax_mhz'] or 0) >= ECP5_FMAX_MHZ)}.")
    elif ecp:
        out.append(f"- ECP5: the build {ecp['status']}: {ecp['error']}")
    return out


# --- main ----------------------------------------------------------------------------------------------------

@click.command()
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_lif"),
              show_default=True, help="Where builds and cached results go.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True, help="The Markdown report.")
@click.option("--board", "boards", type=click.Choice(list(BOARDS)), multiple=True,
              help="Only these boards (default: all).")
@click.option("--seed", type=int, default=1, show_default=True, help="nextpnr seed.")
@click.option("--toolchain", type=click.Choice(["auto", "system", "yowasp"]), default="auto", show_default=True)
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="Builds run at once.")
@click.option("--no-build", is_flag=True, help="Run no tools; report what the build directories hold.")
def main(build_dir, out, boards, seed, toolchain, jobs, no_build):
    """Run the LIF benchmark sweep and write the report."""
    boards = boards or tuple(BOARDS)
    simulation = _source_hash("spikeforge.hdl.lif_core", "spikeforge.hdl.stdp", "spikeforge.sim")
    tools = {b: {t: i["version"] for t, i in select_tools(board_family(b), toolchain).items()} for b in boards}

    def log(message):
        click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)

    cycles = {}
    for n in NEURONS:
        for p in LANES:
            log(f"cycles: {n} neurons, {p} lanes")
            cycles[(n, p)] = cached(build_dir / "cycles" / f"n{n}_p{p}.json", simulation,
                                     lambda n=n, p=p: _cycles_point(n, p))

    builds = {}
    jobs_list = [(b, n, p) for n, p in [EXAMPLE] + [(n, p) for n in NEURONS for p in LANES if (n, p) != EXAMPLE]
                 for b in boards]

    def point(board, n, p):
        path = build_dir / board / f"n{n}_a{AXONS}_w{WEIGHT_BITS}_p{p}"
        return stored_build(path) if no_build else _build_point(board, n, p, path, seed, toolchain)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(point, *job): job for job in jobs_list}
        for future in concurrent.futures.as_completed(futures):
            board, n, p = futures[future]
            result = future.result()
            if result is not None:
                builds[(board, n, p)] = result
                status = result["status"]
                extra = f", {result['report']['resources']['logic_cells']} LCs, {result['report']['fmax_mhz']} MHz" \
                    if status == "ok" else ""
                log(f"build {board} {n} neurons {p} lanes: {status}{extra}")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render(builds, cycles, tools, seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(builds, cycles, tools, seed))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
