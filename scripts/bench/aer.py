"""Benchmark the AER router and the mesh: latency, throughput, latency against offered load, resources and fmax.

Measured on the generated Verilog through the cocotb bench (:func:`spikeforge.sim.aer.rtl.run_rtl`, which also
checks every run against the golden model):

- zero-load latency: single packets on a 4 x 4 mesh from node (0, 0) to destinations 0..6 hops away; the
  latency is the delivery cycle minus the injection cycle, the per-hop figure the slope;
- saturation throughput: every node of the 4 x 4 mesh offers packets to uniformly random other nodes every
  cycle; accepted packets per node per cycle over the window where every source still has packets waiting;
- latency against offered load: Bernoulli sources at each load, mean latency from the packet's earliest
  injection cycle (source queueing included) to its delivery; plotted to a PNG.

Resources and fmax of one router (5 ports, XY, 16-bit payload, FIFO depth 4, in a 4 x 4 mesh; and the same with
a 16-entry table): on the ECP5-85F out of context (the router alone, nextpnr-ecp5 --out-of-context); on the
iCE40UP5K, which has no out-of-context mode and too few pins for the router's 270 port bits, inside a wrapper
that drives every input from a serial scan chain and folds every registered output into one pin through a
pipelined XOR tree (its flip-flops and LUTs are reported separately). The tools are those
:func:`spikeforge.boards.build.select_tools` picks.

Writes docs/benchmarks_aer.md (``--out``) and the PNG beside it.

Usage: python -m spikeforge.scripts.bench.aer [--sim verilator] [--build-dir build/bench_aer] [--no-build]
"""

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click
from amaranth.back import verilog
from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib.wiring import In

from spikeforge.boards.build import select_tools
from spikeforge.hdl.aer.params import LATENCY, MeshParams, RouterParams
from spikeforge.hdl.aer.router import Router
from spikeforge.sim.aer.model import Packet
from spikeforge.sim.aer.rtl import run_rtl
from spikeforge.sim.aer.traffic import uniform_random


__all__ = ["main"]


MESH = dict(width=4, height=4, payload_bits=16, fifo_depth=4)
LOADS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
CURVE_PACKETS = 100          # per node and load
SATURATION_PACKETS = 300     # per node
WARMUP = 20                  # cycles left out of the saturation window

# Goals (issue: AER router and mesh network-on-chip).
LATENCY_GOAL = 2             # cycles per hop, at most
THROUGHPUT_GOAL = 0.5        # accepted packets per node per cycle, at least
BISECTION_BOUND = 1.0

ROUTERS = {
    "xy": dict(routing="xy", width=4, height=4, x=1, y=1, payload_bits=16, fifo_depth=4),
    "table16": dict(routing="table", ports=5, key_bits=16, table_size=16, payload_bits=16, fifo_depth=4),
}
DEVICES = {
    # name: (family, nextpnr device options, clock target in MHz)
    "iCE40UP5K": ("ice40", ["--up5k", "--package", "sg48"], 48),
    "ECP5-85F": ("ecp5", ["--85k", "--package", "CABGA381"], 150),
}
SEED = 1


def _log(message):
    click.echo(message, err=True)


# Network measurements.

def _run(params, packets, sim, build_dir, name):
    result = run_rtl(params, packets, sim=sim, build_dir=build_dir, name=name)
    if not result.ok:
        raise click.ClickException(f"{name}: the RTL run failed: {result.message}")
    return result


def measure_zero_load(sim, build_dir):
    """[(hops, latency)] from node (0, 0) on the 4 x 4 mesh, one packet in flight at a time."""
    params = MeshParams.create(**MESH)
    path = [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1), (3, 2), (3, 3)]
    packets = [Packet(t=40 * hops, src=0, dest=dest, payload=hops) for hops, dest in enumerate(path)]
    result = _run(params, packets, sim, build_dir, "zero_load")
    injected = {p.payload: cycle for cycle, p in result.injected}
    delivered = {d.payload: d.t for rows in result.delivered.values() for d in rows}
    return [(hops, delivered[hops] - injected[hops]) for hops in range(len(path))]


def _rates(result, nodes):
    """(accepted, delivered) packets per node per cycle, and the window: from WARMUP to the first cycle in
    which some source has no packet left, so the tail where sources run dry is left out."""
    last = {}
    for cycle, p in result.injected:
        last[p.src] = max(last.get(p.src, 0), cycle)
    end = min(last.values())
    accepted = sum(1 for cycle, _ in result.injected if WARMUP <= cycle < end)
    delivered = sum(1 for rows in result.delivered.values() for d in rows if WARMUP <= d.t < end)
    cycles = end - WARMUP
    return accepted / (nodes * cycles), delivered / (nodes * cycles), (WARMUP, end)


def measure_saturation(sim, build_dir):
    """(accepted packets per node per cycle, delivered per node per cycle, window) under saturating uniform
    random traffic on the 4 x 4 mesh."""
    params = MeshParams.create(**MESH)
    packets = uniform_random(params, count=SATURATION_PACKETS, seed=SEED)
    return _rates(_run(params, packets, sim, build_dir, "saturation"), params.nodes)


def measure_curve(sim, build_dir):
    """[(offered load, accepted load, mean latency, 95th percentile latency)] on the 4 x 4 mesh."""
    params = MeshParams.create(**MESH)
    points = []
    for load in LOADS:
        packets = uniform_random(params, count=CURVE_PACKETS, load=load, seed=SEED)
        result = _run(params, packets, sim, build_dir, f"load_{load:.2f}")
        latencies = sorted(_latencies(result, packets))
        accepted, _, _ = _rates(result, params.nodes)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        points.append((load, accepted, statistics.fmean(latencies), p95))
        _log(f"  load {load:.2f}: accepted {accepted:.3f}, mean latency {points[-1][2]:.1f} cycles")
    return points


def _latencies(result, packets):
    """Delivery cycle minus earliest injection cycle of every delivery. Packets of one source are injected, and
    those of one flow delivered, in order, so identical packets pair up first in, first out."""
    earliest = {}
    for p in sorted(packets, key=lambda p: p.t):
        earliest.setdefault((p.src, p.dest, p.payload, p.tag), []).append(p.t)
    return [d.t - earliest[(d.src, d.dest, d.payload, d.tag)].pop(0)
            for rows in result.delivered.values() for d in sorted(rows, key=lambda d: d.t)]


def plot_curve(points, saturation, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p[0] for p in points], [p[2] for p in points], "o-", label="mean")
    ax.plot([p[0] for p in points], [p[3] for p in points], "s--", label="95th percentile")
    ax.axvline(saturation, color="grey", linestyle=":", label=f"saturation throughput {saturation:.2f}")
    ax.set_xlabel("offered load (packets / node / cycle)")
    ax.set_ylabel("latency (cycles, source queueing included)")
    ax.set_yscale("log")
    ax.set_title("4 x 4 XY mesh, uniform random traffic")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# Resources and fmax.

class _Observed(Elaboratable):
    """``dut`` with every input port driven from a serial scan chain (pin ``si``) and every output port
    registered and folded into pin ``so`` by a pipelined XOR tree, so nothing is optimized away and every path
    of the router starts and ends at a flip-flop."""

    def __init__(self, dut):
        self.dut = dut
        self.si = Signal()
        self.so = Signal()
        self.wrapper_ffs = 0

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        inputs, outputs = [], []
        for _, member, value in dut.signature.flatten(dut):
            (inputs if member.flow == In else outputs).append(Value.cast(value))
        chain = Signal(sum(len(v) for v in inputs))
        m.d.sync += chain.eq(Cat(self.si, chain[:-1]))
        m.d.comb += Cat(*inputs).eq(chain)
        level = Signal(sum(len(v) for v in outputs))
        m.d.sync += level.eq(Cat(*outputs))
        ffs = len(chain) + len(level)
        while len(level) > 1:
            folded = Signal((len(level) + 3) // 4)
            m.d.sync += folded.eq(Cat(level[i:i + 4].xor() for i in range(0, len(level), 4)))
            level = folded
            ffs += len(level)
        m.d.comb += self.so.eq(level)
        self.wrapper_ffs = ffs
        return m


class _DoesNotFit(Exception):
    """nextpnr ran out of a kind of cell; ``used`` is {bel: cells the design needs}."""

    def __init__(self, used):
        super().__init__(used)
        self.used = used


def _tool(tools, name, args, cwd, log):
    with open(cwd / log, "w") as file:
        result = subprocess.run(tools[name]["command"] + args, cwd=cwd, stdout=file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    if result.returncode:
        text = (cwd / log).read_text(errors="replace")
        if "no BELs remaining" in text:
            # "Info:          ICESTORM_LC:  7138/ 5280   135%"
            raise _DoesNotFit({m[0]: int(m[1]) for m in re.findall(r"^Info:\s+(\w+):\s+(\d+)/", text, re.M)})
        raise click.ClickException(f"{name} failed; see {cwd / log}")


def build_router(name, device, out_dir):
    """Synthesize, place and route router ``name`` on ``device``; returns a report dict."""
    family, device_opts, target = DEVICES[device]
    tools = select_tools(family)
    out_dir.mkdir(parents=True, exist_ok=True)
    router = Router(RouterParams.create(**ROUTERS[name]))
    wrapper_ffs = wrapper_luts = 0
    if family == "ecp5":
        text = verilog.convert(router, name="top")
        synth = "synth_ecp5"
        pnr = ["--out-of-context"]
    else:
        wrapped = _Observed(router)
        text = verilog.convert(wrapped, name="top", ports=[wrapped.si, wrapped.so])
        wrapper_ffs = wrapped.wrapper_ffs
        synth = "synth_ice40"
        pnr = ["--pcf-allow-unconstrained"]
    (out_dir / "top.v").write_text(text)
    start = time.monotonic()
    _tool(tools, "yosys", ["-q", "-l", "yosys.log", "-p",
                           f"read_verilog top.v; {synth} -top top -json top.json; "
                           f"tee -q -o stat.json stat -json"], out_dir, "yosys.out")
    fits = True
    try:
        _tool(tools, f"nextpnr-{family}", device_opts + pnr + [
            "--json", "top.json", "--report", "report.json", "--freq", str(target), "--seed", str(SEED),
            "--timing-allow-fail"], out_dir, "nextpnr.log")
        report = json.loads((out_dir / "report.json").read_text())
        used = {bel: v["used"] for bel, v in report["utilization"].items()}
        clocks = report.get("fmax", {})
        fmax = round(next(iter(clocks.values()))["achieved"], 1) if clocks else None
    except _DoesNotFit as error:
        fits, used, fmax = False, error.used, None
    if family == "ice40":
        # The fold's LUTs: one LUT4 per four bits at every level of the tree.
        widths, total = [], sum(len(Value.cast(v)) for _, m, v in router.signature.flatten(router)
                                if m.flow != In)
        while total > 1:
            total = (total + 3) // 4
            widths.append(total)
        wrapper_luts = sum(widths)
        row = {"logic_cells": used.get("ICESTORM_LC", 0), "ffs": _ice40_ffs(out_dir),
               "ram": used.get("ICESTORM_RAM", 0), "lutram": 0}
    else:
        row = {"logic_cells": used.get("TRELLIS_COMB", 0), "ffs": used.get("TRELLIS_FF", 0),
               "ram": used.get("DP16KD", 0), "lutram": used.get("TRELLIS_RAMW", 0)}
    return {"router": name, "device": device, "fits": fits, **row, "wrapper_ffs": wrapper_ffs,
            "wrapper_luts": wrapper_luts,
            "fmax_mhz": fmax, "target_mhz": target, "seconds": round(time.monotonic() - start),
            "tools": {tool: info["version"] for tool, info in tools.items() if tool != "icepack"}}


def _ice40_ffs(out_dir):
    cells = json.loads((out_dir / "stat.json").read_text()).get("design", {}).get("num_cells_by_type", {})
    return sum(count for cell, count in cells.items() if cell.startswith("SB_DFF"))


# Report.

def render(zero_load, saturation, curve, builds, sim, png_name):
    per_hop = (zero_load[-1][1] - zero_load[0][1]) / (zero_load[-1][0] - zero_load[0][0])
    accepted, delivered, window = saturation
    lines = [
        "## AER router and mesh",
        "",
        "Written by `python -m spikeforge.scripts.bench.aer`. Traffic runs on the generated Verilog in "
        f"{sim} through the cocotb bench, which also checks each run against the golden model. Mesh: 4 x 4, XY "
        "routing, 16-bit payload, FIFO depth 4, sinks always ready.",
        "",
        "### Latency and throughput",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        f"| zero-load latency per hop | {per_hop:g} cycles | at most {LATENCY_GOAL} "
        f"({'met' if per_hop <= LATENCY_GOAL else 'missed'}) |",
        f"| zero-load latency, 0 to 6 hops | {', '.join(str(lat) for _, lat in zero_load)} cycles "
        f"(= {LATENCY} x routers traversed) | |",
        f"| saturation throughput, uniform random | {accepted:.3f} accepted packets / node / cycle "
        f"({delivered:.3f} delivered) | at least {THROUGHPUT_GOAL} "
        f"({'met' if accepted >= THROUGHPUT_GOAL else 'missed'}); bisection bound {BISECTION_BOUND} |",
        "",
        f"Saturation: {SATURATION_PACKETS} packets per node, all ready at cycle 0, measured over cycles "
        f"{window[0]}..{window[1]} (after a {WARMUP}-cycle warm-up, while every source still had packets).",
        "",
        f"![latency against offered load]({png_name})",
        "",
        "| offered load | accepted load | mean latency | 95th percentile |",
        "|---|---|---|---|",
    ]
    lines += [f"| {load:.2f} | {acc:.3f} | {mean:.1f} | {p95} |" for load, acc, mean, p95 in curve]
    lines += ["", f"Bernoulli sources, {CURVE_PACKETS} packets per node per load; latency from the packet's "
              "earliest injection cycle to its delivery cycle (source queueing included, so it grows without "
              "bound past saturation); accepted load over the same window as the saturation throughput.", ""]
    if builds:
        lines += [
            "### One router: resources and fmax",
            "",
            "5 ports, 16-bit payload, FIFO depth 4, 16-bit saturating counters; `xy` is a 4 x 4 mesh router "
            "(24-bit packets), `table16` a 16-entry key/mask table with 16-bit keys (36-bit packets). ECP5: the "
            "router alone, out of context. iCE40: the router inside the scan/XOR wrapper; its flip-flops and "
            "LUTs are included in the logic cells and listed apart.",
            "",
            "| router | device | logic cells | FFs | RAM blocks | LUT RAM | wrapper FFs / LUTs | fmax MHz "
            "(target) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for b in builds:
            wrapper = f"{b['wrapper_ffs']} / {b['wrapper_luts']}" if b["wrapper_ffs"] else "-"
            if b["fits"]:
                lines.append(f"| {b['router']} | {b['device']} | {b['logic_cells']} | {b['ffs']} | {b['ram']} | "
                             f"{b['lutram']} | {wrapper} | {b['fmax_mhz']} ({b['target_mhz']}) |")
            else:
                lines.append(f"| {b['router']} | {b['device']} | needs {b['logic_cells']}, does not fit | | | | "
                             f"{wrapper} | - |")
        tools = {}
        for b in builds:
            for tool, version in b["tools"].items():
                tools.setdefault(tool, set()).add(version or "(no version)")
        lines += ["", "Logic cells: iCE40 LCs (a LUT4 and a flip-flop); ECP5 TRELLIS_COMB (one LUT4). Tools: "
                  + "; ".join(f"{tool} {', '.join(sorted(v))}" for tool, v in tools.items())
                  + f"; nextpnr seed {SEED}.", ""]
    return "\n".join(lines)


@click.command()
@click.option("--sim", type=click.Choice(("verilator", "icarus")), default="verilator", show_default=True)
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_aer"),
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks_aer.md"),
              show_default=True, help="The markdown section; the PNG goes beside it.")
@click.option("--no-build", is_flag=True, help="Skip the resource and fmax builds.")
def main(sim, build_dir, out, no_build):
    """Measure the router and the mesh and write the benchmark section and the latency curve."""
    mesh_dir = build_dir / f"mesh_4x4_{sim}"
    _log("zero-load latency")
    zero_load = measure_zero_load(sim, mesh_dir)
    _log(f"  {zero_load}")
    _log("saturation throughput")
    saturation = measure_saturation(sim, mesh_dir)
    _log(f"  accepted {saturation[0]:.3f}, delivered {saturation[1]:.3f} packets / node / cycle")
    _log("latency against offered load")
    curve = measure_curve(sim, mesh_dir)
    png = out.with_name("aer_latency.png")
    plot_curve(curve, saturation[0], png)
    builds = []
    if not no_build:
        for name in ROUTERS:
            for device in DEVICES:
                _log(f"building router {name} for {device}")
                builds.append(build_router(name, device, build_dir / f"{name}_{device}"))
                _log(f"  {builds[-1]}")
    out.write_text(render(zero_load, saturation, curve, builds, sim, png.name) + "\n")
    click.echo(f"wrote {out} and {png}")


if __name__ == "__main__":
    sys.exit(main())
