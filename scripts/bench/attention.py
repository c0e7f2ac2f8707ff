"""Benchmark the attention unit and write docs/benchmarks_attention.md.

Three tables:

- cycles per attention call, measured in the generated Verilog (Verilator by default, through the cocotb bench
  of :mod:`spikeforge.sim.attention.rtl`), against the additions of the call divided by the lanes; one call
  from the first row offered to the last row taken, at 5 % and at 50 % input density, and the cost per call of
  three calls back to back (the last timestep's output then overlaps the next call's input);
- logic cells, RAM and fmax of a board build (the unit on its board top-level, behind the UART host link,
  :class:`spikeforge.boards.attention_top.AttentionBoardTop`, built by the one build flow,
  :func:`spikeforge.scripts.blocks.build_block`) for N = 64, D = 64, H = 4, T = 4 on the ECP5-85F (ULX3S) and
  N = 16, D = 32, H = 2, T = 4 on the UP5K (iCEBreaker), and the cells Yosys maps the unit alone to, which must
  include no DSP or multiplier (a synthesis only, for the census of cell types);
- the additions of one call against the multiply-accumulates of softmax attention of the same shape.

Usage: python -m spikeforge.scripts.bench.attention [--out docs/benchmarks_attention.md]
       [--build-dir build/bench_attention] [--sim verilator] [--no-boards]
"""

import datetime
import json
import platform as host_platform
import subprocess
import sys
from pathlib import Path

import click
import numpy as np

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.scripts.bench.report import build_point


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
DENSITIES = (0.05, 0.5)
BACK_TO_BACK = 3
RATIO_GOAL = 1.2

#: Cell types that would mean a multiplier: Yosys' generic cells and the DSP blocks of iCE40 and ECP5.
MULTIPLIER_CELLS = ("$mul", "$macc", "SB_MAC16", "MULT18X18D", "ALU54B", "$__MUL")

_SYNTH = {"ice40": "synth_ice40 -dsp -top attention", "ecp5": "synth_ecp5 -top attention"}


def _echo(message):
    click.echo(f"bench.attention: {message}", err=True)


# --- cycles ------------------------------------------------------------------------------------------------

def measure_cycles(params, *, sim, build_dir, seed=1):
    """Cycles of one call at each of :data:`DENSITIES`, and per call of :data:`BACK_TO_BACK` calls; every
    output is checked against the golden model."""
    from spikeforge.sim.attention.model import run_model
    from spikeforge.sim.attention.rtl import run_rtl
    from spikeforge.sim.attention.stimulus import random_qkv

    rng = np.random.default_rng(seed)
    result = {}
    runs = [(f"one call at {d:.0%}", 1, (d, d)) for d in DENSITIES]
    runs.append((f"{BACK_TO_BACK} calls", BACK_TO_BACK, (0.05, 0.5)))
    for label, calls, density in runs:
        q, k, v = random_qkv(params, rng, calls=calls, density=density)
        o, cycles = run_rtl(params, q, k, v, sim=sim, build_dir=build_dir)
        if not np.array_equal(o, run_model(params, q, k, v)):
            raise AssertionError(f"the RTL of {params} differs from the golden model ({label})")
        result[label] = cycles / calls
    return result


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


def _cycles_table(rows):
    lines = ["| variant | shape | lanes | additions / call | additions / lanes | "
             + " | ".join(f"cycles, one call at {d:.0%}" for d in DENSITIES)
             + f" | ratio | cycles / call, {BACK_TO_BACK} back to back | ratio |",
             "|---|---|---:|---:|---:|" + "---:|" * len(DENSITIES) + "---:|---:|---:|"]
    for p, cycles in rows:
        ideal = p.additions_per_call / p.lanes
        one = [cycles[f"one call at {d:.0%}"] for d in DENSITIES]
        steady = cycles[f"{BACK_TO_BACK} calls"]
        lines.append(f"| {p.variant} | {_shape(p)} | {p.lanes} | {p.additions_per_call:,} | {ideal:,.0f} | "
                     + " | ".join(f"{c:,.0f}" for c in one)
                     + f" | {max(one) / ideal:.3f} | {steady:,.0f} | {steady / ideal:.3f} |")
    return lines


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
    lines = ["| board | variant | shape | lanes | logic cells | FFs | BRAM | DSP | fmax MHz | unit alone (Yosys) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for p, report, cells in rows:
        if "error" in report:
            lines.append(f"| {report['board']} | {p.variant} | {_shape(p)} | {p.lanes} | "
                         f"{report['error']} | | | | | {_cells_summary(cells)} |")
            continue
        r, a = report["resources"], report["available"]
        lines.append(f"| {report['board']} ({report['device']}) | {p.variant} | {_shape(p)} | {p.lanes} | "
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


def _write(out, cycle_rows, board_rows, sim, versions):
    today = datetime.date.today().isoformat()
    lines = [
        "# Attention unit benchmarks",
        "",
        f"Written by `python -m spikeforge.scripts.bench.attention` on {today} ({host_platform.machine()}, "
        f"Python {host_platform.python_version()}). See docs/attention.md for the design and the cycle count.",
        "",
        "## Cycles per attention call",
        "",
        f"Measured in the generated Verilog ({sim}, cocotb), from the first input row offered to the last output "
        "row taken, with a source that never idles and a sink that is always ready; every output was checked "
        "against the golden model. Additions per call: N D per timestep in v1 (the masked kv counts), 2 N D Dh "
        "in v2 (the masked counts of K^T V and the masked sums of Q M); the SN updates run beside them and are "
        "not counted. The schedule is dense, so the cycles do not depend on the spikes (compare the two "
        f"densities). Ratio: cycles over additions / lanes; the goal is at most {RATIO_GOAL}. Back to back, "
        "the last timestep's output rows of one call overlap the next call's input.",
        "",
        *_cycles_table(cycle_rows),
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
def main(out, build_dir, sim, no_boards, seed):
    """Measure the attention unit and write the benchmark report."""
    build_dir = Path(build_dir)
    cycle_rows = []
    for shape in CYCLE_SHAPES:
        for variant in ("v1", "v2"):
            for lanes in CYCLE_LANES[variant, shape["channels"]]:
                p = AttentionParams.create(variant=variant, lanes=lanes, **shape)
                _echo(f"cycles of {variant} {_shape(p)} L={lanes} in {sim}")
                point = build_dir / "cycles" / f"{variant}-n{p.tokens}-d{p.channels}-l{lanes}"
                cycle_rows.append((p, measure_cycles(p, sim=sim, build_dir=point, seed=seed)))
    board_rows, versions = [], {}
    if not no_boards:
        from spikeforge.boards.platforms import board_family

        for board, shape, lanes in BOARD_POINTS:
            for variant in ("v1", "v2"):
                p = AttentionParams.create(variant=variant, lanes=lanes[variant], **shape)
                point = build_dir / board / f"{variant}-l{p.lanes}"
                _echo(f"building {variant} {_shape(p)} L={p.lanes} for {board}")
                result = build_point({"attention": p}, board, point, seed=seed, echo=_echo)
                if result["status"] == "ok":
                    report = result["report"]
                    versions[board] = report["tools"]
                else:
                    report = {"board": board, "error": f"{result['status']}: {result['error'].split(' (log:')[0]}"}
                cells = synth_cells(p, board_family(board), point / "unit")
                board_rows.append((p, report, cells))
    _write(out, cycle_rows, board_rows, sim, versions)
    _echo(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
