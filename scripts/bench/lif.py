"""Benchmark the LIF core: board resources and fmax, and measured cycles per timestep, over a sweep.

Sweep: neurons {64, 256, 1024} x lanes {1, 4, 8}, 256 axons, 8-bit weights, on every board of
:data:`spikeforge.boards.platforms.BOARDS`, and 1024 neurons x lanes {16, 32} on the ECP5-85F. For each point:

- a board build of the core on its board top-level (:func:`spikeforge.scripts.blocks.build_block`, the one
  build flow) at the highest clock of the board's list that meets timing (``clock_mhz = "fastest"``, the
  default of ``spikeforge build``): logic cells, flip-flops, RAM blocks, fmax, the clock, and the critical path
  from nextpnr's report; a design that needs more than the device has is recorded as not fitting. The figures
  of the report this run replaces are kept beside them (*before*) for the rows that changed;
- a run of the core alone in Amaranth's simulator: cycles of one timestep with 5% and 50% of the axons active
  (events offered back to back, then the tick, counted to ``done``), once with no neuron firing and once with
  every neuron firing (the spike output is serialized, one neuron per cycle). A synaptic operation is one
  weight added to one neuron, so a timestep of E events does E * N of them.

Results stay in the build directory: a board build is redone only when its build files, tools or seed
changed (:func:`spikeforge.boards.build.build` checks), a cycle count only when spikeforge's source changed
(:func:`spikeforge.hdl.manifest.source_digest`). So a rerun only redoes what changed (and elaborates every point
again).
The report is written to docs/benchmarks.md (``--out``).

``--point N:P`` (repeatable) builds only those points and reports the others from what their build directories
hold. The sections scripts/bench/collect.py appended to the report are kept.

Usage: python -m spikeforge.scripts.bench.lif [--build-dir build/bench_lif] [--out docs/benchmarks.md]
    [--point 256:8 ...]
"""

import concurrent.futures
import json
import random
import re
import time

import click

from spikeforge.boards.build import select_tools
from spikeforge.boards.clocking import FASTEST
from spikeforge.boards.platforms import BOARDS, board_family
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.hdl.manifest import source_digest
from spikeforge.scripts.bench.collect import MARKER as COLLECTED
from spikeforge.scripts.bench.report import build_point, cached, machine_line, report_options, stored_build, verdict


__all__ = ["main"]


NEURONS = (64, 256, 1024)
LANES = (1, 4, 8)
AXONS = 256
WEIGHT_BITS = 8
ACTIVITIES = (0.05, 0.50)
EXAMPLE = (256, 8)          # the example core 256x256x8, P = 8
# Wider cores where the device has the memory bandwidth: (board, neurons, lanes).
WIDE = (("ulx3s-85f", 1024, 16), ("ulx3s-85f", 1024, 32))
# The example core with the STDP engine (the [stdp] defaults, docs/stdp.md), against the inference core.
LEARNING_BOARD = "ulx3s-85f"
LEARNING_FMAX_LOSS = 0.10       # at most 10% below the inference core's fmax

# Targets (docs/benchmarks.md, "Targets").
UP5K_SYNOPS_PER_CYCLE = 0.9     # x P, at 50% activity
UP5K_FMAX_MHZ = 30
UP5K_MAX_LCS = 3500
ECP5_FMAX_MHZ = 100
ECP5_P32_MHZ = 80
ECP5_P32_SYNOPS = 2.5e9
TINYODIN_CYCLES_PER_SYNOP = 2


def _params(neurons, lanes, **extra):
    return LifParams.create(neurons=neurons, axons=AXONS, lanes=lanes, weight_bits=WEIGHT_BITS, **extra)


# --- cycles ------------------------------------------------------------------------------------------------

def measure_cycles(neurons, lanes, activity, firing, *, seed=1):
    """Cycles of one timestep of ``round(activity * AXONS)`` distinct events, in Amaranth's simulator.

    With ``firing`` every neuron fires in the step (bias above threshold), else none does (zero weights).
    The spikes are checked against the golden model.
    """
    from spikeforge.hdl.lif_core.core import LifCore
    from spikeforge.sim.lif_core.cycles import patience
    from spikeforge.sim.lif_core.model import LifModel
    from spikeforge.sim.lif_core.pysim import run_script

    params = _params(neurons, lanes, threshold=64, bias=65 if firing else 0)
    axons = random.Random(seed).sample(range(AXONS), round(activity * AXONS))
    timeout = patience(params, events=len(axons), slack=4)
    (spikes, cycles), = run_script(LifCore(params), [("step", axons)], timeout_cycles=timeout)
    expected = [int(n) for n in LifModel(params).step(axons)]
    if spikes != expected:
        raise AssertionError(f"RTL spikes differ from the model for {neurons} neurons, {lanes} lanes")
    return cycles


# --- one point ---------------------------------------------------------------------------------------------

def _build_point(board, neurons, lanes, out_dir, seed, toolchain, clock_mhz=FASTEST, learning=False):
    """The build's report, or why it failed; the build directory keeps the result for the next run. A build at
    a chosen ``clock_mhz`` that misses it is reported with its figures (``report["fmax_mhz"]`` below
    ``report["clock_mhz"]``). ``learning``: the core with the STDP engine's defaults."""
    params = _params(neurons, lanes)
    blocks = {"lif_core": params, "stdp": StdpParams.create(params)} if learning else {"lif_core": params}
    result = build_point(blocks, board, out_dir, seed=seed, toolchain=toolchain, clock_mhz=clock_mhz, echo=None)
    if result["status"] == "failed" and clock_mhz != FASTEST and result["error"].startswith("timing"):
        return stored_build(out_dir)
    return result


def critical_path(build_dir):
    """``"<from cell> -> <to cell>, <n> logic levels + <c> carry steps, <ns> ns"`` of the worst path of the sync
    clock in nextpnr's report of the build in ``build_dir``, or None. A logic level is a cell's logic the path
    goes through (a LUT, or an adder's carry entered from outside its chain); a carry step is one bit of a carry
    chain, from carry in to carry out (iCE40 ``CIN``, ECP5 ``FCI``)."""
    path = build_dir / "top.nextpnr.json"
    if not path.exists():
        return None
    for cp in json.loads(path.read_text()).get("critical_paths", []):
        steps = cp.get("path", [])
        if not steps or "<async>" in (cp.get("from", ""), cp.get("to", "")):
            continue
        delay = sum(step["delay"] for step in steps)
        logic = [step for step in steps if step["type"] == "logic"]
        carries = sum(step["from"]["port"] in ("CIN", "FCI") for step in logic)

        def cell(step, end):
            return re.sub(r"(_(LUT4|TRELLIS|SB|CCU2C|PFUMX|DPRAM|L6MUX21)\S*|\$\S*)$", "", step[end]["cell"])
        return (f"{cell(steps[0], 'from')} -> {cell(steps[-1], 'to')}, {len(logic) - carries} logic levels + "
                f"{carries} carry steps, {delay:.1f} ns")
    return None


def previous_builds(out):
    """{(board, N, P): (LCs, fmax)} of the board-build table of the report at ``out``, the figures this run
    replaces (a row's own *before* when it has one, so a partial rerun keeps them)."""
    if not out.exists():
        return {}
    found = {}
    for line in out.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) <= 8 or cells[0] not in BOARDS or not cells[1].isdigit() or not cells[2].isdigit():
            continue
        point = (cells[0], int(cells[1]), int(cells[2]))
        if len(cells) > 11 and ", " in cells[11]:       # a row of this report with figures from before it
            found[point] = tuple(cells[11].split(", "))
        elif re.fullmatch(r"\d+/\d+", cells[3]):        # a row with figures, not a failed build's
            found[point] = (cells[3].split("/")[0], cells[8])
    return found


def _cycles_point(neurons, lanes):
    return {f"{activity:g}/{'firing' if firing else 'silent'}": measure_cycles(neurons, lanes, activity, firing)
            for activity in ACTIVITIES for firing in (False, True)}


# --- report ------------------------------------------------------------------------------------------------


def _cycle_points():
    """(N, P) of every row of the timestep table: the sweep, then the wide cores."""
    return [(n, p) for n in NEURONS for p in LANES] + [(n, p) for _, n, p in WIDE]


def _build_points(boards):
    """(board, N, P) of every board build, the example core first."""
    points = [(b, *EXAMPLE) for b in boards]
    points += [(b, n, p) for b in boards for n in NEURONS for p in LANES if (n, p) != EXAMPLE]
    return points + [point for point in WIDE if point[0] in boards]


def _events(activity):
    return round(activity * AXONS)


def _synops_per_cycle(neurons, cycles, activity):
    return _events(activity) * neurons / cycles


def render(builds, cycles, tools, seed, before=None):
    """docs/benchmarks.md from the cached results."""
    lines = [
        "# LIF core benchmarks",
        "",
        "Generated by `python -m spikeforge.scripts.bench.lif` (scripts/bench/lif.py); do not edit by hand.",
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
    for n, p in _cycle_points():
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
        "(4 kbit) or ECP5 DP16KD (18 kbit). clock: what the bitstream runs at, the board's PLL from its "
        "oscillator (12 MHz iCEBreaker, 25 MHz ULX3S), the highest of `spikeforge build`'s list that meets "
        "timing, or the clock the script was given for the point (`--clock`; *missed* when the fmax is below "
        "it); fmax: nextpnr's estimate with that clock as the constraint. Syn ops/s: synaptic operations per "
        "second at the clock and 50% activity (silent). *before*: LCs and fmax of the report this one replaced "
        "(built at the board oscillator, before the PLL and the pipelining of issue 15), for the rows that "
        "changed. Critical path: the worst path of the build, from nextpnr's report (first and "
        "last cell, the LUT levels and the carry-chain bits it goes through).",
        "",
        "| board | N | P | LCs | FFs | BRAM | SPRAM | DSP | fmax MHz | clock MHz | M syn ops/s | before: LCs, "
        "fmax | critical path | build s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    before = before or {}
    for board, n, p in _build_points(BOARDS):
        lines.append(_build_row(board, n, p, builds.get((board, n, p)), before.get((board, n, p)),
                                cycles.get((n, p))))
    learning = builds.get((LEARNING_BOARD, *EXAMPLE, "learning"))
    if learning is not None:
        lines.append(_build_row(LEARNING_BOARD, EXAMPLE[0], f"{EXAMPLE[1]}, learning", learning, None, None))
    lines += ["", "## Targets", ""] + _targets(builds, cycles) + ["", "## Notes", "", *_NOTES]
    return "\n".join(lines) + "\n"


def _build_row(board, n, p, b, old, c):
    """A row of the board-build table: build result ``b`` (None: not built), the figures it replaces ``old``,
    the cycles ``c`` of its core (None: no synaptic operations per second)."""
    if b is None:
        was = f"{old[0]}, {old[1]}" if old else ""
        return f"| {board} | {n} | {p} | not built in this run | | | | | | | | {was} | | |"
    if b["status"] != "ok":
        reason = b["error"].split(": ", 1)[-1].split(" (log:")[0]
        return f"| {board} | {n} | {p} | {b['status']}: {reason} | | | | | | | | | | |"
    r = b["report"]
    res, avail = r["resources"], r["available"]
    clock = r.get("clock_mhz", r["clock_constraint_mhz"])
    rate = "" if c is None else f"{_synops_per_cycle(n, c['0.5/silent'], 0.5) * clock:.0f}"
    shown = f"{clock:g}"
    if r["fmax_mhz"] is not None and r["fmax_mhz"] < clock:
        shown, rate = f"{clock:g}, **missed**", ""
    changed = old and (old[0] != str(res["logic_cells"]) or old[1] != str(r["fmax_mhz"]))
    was = f"{old[0]}, {old[1]}" if changed else ""
    return (f"| {board} | {n} | {p} | {res['logic_cells']}/{avail['logic_cells']} | {res['ffs']} | "
            f"{res['bram']}/{avail['bram']} | {res['spram']}/{avail['spram']} | {res['dsp']} | "
            f"{r['fmax_mhz']} | {shown} | {rate} | {was} | {b.get('critical_path') or ''} | "
            f"{r['seconds']:.0f} |")


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
    "- fmax is nextpnr's timing estimate after routing with the clock as the constraint; the clock search "
    "(`spikeforge build` without `--clock`, boards/build.py) builds first at the highest clock of the board's "
    "list, then down the list, skipping clocks more than 10% above the best fmax reached, so the fmax shown is "
    "the one of the build that met its clock. Different nextpnr versions and seeds give different numbers for the same design, "
    "hence the versions and the seed above.",
    "- Pipelining (issue 15, docs/lif_core.md): the integrate pass registers the weight and state words read "
    "before adding (forwarding the word being written when one group follows itself), the configuration "
    "port answers from those registers (a cycle more per command), and the spike emitter sends from output "
    "registers with a skid register, so the host link's `ready` reaches no logic behind them. The cycles per "
    "timestep are those of before, plus one when a spike leaves. On the iCE40, where a register fed straight "
    "from a block RAM takes a logic cell of its own (the registered reads cost 377 cells of the example core), "
    "the core is built without them (`register_reads = False`): the accumulators have a memory of their own, "
    "the integrate pass registers the sums of accumulators and weights behind its adders and writes the "
    "accumulators alone a cycle later, and the neuron pass adds the accumulators in its first stage, so neither "
    "keeps a copy of a word read. The host bridge hands the frame encoder each byte through a register.",
    "- Collision-free memories (docs/lif_core.md). A block RAM has no transparent read port, so Yosys built one "
    "for the state memory from a register and a multiplexer per bit in front of the adders, although a read "
    "meets the write of its word only in cores of one or two groups. The state memory (and a learning core's "
    "dual-port weight and eligibility memories, from three groups) is now marked collision-free, and the build "
    "flow lets a read that meets a write return anything on the iCE40, and on the ECP5 in block RAM only (the "
    "learning core's weights; the state memory there is LUT RAM, docs/lif_core.md). "
    "With that, the bridge's register and the split accumulators, the iCEBreaker example build went from 4,096 cells and 27.01 MHz (the report this one "
    "replaced, at 27 MHz) to the figures of the table.",
    "- Since the report before this one (issue 15, docs/lif_core.md and docs/stdp.md): a clip to the whole "
    "range of a narrower width looks at the bits above it instead of comparing (`spikeforge.hdl.arith.saturate`; "
    "the iCEBreaker example core went from 3,468 to 3,044 cells); a core of G >= 3 groups with registered reads "
    "writes its state memory from registers (the write lands a cycle later), so the multiplexer of the word's "
    "writers ends at flip-flops; the spike emitter keeps the vector without its lowest spike, and whether any "
    "is left, in registers, so no carry chain or wide OR decides its next load (the P = 32 core's worst path "
    "was that loop, 12.5 ns); and the learning core takes the registered reads too (the depression staged from "
    "the registered words, a weight written back three cycles after its read, forwarded for G <= 2; its neuron "
    "pass registers the word it writes back). Cycles per timestep of an inference core are unchanged; a "
    "learning core's passes take a cycle more each (docs/stdp.md).",
    "- What limits each build: the critical path column (nextpnr's worst path of the build, in its report "
    "top.tim in the build directory). iCE40UP5K, the example core: the neuron pass's spike stage into the state "
    "memory's write, through the threshold compare's carry chain (27.8 ns); the neuron pass's write from "
    "registers, as a learning core's is (`NeuronPass(register_write=True)`), would take that path off. ECP5-85F, the example "
    "core: the board top-level's activity LED timer into the enables of the spike output's register, 8.6 ns, "
    "so the core itself is faster than the figure. P = 32: the weight block RAMs' outputs into the registered "
    "weight word (116 DP16KD, the word 256 bits wide, routed across the die), 12.3 ns; more would take the "
    "DP16KD's own output register (a cycle more of read latency and one more forwarding case) or each lane's "
    "weight and state RAMs placed beside its adder. P = 16 (62.5 MHz; at 80 MHz its worst path was the control "
    "FSM's state into the 135 DP16KD's write enables, 14.7 ns): the state memory's output through the neuron "
    "pass's adders, 14.4 ns. The learning core runs at 100 MHz, 11% below the inference core's 112.5 MHz (the "
    "report before this one: at 90 MHz, 20% below, fmax 102.46; the fmax of a build depends on its clock, and the "
    "search keeps the highest clock met): its weight block RAMs' reads, collision-free, lost their collision "
    "multiplexer and its register (the build flow's collision setting, above), and a configuration write goes to "
    "the registered read address, so the write port's address no longer starts at the control FSM: 103 LUT4 and 130"
    " flip-flops fewer together. Its worst path is now the configuration port's write data: the command's field and"
    " the control FSM's state, through the decode of which lane of the weight word the command writes, into a "
    "weight DP16KD's data input, 9.9 ns in 6 logic levels, 7.7 ns of it routing (3.7 ns the last hop to the block "
    "RAM). Tried by hand and left out: the written word formed apart from the FSM (only the write enable depending "
    "on its state, the engine's write-back multiplexer alone in front of the data input) took that path off, but "
    "the build reached 101.88 MHz at 100 (95.0 at 125) for 133 LUT4 more, within the placement noise of this one; "
    "its worst path became the potentiation pass's count compare through the trace and fired memories' read address"
    " into the configuration answer's register, 9.8 ns. The goal (104.2 MHz, 9.6 ns) needs several paths shortened "
    "at once: the builds of the search and of the tries each had a different worst path, between 9.2 and 10.1 ns (a"
    " weight read into the registered word, the configuration port's write data and address, the potentiation "
    "pass's count). What it would take: a register cutting each of them (the DP16KD's output register for the "
    "weight read, as for P = 32, a cycle more of read latency in every pass; the configuration's written word and "
    "its lane selects registered before the write, a cycle more per command; the pass's end compare decided a cycle"
    " early), several changes for about 4% of clock.",
]


def _runs(report):
    """(how a build ran, as the targets say it; whether its fmax meets its clock)."""
    clock, fmax = report["clock_mhz"], report["fmax_mhz"]
    if fmax is not None and fmax < clock:
        return f"misses its {clock:g} MHz clock (fmax {fmax} MHz)", False
    return f"runs at {clock:g} MHz (fmax {fmax} MHz)", True


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
        runs, ok = _runs(r)
        out.append(f"- UP5K >= {UP5K_FMAX_MHZ} MHz from the PLL: {runs}, "
                   f"{verdict(ok and r['clock_mhz'] >= UP5K_FMAX_MHZ)}.")
        out.append(f"- UP5K <= {UP5K_MAX_LCS} LCs: {r['resources']['logic_cells']} (whole board design), "
                   f"{verdict(r['resources']['logic_cells'] <= UP5K_MAX_LCS)}.")
    elif ice:
        out.append(f"- UP5K: the build {ice['status']}: {ice['error']}")
    if ecp and ecp["status"] == "ok":
        runs, ok = _runs(ecp["report"])
        out.append(f"- ECP5 >= {ECP5_FMAX_MHZ} MHz from the PLL: {runs}, "
                   f"{verdict(ok and ecp['report']['clock_mhz'] >= ECP5_FMAX_MHZ)}.")
    elif ecp:
        out.append(f"- ECP5: the build {ecp['status']}: {ecp['error']}")
    board, wide_n, wide_p = WIDE[-1]
    wide = builds.get(WIDE[-1])
    c = cycles.get((wide_n, wide_p))
    goal = (f"- ECP5, {wide_n} neurons, P = {wide_p}, >= {ECP5_P32_MHZ} MHz and >= {ECP5_P32_SYNOPS / 1e9:g} G "
            "synaptic ops/s")
    if wide and wide["status"] == "ok" and c:
        r = wide["report"]
        runs, ok = _runs(r)
        rate = _synops_per_cycle(wide_n, c["0.5/silent"], 0.5) * min(r["clock_mhz"], r["fmax_mhz"]) * 1e6
        out.append(f"{goal}: {runs}, {rate / 1e9:.2f} G/s at {min(r['clock_mhz'], r['fmax_mhz']):g} MHz, "
                   f"{verdict(ok and r['clock_mhz'] >= ECP5_P32_MHZ and rate >= ECP5_P32_SYNOPS)}; critical path "
                   f"{wide.get('critical_path')}.")
    elif wide:
        out.append(f"{goal}: the build {wide['status']}: {wide['error']}")
    else:
        out.append(f"{goal}: not built in this run, **not shown**.")
    learning = builds.get((LEARNING_BOARD, *EXAMPLE, "learning"))
    inference = builds.get((LEARNING_BOARD, *EXAMPLE))
    goal = (f"- {LEARNING_BOARD}, the learning core (the example core with the `[stdp]` defaults) at most "
            f"{LEARNING_FMAX_LOSS:.0%} below the inference core's fmax")
    if learning and inference and learning["status"] == inference["status"] == "ok":
        lf, inf = learning["report"]["fmax_mhz"], inference["report"]["fmax_mhz"]
        loss = 1 - lf / inf
        out.append(f"{goal}: {lf} MHz (built at {learning['report']['clock_mhz']:g} MHz) against {inf} MHz, "
                   f"{loss:.0%} below, {verdict(loss <= LEARNING_FMAX_LOSS)}; critical path "
                   f"{learning.get('critical_path')}.")
    else:
        out.append(f"{goal}: not built in this run, **not shown**.")
    return out


# --- main ----------------------------------------------------------------------------------------------------

@click.command()
@report_options("build/bench_lif", "docs/benchmarks.md")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="Builds run at once.")
@click.option("--no-build", is_flag=True, help="Run no tools; report what the build directories hold.")
@click.option("--point", "points", metavar="N:P", multiple=True,
              help="Build only these points (neurons:lanes); the others are reported as their directories hold.")
@click.option("--clock", "clocks", metavar="BOARD:N:P:MHZ", multiple=True,
              help="Build this point at this clock instead of searching for the fastest (a clock it misses is "
                   "reported as missed, with its figures).")
@click.option("--learning-clock", type=click.FloatRange(min=0, min_open=True),
              help=f"Build the learning example core on {LEARNING_BOARD} at this clock (default: the fastest).")
def main(build_dir, out, boards, seed, toolchain, jobs, no_build, points, clocks, learning_clock):
    """Run the LIF benchmark sweep and write the report."""
    boards = boards or tuple(BOARDS)
    chosen = {tuple(int(x) for x in point.split(":")) for point in points}
    fixed = {}
    for spec in clocks:
        board, n, p, mhz = spec.split(":")
        fixed[(board, int(n), int(p))] = float(mhz)
    before = previous_builds(out)
    collected = out.read_text().partition(COLLECTED)[1:] if out.exists() else ("", "")
    simulation = source_digest()
    tools = {b: {t: i["version"] for t, i in select_tools(board_family(b), toolchain).items()} for b in boards}

    def log(message):
        click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)

    cycles = {}
    for n, p in _cycle_points():
        log(f"cycles: {n} neurons, {p} lanes")
        cycles[(n, p)] = cached(build_dir / "cycles" / f"n{n}_p{p}.json", simulation,
                                 lambda n=n, p=p: _cycles_point(n, p))

    builds = {}
    jobs_list = _build_points(boards)
    if LEARNING_BOARD in boards:        # after the example cores
        jobs_list.insert(len(boards), (LEARNING_BOARD, *EXAMPLE, "learning"))

    def point(board, n, p, *learning):
        path = build_dir / board / (f"n{n}_a{AXONS}_w{WEIGHT_BITS}_p{p}" + "".join(f"_{x}" for x in learning))
        skip = no_build or (chosen and (n, p) not in chosen)
        clock_mhz = (learning_clock or FASTEST) if learning else fixed.get((board, n, p), FASTEST)
        result = stored_build(path) if skip else _build_point(board, n, p, path, seed, toolchain, clock_mhz,
                                                              learning=bool(learning))
        if result is not None and result["status"] == "ok":
            result["critical_path"] = critical_path(path)
        return result

    def write():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(builds, cycles, tools, seed, before) + "".join(collected))

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(point, *job): job for job in jobs_list}
        for future in concurrent.futures.as_completed(futures):
            job = futures[future]
            board, n, p = job[:3]
            result = future.result()
            if result is not None:
                builds[job] = result
                status = result["status"]
                extra = f", {result['report']['resources']['logic_cells']} LCs, {result['report']['fmax_mhz']} MHz" \
                    if status == "ok" else ""
                log(f"build {board} {n} neurons {p} lanes{' learning' if len(job) > 3 else ''}: {status}{extra}")
            write()
    write()
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
