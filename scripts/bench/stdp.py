"""Benchmark the STDP learning engine against the inference-only LIF core: resources, fmax, cycles, updates.

The core: 256 neurons x 256 axons x 8-bit weights, P = 8 lanes, LIF with a shift decay, threshold 64. The
learning engine: the ``[stdp]`` defaults (all-to-all traces, rounding down), and the engine with every option
(stochastic rounding and reward-modulated STDP).

- Board builds (:func:`spikeforge.scripts.blocks.build_block`: the core on its board top-level, the whole board
  design with its UART host link, through the one build flow) of the
  inference-only core and of the learning cores on the iCE40UP5K (iCEBreaker) and the ECP5-85F (ULX3S): logic
  cells, RAM blocks, fmax, and what learning costs. On the UP5K, where a 256 x 256 learning core cannot fit (see
  the notes in the report), the same comparison is also made on a core whose weights fit the EBRs.
- Cycles per timestep, measured in Amaranth's simulator on the learning core (default engine) with learning on
  and switched off at run time, and on the inference-only core, at 5% and 50% of the axons active, with no
  neuron firing, 5% of the neurons firing and every neuron firing. A warm-up step first makes the traces
  nonzero, so that depression and potentiation change weights; spikes and a sample of the weights and traces
  are checked against the golden model.
- Weight updates per cycle: synapse updates of learning neurons divided by the cycles of the passes that make
  them, depression (folded into the integrate pass) and potentiation, both obtained from the measured cycle
  counts (see the report).

Every result is cached in the build directory (cycles under a digest of spikeforge's source,
:func:`spikeforge.hdl.manifest.source_digest`; builds by :func:`spikeforge.boards.build.build` itself), so a
rerun only redoes what changed. Writes
docs/benchmarks_stdp.md (``--out``).

Usage: python -m spikeforge.scripts.bench.stdp [--build-dir build/bench_stdp] [--phase all|cycles|builds]
"""

import json
import random
import time

import click
import numpy as np

from spikeforge.boards.build import select_tools
from spikeforge.boards.platforms import BOARDS, board_family
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.manifest import source_digest
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.scripts.bench.report import build_point, cached, machine_line, report_options, stored_build, verdict


__all__ = ["main", "measure_cycles"]


CORE = dict(neurons=256, axons=256, lanes=8, weight_bits=8, threshold=64)
# A UP5K core whose 32 kbit of weights, with the learning engine's memories, fit its EBRs (64 x 128 x 8 needs 31
# of its 30 with learning), for a comparison on that device.
SMALL_CORE = dict(neurons=64, axons=64, lanes=4, weight_bits=8, threshold=64)
ENGINES = {
    "inference": None,
    "learning": {},
    "learning, stochastic, reward": dict(stochastic=True, reward=True),
    "learning, single port": dict(weight_port="single"),
}
# The 256 x 256 core at P = 4: a learning core with a single weight port keeps its 32-bit weight words in two of
# the UP5K's SPRAMs.
CORE_P4 = dict(CORE, lanes=4)
ACTIVITIES = (0.05, 0.50)
FIRING = {"silent": 0.0, "5% fire": 0.05, "all fire": 1.0}
MODES = ("inference core", "learning off", "learning on", "learning on, single port")

# Goals (issue 3, "Benchmarks").
MAX_LC_INCREASE = 0.60
MAX_FMAX_LOSS = 0.10
MIN_UPDATES_PER_LANE = 0.9


def _params(core):
    return LifParams.create(**core)


def _stdp(params, engine):
    kwargs = ENGINES[engine]
    return None if kwargs is None else StdpParams.create(params, **kwargs)


# --- cycles --------------------------------------------------------------------------------------------------

def _plan(params, seed):
    """The measured steps: (activity, firing) -> (axons with an event, neurons made to fire)."""
    rng = random.Random(seed)
    plan = {}
    for activity in ACTIVITIES:
        for firing, fraction in FIRING.items():
            axons = sorted(rng.sample(range(params.axons), round(activity * params.axons)))
            neurons = sorted(rng.sample(range(params.neurons), round(fraction * params.neurons)))
            plan[(activity, firing)] = axons, neurons
    return plan


def measure_cycles(mode, *, seed=1, core=CORE):
    """Cycles of the measured steps in ``mode`` (one of :data:`MODES`), in Amaranth's simulator.

    Returns ``{"<activity>/<firing>": {"cycles", "events", "fired", "groups", "learners"}}`` (``groups``: groups
    with a spike). A warm-up step (every axon
    active, every neuron firing) leaves nonzero traces and weights; before each measured step configuration
    writes put the voltage of the neurons that must fire at the top of its range and every other one at the
    bottom, so that exactly they fire. Spikes and a sample of weights and traces are checked against the golden
    model.

    Raises
    ------
    AssertionError
        If the RTL differs from the model.
    """
    from spikeforge.hdl.lif_core.core import CfgField, LifCore
    from spikeforge.sim.lif_core.cycles import patience
    from spikeforge.sim.lif_core.model import LifModel
    from spikeforge.sim.lif_core.pysim import run_script
    from spikeforge.sim.stdp.model import StdpModel

    params = _params(core)
    stdp = None if mode == "inference core" else _stdp(params, "learning, single port" if "single" in mode
                                                         else "learning")
    # The weights start at zero (the memory's initial contents) and learn; the firing is forced.
    model = LifModel(params) if stdp is None else StdpModel(params, stdp)
    rng = np.random.default_rng(seed)
    v_lo, v_hi = params.v_range
    script = []
    if mode == "learning off":
        script.append(("write", CfgField.LEARNING, 0, 0, 0))
        model.learning = False
    expected, measured = [], []

    def fire_only(neurons):
        chosen = set(neurons)
        for n in range(params.neurons):
            v = v_hi if n in chosen else v_lo
            script.append(("write", CfgField.V, 0, n, v))
            model.v[n] = v

    def step(axons):
        script.append(("step", axons))
        expected.append([int(n) for n in model.step(axons)])
        return len(script) - 1

    fire_only(range(params.neurons))
    step(list(range(params.axons)))
    for key, (axons, neurons) in _plan(params, seed).items():
        fire_only(neurons)
        measured.append((key, step(axons), len(axons), neurons))
    samples = [(int(a), int(n)) for a, n in zip(rng.integers(0, params.axons, 64), rng.integers(0, params.neurons, 64))]
    reads = [("read", CfgField.WEIGHT, a, n) for a, n in samples]
    if stdp is not None:
        reads += [("read", CfgField.X_TRACE, a, 0) for a in range(0, params.axons, 17)]
        reads += [("read", CfgField.Y_TRACE, 0, n) for n in range(0, params.neurons, 13)]
    script += reads
    # The longest step: every axon, every neuron firing, potentiation in every group.
    timeout = patience(params, stdp, events=params.axons, slack=4)
    results = run_script(LifCore(params, stdp=stdp), script, timeout_cycles=timeout)

    steps = [result for op, result in zip(script, results) if op[0] == "step"]
    for index, ((spikes, _), want) in enumerate(zip(steps, expected)):
        if spikes != want:
            raise AssertionError(f"{mode}: step {index}: the RTL spiked {len(spikes)} neurons, the model "
                                 f"{len(want)}")
    want = [int(model.weights[a, n]) for a, n in samples]
    if stdp is not None:
        want += [int(x) for x in model.x[::17]] + [int(y) for y in model.y[::13]]
    if results[-len(reads):] != want:
        raise AssertionError(f"{mode}: the weights or traces read back differ from the model")
    out = {}
    for (activity, firing), position, events, fired in measured:
        out[f"{activity:g}/{firing}"] = {"cycles": results[position][1], "events": events, "fired": len(fired),
                                         "groups": len({n // params.lanes for n in fired}),
                                         "learners": len(fired) if mode.startswith("learning on") else 0}
    return out


# --- builds --------------------------------------------------------------------------------------------------

def _build_point(board, core, engine, out_dir, seed, toolchain, no_build):
    """A board build's report, or why it failed; None when ``no_build`` and it was never built."""
    if no_build:
        return stored_build(out_dir)
    params = _params(core)
    stdp = _stdp(params, engine)
    blocks = {"lif_core": params} if stdp is None else {"lif_core": params, "stdp": stdp}
    return build_point(blocks, board, out_dir, seed=seed, toolchain=toolchain, echo=None)


def _core_name(core):
    return f"{core['neurons']}x{core['axons']}x{core['weight_bits']} P={core['lanes']}"


def _build_jobs(boards):
    """(board, core name, core, engine) of every build, the most informative first."""
    jobs = []
    for board in boards:
        if board_family(board) == "ecp5":
            for engine in ("inference", "learning", "learning, stochastic, reward"):
                jobs.append((board, _core_name(CORE), CORE, engine))
        else:
            # The reward engine's eligibilities (768 kbit at 256 x 256) fit no UP5K memory: not built.
            for core, engines in ((CORE, ("inference", "learning", "learning, single port")),
                                  (CORE_P4, ("inference", "learning, single port")),
                                  (SMALL_CORE, ("inference", "learning"))):
                for engine in engines:
                    jobs.append((board, _core_name(core), core, engine))
    return jobs


def _directory(build_dir, board, core, engine):
    name = f"n{core['neurons']}_a{core['axons']}_p{core['lanes']}_" + engine.replace(", ", "_").replace(" ", "_")
    return build_dir / board / name


# --- report --------------------------------------------------------------------------------------------------


def _reason(result):
    return result["error"].split(" (log:")[0]


def _pot_cycles(cycles, key, mode="learning on"):
    """Cycles of the potentiation passes of a step: what its spikes add in ``mode`` (learning on) to the silent
    step of the same activity, minus what they add with learning off (same stimulus). The silent step holds the
    integrate pass's cost, which a single weight port doubles while learning."""
    silent = key.split("/")[0] + "/silent"

    def added(m):
        return cycles[m][key]["cycles"] - cycles[m][silent]["cycles"]
    return added(mode) - added("learning off")


def _cycles_per_event(cycles, mode):
    """Integrate-pass cycles per input event in ``mode``: the 50% step minus the 5% step (same firing), per
    event more."""
    low, high = cycles[mode]["0.05/silent"], cycles[mode]["0.5/silent"]
    return (high["cycles"] - low["cycles"]) / (high["events"] - low["events"])


def render(cycles, builds, tools, seed):
    p = _params(CORE)
    lines = [
        "# STDP learning engine benchmarks",
        "",
        "Generated by `python -m spikeforge.scripts.bench.stdp` (scripts/bench/stdp.py); do not edit by hand.",
        f"Core: {p.neurons} neurons x {p.axons} axons x {p.weight_bits}-bit weights, P = {p.lanes} lanes "
        f"(G = {p.groups} groups), LIF with a shift decay, threshold {p.threshold}. Learning engine *learning*: "
        "the `[stdp]` defaults (8-bit traces, all-to-all, a_plus 16, a_minus 17, lr_shift 8, rounding down); "
        "*learning, stochastic, reward*: the same with stochastic rounding and reward-modulated STDP (12-bit "
        "eligibility traces, 8-bit rewards); *learning, single port*: the defaults with `weight_port = \"single\"` "
        "(one weight-memory access per cycle, so the weights map to the UP5K's SPRAM). See docs/stdp.md.",
        "",
        machine_line(),
        "",
        "Tools: " + "; ".join(f"{board_family(b)}: " + ", ".join(dict.fromkeys(v for v in t.values() if v))
                              for b, t in tools.items()) + f". nextpnr seed {seed}.",
        "",
    ]
    lines += _render_cycles(cycles, p)
    lines += _render_builds(builds)
    lines += ["", "## Goals", ""] + _render_goals(cycles, builds, p) + ["", "## Notes", "", *_NOTES]
    return "\n".join(lines) + "\n"


def _render_cycles(cycles, p):
    lines = [
        "## Cycles per timestep (measured in Amaranth's simulator)",
        "",
        "One timestep: E input events offered back to back, then the tick, counted until `done`. E = 13 (5%) or "
        "128 (50%) of the 256 axons. Firing: no neuron, 13 (5%) or all 256 neurons fire in the step. *learning "
        "on*: the learning core; *learning off*: the same core with learning switched off at run time (`LEARNING` "
        "= 0; the traces still update); *inference core*: the core built without the engine; *single port*: "
        "learning on with a single weight port.",
        "",
        "| activity | firing | inference core | learning off | learning on | learning on / inference | "
        "single port |",
        "|---|---|---|---|---|---|---|",
    ]
    if not all(mode in cycles for mode in MODES):
        return lines + ["| not measured | | | | | |", ""]
    for activity in ACTIVITIES:
        for firing in FIRING:
            key = f"{activity:g}/{firing}"
            c = {mode: cycles[mode][key]["cycles"] for mode in MODES}
            lines.append(f"| {activity:.0%} | {firing} | {c['inference core']} | {c['learning off']} | "
                         f"{c['learning on']} | {c['learning on'] / c['inference core']:.2f} | "
                         f"{c['learning on, single port']} |")
    per_event = {mode: _cycles_per_event(cycles, mode) for mode in MODES}
    depression = p.neurons / per_event["learning on"]
    lines += [
        "",
        "## Weight updates per cycle (learning on)",
        "",
        "A weight update is one synapse of a learning neuron changed by depression (an input event updates the N "
        "synapses of its axon) or by potentiation (a spike updates the A synapses of its neuron).",
        "",
        f"- Depression is folded into the integrate pass. Integrate cycles per input event (the 50% step minus "
        f"the 5% step, silent, per event more): inference core {per_event['inference core']:.2f}, learning off "
        f"{per_event['learning off']:.2f}, learning on {per_event['learning on']:.2f} (G = {p.groups}). With "
        f"learning on an event updates {p.neurons} synapses in those cycles: {depression:.2f} updates per cycle "
        f"= {depression / p.lanes:.2f} P.",
        "- Potentiation runs after the neuron pass of the tick: for every group with a learning spike, a pass "
        "over the A axons (plus 3 cycles). Its cycles are what the step's spikes add to the silent step of the "
        "same activity with learning on, minus what they add with learning off (the trace pass and the scan of "
        "the groups run in both).",
        "",
        "| activity | firing | groups with a spike | potentiation updates | potentiation cycles | per cycle | "
        "per cycle / P |",
        "|---|---|---|---|---|---|---|",
    ]
    for activity in ACTIVITIES:
        for firing in FIRING:
            key = f"{activity:g}/{firing}"
            pot = cycles["learning on"][key]["learners"] * p.axons
            pot_cycles = _pot_cycles(cycles, key)
            rate = f"{pot / pot_cycles:.2f} | {pot / pot_cycles / p.lanes:.2f}" if pot_cycles else "- | -"
            groups = cycles["learning on"][key]["groups"]
            lines.append(f"| {activity:.0%} | {firing} | {groups} | {pot} | {pot_cycles} | {rate} |")
    lines.append("")
    return lines


_BUILD_COLUMNS = "| board | core | engine | LCs | FFs | BRAM | SPRAM | DSP | fmax MHz | LCs vs inference | " \
                 "fmax vs inference | build s |"


def _render_builds(builds):
    lines = [
        "## Board builds",
        "",
        "The whole board design: the core, the UART host link (docs/host_protocol.md) and its FIFO. LCs: iCE40 "
        "logic cells (ICESTORM_LC) or ECP5 LUT4s (TRELLIS_COMB). BRAM: iCE40 EBR (4 kbit) or ECP5 DP16KD "
        "(18 kbit). fmax: nextpnr's estimate for the board clock (constraint 12 MHz iCEBreaker, 25 MHz ULX3S).",
        "",
        _BUILD_COLUMNS,
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (board, core_name, engine), b in builds.items():
        head = f"| {board} | {core_name} | {engine} |"
        if b is None:
            lines.append(f"{head} not built | | | | | | | | |")
            continue
        if b["status"] != "ok":
            lines.append(f"{head} {b['status']}: {_reason(b)} | | | | | | | | |")
            continue
        r = b["report"]
        res, avail = r["resources"], r["available"]
        base = builds.get((board, core_name, "inference"))
        lc_change = fmax_change = ""
        if engine != "inference" and base and base["status"] == "ok":
            ref = base["report"]
            lc_change = f"{res['logic_cells'] / ref['resources']['logic_cells'] - 1:+.0%}"
            if r["fmax_mhz"] and ref["fmax_mhz"]:
                fmax_change = f"{r['fmax_mhz'] / ref['fmax_mhz'] - 1:+.0%}"
        lines.append(f"{head} {res['logic_cells']}/{avail['logic_cells']} | {res['ffs']} | "
                     f"{res['bram']}/{avail['bram']} | {res['spram']}/{avail['spram']} | {res['dsp']} | "
                     f"{r['fmax_mhz']} | {lc_change} | {fmax_change} | {r['seconds']:.0f} |")
    return lines


def _render_goals(cycles, builds, p):
    out = []
    pairs = [(board, _core_name(core), engine) for board in BOARDS for core in (CORE, CORE_P4, SMALL_CORE)
             for engine in ("learning", "learning, single port")]
    for board, core_name, engine in pairs:
        base = builds.get((board, core_name, "inference"))
        learn = builds.get((board, core_name, engine))
        if base is None or learn is None:
            continue
        where = f"{board}, {core_name}, {engine}"
        if base["status"] != "ok" or learn["status"] != "ok":
            failed = [f"{name} build {b['status']}" for name, b in (("inference", base), (engine, learn))
                      if b["status"] != "ok"]
            out.append(f"- {where}: not measurable ({', '.join(failed)}; see the table and the notes).")
            continue
        a, b = base["report"], learn["report"]
        lcs = b["resources"]["logic_cells"] / a["resources"]["logic_cells"] - 1
        out.append(f"- {where}: logic cells {lcs:+.0%} (goal at most +{MAX_LC_INCREASE:.0%}), "
                   f"{verdict(lcs <= MAX_LC_INCREASE)}.")
        if a["fmax_mhz"] and b["fmax_mhz"]:
            loss = 1 - b["fmax_mhz"] / a["fmax_mhz"]
            out.append(f"- {where}: fmax {a['fmax_mhz']} -> {b['fmax_mhz']} MHz, {loss:.0%} lost (goal at most "
                       f"{MAX_FMAX_LOSS:.0%}), {verdict(loss <= MAX_FMAX_LOSS)}.")
    if all(mode in cycles for mode in MODES):
        key = "0.5/all fire"
        depression = p.neurons / _cycles_per_event(cycles, "learning on") / p.lanes
        pot = cycles["learning on"][key]["learners"] * p.axons / _pot_cycles(cycles, key) / p.lanes
        worst = min(depression, pot)
        out.append(f"- Weight updates per cycle in the learning passes, every neuron learning (goal at least "
                   f"{MIN_UPDATES_PER_LANE} P): depression {depression:.2f} P, potentiation {pot:.2f} P, "
                   f"{verdict(worst >= MIN_UPDATES_PER_LANE)}. With few spikes per group the potentiation lanes "
                   f"of the neurons that did not spike idle: see the *5% fire* rows.")
        single = "learning on, single port"
        depression = p.neurons / _cycles_per_event(cycles, single) / p.lanes
        pot = cycles[single][key]["learners"] * p.axons / _pot_cycles(cycles, key, single) / p.lanes
        out.append(f"- With a single weight port (`weight_port = \"single\"`, for the UP5K's SPRAM): depression "
                   f"{depression:.2f} P, potentiation {pot:.2f} P, {verdict(min(depression, pot) >= MIN_UPDATES_PER_LANE)}"
                   f": every update takes a read cycle and a write cycle, half the rate by construction.")
    return out


_NOTES = [
    "- Weight memory of a learning core on the iCE40UP5K. With the default dual weight port a learning core "
    "reads one weight word and writes another (the one before, updated) in the same cycle: a simple dual-port "
    "memory. The UP5K's SPRAMs (SB_SPRAM256KA) are single-port, one read or write per cycle, so Yosys cannot map "
    "that memory to them, and the 512 kbit of 256 x 256 x 8-bit weights do not fit its 30 EBRs (120 kbit): the "
    "*learning* builds of the 256 x 256 core run out of EBRs. `weight_port = \"single\"` gives the weight "
    "memory one port: each cycle it reads or writes, and a read waits while a word is written back, so the "
    "weights map to SPRAM like the inference core's, at half the update rate (the *single port* rows). What "
    "full rate on SPRAM would take: two banks selected by the parity of axon + group, so that the word written "
    "back and the word read in the same cycle are in different banks (the write-back then needs an odd number "
    "of stages), with P x 8-bit words that the four 16-bit SPRAMs hold as two banks only for P <= 4. "
    "Reward-modulated STDP adds 12 bits of eligibility per synapse (768 kbit at 256 x 256), which no UP5K "
    "memory holds; it is not built there. The 64 x 64 rows show the dual-port engine's cost on the UP5K for a "
    "core whose weights fit the EBRs (a 64 x 128 x 8 core, 26 EBRs without learning, needs 31 of the 30 with "
    "it).",
    "- fmax of the learning core. Every weight (or eligibility) update goes through a registered write-back "
    "stage (docs/stdp.md): the cycle the memories return a word computes the change (a_minus * y, a_plus * x "
    "or reward * eligibility) and registers it; the next cycle adds, clips and writes. Before that stage the "
    "multiplication sat between the memory read and the write in one cycle and the ECP5 learning core ran at "
    "46.4 MHz against 66.6 MHz for inference. The critical path of the learning core is now the same as the "
    "inference core's: the weight block RAM's output into the accumulator addition and the state memory's "
    "write data.",
    "- The trace pass (A cycles) and the scan of the groups for learning spikes (2 cycles per group) run every "
    "tick, also with learning off: about A + 2 G cycles per timestep (320 for this core), most of the "
    "difference between *learning off* and the inference core. Potentiation takes A + 3 cycles for every group with a learning spike, "
    "whatever the number of spikes in it: with one spike per group its lanes do 1/P of the useful work (the "
    "*5% fire* rows).",
    "- *does not fit*: nextpnr could not place the design (the message names the resource). A build that "
    "failed otherwise is marked *failed* with the tool's first error.",
    "- fmax is nextpnr's estimate after routing, with the board oscillator as the constraint; different "
    "nextpnr versions give different numbers for the same design, hence the versions and the seed above.",
]


# --- main ----------------------------------------------------------------------------------------------------

@click.command()
@report_options("build/bench_stdp", "docs/benchmarks_stdp.md")
@click.option("--phase", type=click.Choice(["all", "cycles", "builds"]), default="all", show_default=True,
              help="Measure cycles, run the builds, or both; the report shows whatever is cached.")
def main(build_dir, out, boards, seed, toolchain, phase):
    """Run the STDP benchmark and write the report."""
    boards = boards or tuple(BOARDS)
    tools = {b: {t: i["version"] for t, i in select_tools(board_family(b), toolchain).items()} for b in boards}
    key = source_digest()

    def log(message):
        click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)

    def write(cycles, builds):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(cycles, builds, tools, seed))

    cycles = {}
    for mode in MODES:
        path = build_dir / "cycles" / f"{mode.replace(' ', '_')}.json"
        if phase == "builds":
            if path.exists() and json.loads(path.read_text()).get("key") == key:
                cycles[mode] = json.loads(path.read_text())["result"]
            continue
        log(f"cycles: {mode}")
        cycles[mode] = cached(path, key, lambda mode=mode: measure_cycles(mode))

    builds = {}
    for board, core_name, core, engine in _build_jobs(boards):
        builds[(board, core_name, engine)] = None
    for board, core_name, core, engine in _build_jobs(boards):
        directory = _directory(build_dir, board, core, engine)
        if phase != "cycles":
            log(f"build: {board} {core_name} {engine}")
        result = _build_point(board, core, engine, directory, seed, toolchain, no_build=phase == "cycles")
        builds[(board, core_name, engine)] = result
        if result is not None:
            extra = f", {result['report']['resources']['logic_cells']} LCs, {result['report']['fmax_mhz']} MHz" \
                if result["status"] == "ok" else f": {_reason(result)}"
            log(f"build: {board} {core_name} {engine}: {result['status']}{extra}")
        write(cycles, builds)
    write(cycles, builds)
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
