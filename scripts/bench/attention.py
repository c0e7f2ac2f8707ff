"""Benchmark the attention unit and write docs/benchmarks_attention.md.

Four tables and a curve:

- the additions one call must perform: the dense count, and the events the spikes ask for
  (:func:`spikeforge.sim.attention.model.event_additions`) at 5 %, 20 % and 50 % activity;
- cycles per attention call of both schedules (``schedule = "events" | "dense"``), measured in the generated
  Verilog (Verilator by default, through the cocotb bench of :mod:`spikeforge.sim.attention.rtl`), against the
  events (or, dense, the dense additions) divided by the lanes; one call from the first row offered to the last
  row taken at each activity, and the cost per call of three calls back to back (the last timestep's output then
  overlaps the next call's input); the goals of issue 17 checked on them;
- docs/benchmarks_attention.png: cycles per call against activity, both schedules;
- logic cells, RAM and fmax of a board build (the unit on its board top-level, behind the UART host link,
  :class:`spikeforge.boards.attention_top.AttentionBoardTop`, built by the one build flow,
  :func:`spikeforge.scripts.blocks.build_block`) for N = 64, D = 64, H = 4, T = 4 on the ECP5-85F (ULX3S) and
  N = 16, D = 32, H = 2, T = 4 on the UP5K (iCEBreaker), and the cells Yosys maps the unit alone to, which must
  include no DSP or multiplier (a synthesis only, for the census of cell types);
- the additions of one call against the multiply-accumulates of softmax attention of the same shape.

Usage: python -m spikeforge.scripts.bench.attention [--out docs/benchmarks_attention.md]
       [--build-dir build/bench_attention] [--sim verilator] [--no-boards | --no-build]

The cycles are cached in the build directory for the same Verilog, simulator and stimuli; ``--no-build``
reports the board builds it holds.

Every cycle count is the median of :data:`REPEATS` stimuli (seeds ``seed`` .. ``seed + REPEATS - 1``).
"""

import datetime
import hashlib
import json
import platform as host_platform
import subprocess
import sys
from pathlib import Path

import click
import numpy as np

from spikeforge.hdl.manifest import tool_versions
from spikeforge.hdl.attention.params import SCHEDULES, AttentionParams
from spikeforge.scripts.bench.report import build_point, cached, machine_line, stored_build, verdict


__all__ = ["main", "synth_cells", "MULTIPLIER_CELLS"]


CYCLE_SHAPES = (
    dict(tokens=16, channels=32, heads=2, timesteps=4),
    dict(tokens=64, channels=64, heads=4, timesteps=4),
)
CYCLE_LANES = {
    ("v1", 32): (1, 4, 32),
    ("v1", 64): (4, 16, 64),
    ("v2", 32): (1, 4, 16),
    ("v2", 64): (4, 16),
}
BOARD_POINTS = (
    ("ulx3s-85f", dict(tokens=64, channels=64, heads=4, timesteps=4), {"v1": 16, "v2": 16}),
    ("icebreaker", dict(tokens=16, channels=32, heads=2, timesteps=4), {"v1": 4, "v2": 4}),
)
ACTIVITIES = (0.05, 0.2, 0.5)
REPEATS = 3
BACK_TO_BACK = 3
#: The dense schedule's goal: cycles over the additions / lanes.
RATIO_GOAL = 1.2
#: The events schedule's goal (issue 17): cycles at most EVENT_RATIO_GOAL times the events / lanes plus
#: TOKEN_OVERHEAD cycles per token row of a timestep (tests/test_attention_pysim.py checks the same bound).
EVENT_RATIO_GOAL = 1.3
TOKEN_OVERHEAD = 2
#: The point of the issue's goals on today's dense cycles: v2, N = 16, D = 32, H = 2, T = 4, 4 lanes.
GOAL_POINT = dict(variant="v2", tokens=16, channels=32, heads=2, timesteps=4, lanes=4)
CURVE_POINTS = (dict(variant="v1", tokens=16, channels=32, heads=2, timesteps=4, lanes=4), GOAL_POINT)
CURVE_ACTIVITIES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)

#: Cell types that would mean a multiplier: Yosys' generic cells and the DSP blocks of iCE40 and ECP5.
MULTIPLIER_CELLS = ("$mul", "$macc", "SB_MAC16", "MULT18X18D", "ALU54B", "$__MUL")

_SYNTH = {"ice40": "synth_ice40 -dsp -top attention", "ecp5": "synth_ecp5 -top attention"}


def _echo(message):
    click.echo(f"bench.attention: {message}", err=True)


# --- cycles ------------------------------------------------------------------------------------------------

def _checked_runs(built, params, runs, label):
    """Cycles of each ``(q, k, v)`` of ``runs`` through the built unit, in one simulation; every output must
    equal the golden model's."""
    from spikeforge.sim.attention.model import run_model
    from spikeforge.sim.attention.rtl import replay_calls

    cycles = []
    for (q, k, v), (o, c, _) in zip(runs, replay_calls(built, params, runs)):
        if not np.array_equal(o, run_model(params, q, k, v)):
            raise AssertionError(f"the RTL of {params} differs from the golden model ({label})")
        cycles.append(c)
    return cycles


def _key(params, sim, seed, what):
    """What a cached measurement depends on: the unit's Verilog, the simulator and the stimuli."""
    from amaranth.back import verilog

    from spikeforge.hdl.attention.unit import AttentionUnit

    design = hashlib.sha256(verilog.convert(AttentionUnit(params), name="attention").encode()).hexdigest()
    return {"design": design, "sim": sim, "seed": seed, "what": what}


def measure_cycles(params, *, sim, build_dir, seed=1):
    """Median cycles of one call and its events (:func:`event_additions`) at each of :data:`ACTIVITIES`, over
    :data:`REPEATS` seeds, and the cycles per call of :data:`BACK_TO_BACK` calls; every output is checked
    against the golden model. Returns ``{"activities": {"0.05": {"cycles", "events"}, ...}, "back to back"}``,
    cached in ``build_dir`` for the same Verilog, simulator and stimuli."""
    from spikeforge.sim.attention.model import event_additions
    from spikeforge.sim.attention.rtl import build_unit
    from spikeforge.sim.attention.stimulus import random_qkv

    def measure():
        runs = [random_qkv(params, np.random.default_rng(seed + repeat), density=(activity, activity))
                for activity in ACTIVITIES for repeat in range(REPEATS)]
        runs.append(random_qkv(params, np.random.default_rng(seed), calls=BACK_TO_BACK, density=(0.05, 0.5)))
        cycles = _checked_runs(build_unit(params, sim=sim, build_dir=build_dir), params, runs, "cycles")
        result = {"activities": {}, "back to back": cycles[-1] / BACK_TO_BACK}
        for index, activity in enumerate(ACTIVITIES):
            chosen = slice(index * REPEATS, (index + 1) * REPEATS)
            result["activities"][f"{activity:g}"] = {
                "cycles": float(np.median(cycles[chosen])),
                "events": float(np.median([event_additions(params, *run) for run in runs[chosen]]))}
        return result

    key = _key(params, sim, seed, [ACTIVITIES, REPEATS, BACK_TO_BACK])
    return cached(Path(build_dir) / "cycles.json", key, measure)


def measure_curve(params, *, sim, build_dir, seed=1):
    """Cycles of one call at each of :data:`CURVE_ACTIVITIES` (one seed), checked against the golden model;
    cached like :func:`measure_cycles`."""
    from spikeforge.sim.attention.rtl import build_unit
    from spikeforge.sim.attention.stimulus import random_qkv

    def measure():
        runs = [random_qkv(params, np.random.default_rng(seed), density=(a, a)) for a in CURVE_ACTIVITIES]
        return _checked_runs(build_unit(params, sim=sim, build_dir=build_dir), params, runs, "curve")

    return cached(Path(build_dir) / "curve.json", _key(params, sim, seed, list(CURVE_ACTIVITIES)), measure)


def plot_curve(curves, path):
    """Cycles per call against activity: ``curves`` maps (point, schedule) to the cycles of
    :data:`CURVE_ACTIVITIES`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for (p, schedule), cycles in curves.items():
        style = "o-" if schedule == "events" else "s--"
        ax.plot([100 * a for a in CURVE_ACTIVITIES], cycles, style, label=f"{p.variant} L={p.lanes}, {schedule}")
    ax.set_xlabel("activity (spike density of Q, K and V, %)")
    ax.set_ylabel("cycles per attention call")
    ax.set_yscale("log")
    p = next(iter(curves))[0]
    ax.set_title(f"Spike-driven attention, {_shape(p)}")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- synthesis of the unit alone ---------------------------------------------------------------------------

def synth_cells(params, family, build_dir, *, yosys=None):
    """Synthesize the unit alone for ``family`` (``"ice40"`` or ``"ecp5"``) with Yosys; returns
    ``{cell type: count}``.

    ``yosys`` is the command (a list); by default the one :func:`spikeforge.boards.build.select_tools` picks.
    iCE40 synthesis runs with ``-dsp``, so a multiplier would show as an SB_MAC16.
    """
    from amaranth.back import verilog

    from spikeforge.hdl.attention.unit import AttentionUnit

    if yosys is None:
        from spikeforge.boards.build import select_tools
        yosys = select_tools(family)["yosys"]["command"]
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / "attention.v"
    source.write_text(verilog.convert(AttentionUnit(params), name="attention"))
    stat = build_dir / f"attention.{family}.stat.json"
    script = f"read_verilog {source.name}; {_SYNTH[family]}; tee -q -o {stat.name} stat -json"
    log = build_dir / f"yosys.{family}.log"
    with open(log, "w") as log_file:
        result = subprocess.run(yosys + ["-p", script], cwd=build_dir, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    if result.returncode:
        raise RuntimeError(f"Yosys failed to synthesize the attention unit for {family}; see {log}")
    return json.loads(stat.read_text())["design"]["num_cells_by_type"]


# --- report ------------------------------------------------------------------------------------------------

def _shape(p):
    return f"N={p.tokens} D={p.channels} H={p.heads} T={p.timesteps}"


def _events_table(rows):
    lines = ["| variant | shape | dense additions / call | "
             + " | ".join(f"events at {a:.0%}" for a in ACTIVITIES) + " | "
             + " | ".join(f"events / dense at {a:.0%}" for a in ACTIVITIES) + " |",
             "|---|---|---:|" + "---:|" * (2 * len(ACTIVITIES))]
    seen = set()
    for p, cycles in rows:
        if (p.variant, _shape(p)) in seen:
            continue
        seen.add((p.variant, _shape(p)))
        events = [_at(cycles, a)["events"] for a in ACTIVITIES]
        lines.append(f"| {p.variant} | {_shape(p)} | {p.additions_per_call:,} | "
                     + " | ".join(f"{e:,.0f}" for e in events) + " | "
                     + " | ".join(f"{e / p.additions_per_call:.3f}" for e in events) + " |")
    return lines


def _at(measured, activity):
    """The median cycles and events of :func:`measure_cycles` at ``activity``."""
    return measured["activities"][f"{activity:g}"]


def _overhead(p, cycles, events):
    """Cycles per token row beyond :data:`EVENT_RATIO_GOAL` times the events over the lanes."""
    return (cycles - EVENT_RATIO_GOAL * events / p.lanes) / (p.tokens * p.timesteps)


def _cycles_table(rows):
    lines = ["| variant | shape | lanes | schedule | "
             + " | ".join(f"cycles at {a:.0%}" for a in ACTIVITIES) + " | "
             + " | ".join(f"ratio at {a:.0%}" for a in ACTIVITIES)
             + " | overhead / token row | cycles / call, back to back |",
             "|---|---|---:|---|" + "---:|" * (2 * len(ACTIVITIES)) + "---:|---:|"]
    for p, cycles in rows:
        one = [_at(cycles, a)["cycles"] for a in ACTIVITIES]
        if p.schedule == "events":
            ratios = [_at(cycles, a)["cycles"] / (_at(cycles, a)["events"] / p.lanes) for a in ACTIVITIES]
            overhead = max(_overhead(p, **_at(cycles, a)) for a in ACTIVITIES)
            overhead = f"{overhead:.2f}"
        else:
            ratios = [c / (p.additions_per_call / p.lanes) for c in one]
            overhead = ""
        lines.append(f"| {p.variant} | {_shape(p)} | {p.lanes} | {p.schedule} | "
                     + " | ".join(f"{c:,.0f}" for c in one) + " | "
                     + " | ".join(f"{r:.3f}" for r in ratios)
                     + f" | {overhead} | {cycles['back to back']:,.0f} |")
    return lines


def _goals(rows):
    """The goals of issue 17, checked on the measured rows."""
    def find(point, schedule):
        return next(cycles for p, cycles in rows
                    if p.schedule == schedule and all(getattr(p, key) == value for key, value in point.items()))

    events = [(p, cycles) for p, cycles in rows if p.schedule == "events"]
    worst = max(((_overhead(p, **_at(cycles, a)), p, a)
                 for p, cycles in events for a in ACTIVITIES), key=lambda item: item[0])
    dense, fast = find(GOAL_POINT, "dense"), find(GOAL_POINT, "events")
    low, high = ACTIVITIES[0], ACTIVITIES[-1]
    today = _at(dense, high)["cycles"]
    fast = {a: _at(fast, a) for a in (low, high)}
    return [
        f"- Events schedule, every point above at {', '.join(f'{a:.0%}' for a in ACTIVITIES)}: cycles at most "
        f"{EVENT_RATIO_GOAL} x the events / lanes plus {TOKEN_OVERHEAD} cycles per token row (N T rows a call): "
        f"{verdict(worst[0] <= TOKEN_OVERHEAD)}; the largest overhead is {worst[0]:.2f} cycles per token row "
        f"({worst[1].variant} {_shape(worst[1])} L={worst[1].lanes} at {worst[2]:.0%}).",
        f"- v2 {_shape(AttentionParams.create(**GOAL_POINT))}, 4 lanes, at {low:.0%}: {fast[low]['cycles']:,.0f} "
        f"cycles against the dense {today:,.0f} ({fast[low]['cycles'] / today:.3f} of it; the goal is at most "
        f"0.1): {verdict(fast[low]['cycles'] <= 0.1 * today)}.",
        f"- The same at {high:.0%}: {fast[high]['cycles']:,.0f} cycles against the dense {today:,.0f} "
        f"({fast[high]['cycles'] / today:.3f}; the goal is no more): {verdict(fast[high]['cycles'] <= today)}.",
    ]


def _cells_summary(cells):
    def total(*prefixes):
        return sum(n for cell, n in cells.items() if cell.startswith(prefixes))
    multipliers = sum(n for cell, n in cells.items() if cell.startswith(MULTIPLIER_CELLS))
    if any(cell.startswith("SB_") for cell in cells):
        return (f"{total('SB_LUT4')} LUT4, {total('SB_DFF')} FF, {total('SB_CARRY')} carry, "
                f"{total('SB_RAM40_4K')} EBR, {multipliers} DSP/multiplier")
    return (f"{total('LUT4')} LUT4, {total('TRELLIS_FF')} FF, {total('CCU2C')} CCU2C, "
            f"{total('DP16KD')} DP16KD, {total('TRELLIS_DPR16X4')} DPR16X4 (LUT RAM), "
            f"{multipliers} DSP/multiplier")


def _boards_table(rows):
    lines = ["| board | variant | shape | lanes | schedule | logic cells | FFs | BRAM | DSP | fmax MHz | "
             "unit alone (Yosys) |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for p, report, cells in rows:
        if "error" in report:
            lines.append(f"| {report['board']} | {p.variant} | {_shape(p)} | {p.lanes} | {p.schedule} | "
                         f"{report['error']} | | | | | {_cells_summary(cells)} |")
            continue
        r, a = report["resources"], report["available"]
        lines.append(f"| {report['board']} ({report['device']}) | {p.variant} | {_shape(p)} | {p.lanes} | "
                     f"{p.schedule} | "
                     f"{r['logic_cells']} / {a['logic_cells']} | {r['ffs']} | {r['bram']} / {a['bram']} | "
                     f"{r['dsp']} | {report['fmax_mhz']} | {_cells_summary(cells)} |")
    return lines


def _softmax_table(shapes):
    lines = ["| shape | softmax attention MACs | v1 additions / timestep | v1 / MACs | v2 additions / timestep | "
             "v2 / MACs | v1 additions / call | v2 additions / call |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for shape in shapes:
        v1 = AttentionParams.create(variant="v1", **shape)
        v2 = AttentionParams.create(variant="v2", **shape)
        macs = v1.softmax_macs
        lines.append(f"| {_shape(v1)} | {macs:,} | {v1.additions_per_timestep:,} | "
                     f"{v1.additions_per_timestep / macs:.3f} | {v2.additions_per_timestep:,} | "
                     f"{v2.additions_per_timestep / macs:.3f} | {v1.additions_per_call:,} | "
                     f"{v2.additions_per_call:,} |")
    return lines


def _write(out, cycle_rows, board_rows, sim, versions, curve):
    today = datetime.date.today().isoformat()
    lines = [
        "# Attention unit benchmarks",
        "",
        f"Written by `python -m spikeforge.scripts.bench.attention` on {today} ({host_platform.machine()}, "
        f"Python {host_platform.python_version()}). See docs/attention.md for the design, the two schedules and "
        "their cycle counts.",
        "",
        machine_line() + " Packages: " + ", ".join(f"{name} {version}" for name, version in tool_versions().items()
                                                    if version) + ".",
        "",
        "## The additions a call must perform",
        "",
        "Dense: N D per timestep in v1 (the masked kv counts), 2 N D Dh in v2 (the masked counts of K^T V and "
        "the masked sums of Q M), whatever the spikes. Events: the additions the spikes ask for "
        "(`spikeforge.sim.attention.model.event_additions`): in v1 one per (token, channel) with K = V = 1; in "
        "v2 one per (token, i, j) of a head with K[n, i] = V[n, j] = 1, and a row of M (Dh additions) per spike "
        "of Q. Random Q, K and V of the given activity (every spike independently), median of "
        f"{REPEATS} seeds. The SN updates are not counted.",
        "",
        *_events_table(cycle_rows),
        "",
        "## Cycles per attention call",
        "",
        f"Measured in the generated Verilog ({sim}, cocotb), from the first input row offered to the last output "
        "row taken, with a source that never idles and a sink that is always ready, on the stimuli above "
        f"(medians of {REPEATS} seeds); every output was checked against the golden model. Ratio: cycles over "
        "the events / lanes for the events schedule, over the dense additions / lanes for the dense one (whose "
        f"goal is at most {RATIO_GOAL}). Overhead / token row: the largest over the activities of (cycles - "
        f"{EVENT_RATIO_GOAL} x events / lanes) / (N T). Back to back: {BACK_TO_BACK} calls of row densities "
        "5-50 %, whose last timestep's output rows overlap the next call's input.",
        "",
        *_cycles_table(cycle_rows),
        "",
        "Goals of issue 17:",
        "",
        *_goals(cycle_rows),
        "",
        f"![cycles per call against activity]({Path(curve).name})",
        "",
        f"`{Path(curve).name}`: cycles of one call (one seed) at activities "
        + ", ".join(f"{a:.0%}" for a in CURVE_ACTIVITIES) + ", both schedules, in the same simulator.",
        "",
    ]
    if board_rows:
        lines += [
            "## Resources and fmax",
            "",
            "Board builds of the unit behind the UART host link (`AttentionBoardTop`: UART, framing, unit) by "
            "the one build flow (`spikeforge.scripts.blocks.build_block`); "
            "logic cells are iCE40 LCs or ECP5 TRELLIS_COMB (one LUT4 each), BRAM is EBR (4 kbit) or DP16KD "
            "(18 kbit). fmax is nextpnr's estimate for the board clock (seed 1). The last column is the unit "
            "alone, as Yosys maps it (iCE40 with `-dsp`, so a multiplier would appear as an SB_MAC16).",
            "",
            *_boards_table(board_rows),
            "",
        ]
    lines += [
        "## Additions against softmax attention",
        "",
        "Softmax attention of the same shape spends 2 N^2 D multiply-accumulates (Q K^T and A V over the heads) "
        "plus N^2 H exponentials, once; spike-driven attention spends the additions below on every one of its T "
        "timesteps, and no multiplication: N D in v1 (a fraction 1 / (2 N) of the MACs), 2 N D Dh in v2 (a "
        "fraction Dh / N, since K^T V is formed before Q multiplies it: linear in N instead of quadratic).",
        "",
        *_softmax_table(CYCLE_SHAPES),
        "",
    ]
    for board, tools in versions.items():
        lines += [f"Tools for {board}: " + "; ".join(f"{tool}: {version or '(no version)'}"
                                                     for tool, version in tools.items()), ""]
    Path(out).write_text("\n".join(lines))


@click.command()
@click.option("--out", type=click.Path(dir_okay=False), default="docs/benchmarks_attention.md", show_default=True)
@click.option("--build-dir", type=click.Path(file_okay=False), default="build/bench_attention", show_default=True)
@click.option("--sim", type=click.Choice(("verilator", "icarus")), default="verilator", show_default=True)
@click.option("--no-boards", is_flag=True, help="Skip the board builds and the synthesis of the unit.")
@click.option("--seed", type=int, default=1, show_default=True, help="Stimulus seed and nextpnr seed.")
@click.option("--no-build", is_flag=True, help="Report the board builds the build directory holds; build none.")
def main(out, build_dir, sim, no_boards, seed, no_build):
    """Measure the attention unit and write the benchmark report."""
    build_dir = Path(build_dir)
    cycle_rows = []
    for shape in CYCLE_SHAPES:
        for variant in ("v1", "v2"):
            for lanes in CYCLE_LANES[variant, shape["channels"]]:
                for schedule in SCHEDULES:
                    p = AttentionParams.create(variant=variant, lanes=lanes, schedule=schedule, **shape)
                    _echo(f"cycles of {variant} {_shape(p)} L={lanes} {schedule} in {sim}")
                    point = build_dir / "cycles" / f"{variant}-n{p.tokens}-d{p.channels}-l{lanes}-{schedule}"
                    cycle_rows.append((p, measure_cycles(p, sim=sim, build_dir=point, seed=seed)))
    curves = {}
    for point in CURVE_POINTS:
        for schedule in SCHEDULES:
            p = AttentionParams.create(**point, schedule=schedule)
            _echo(f"curve of {p.variant} {_shape(p)} L={p.lanes} {schedule} in {sim}")
            point_dir = build_dir / "cycles" / f"{p.variant}-n{p.tokens}-d{p.channels}-l{p.lanes}-{schedule}"
            curves[p, schedule] = measure_curve(p, sim=sim, build_dir=point_dir, seed=seed)
    curve = Path(out).with_suffix(".png")
    plot_curve(curves, curve)
    board_rows, versions = [], {}
    if not no_boards:
        from spikeforge.boards.platforms import board_family

        for board, shape, lanes in BOARD_POINTS:
            for variant in ("v1", "v2"):
                for schedule in SCHEDULES:
                    p = AttentionParams.create(variant=variant, lanes=lanes[variant], schedule=schedule, **shape)
                    point = build_dir / board / f"{variant}-l{p.lanes}-{schedule}"
                    _echo(f"building {variant} {_shape(p)} L={p.lanes} {schedule} for {board}")
                    if no_build:
                        result = stored_build(point) or {"status": "not built", "error": "not built"}
                    else:
                        result = build_point({"attention": p}, board, point, seed=seed, echo=_echo)
                    if result["status"] == "ok":
                        report = result["report"]
                        versions[board] = report["tools"]
                    else:
                        report = {"board": board,
                                  "error": f"{result['status']}: {result['error'].split(' (log:')[0]}"}
                    cells = synth_cells(p, board_family(board), point / "unit")
                    board_rows.append((p, report, cells))
    _write(out, cycle_rows, board_rows, sim, versions, curve)
    _echo(f"wrote {out} and {curve}")


if __name__ == "__main__":
    sys.exit(main())
