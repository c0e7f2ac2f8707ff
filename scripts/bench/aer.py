"""Benchmark the AER router and the mesh: latency, throughput, latency against offered load, resources and fmax.

Measured on the generated Verilog through the cocotb bench (:func:`spikeforge.sim.aer.rtl.run_rtl`, which also
checks every run against the golden model):

- zero-load latency: single packets on a 4 x 4 mesh from node (0, 0) to destinations 0..6 hops away; the
  latency is the delivery cycle minus the injection cycle, the per-hop figure the slope;
- saturation throughput: every node of the 4 x 4 mesh offers packets to uniformly random other nodes every
  cycle; accepted packets per node per cycle over the window where every source still has packets waiting; the
  same on a 4 x 4 mesh of table routers whose tables route key d to node d along the XY path (16 entries each);
- latency against offered load: Bernoulli sources at each load, mean latency from the packet's earliest
  injection cycle (source queueing included) to its delivery; plotted to a PNG.

Resources and fmax of one router (5 ports, XY, 16-bit payload, FIFO depth 4, in a 4 x 4 mesh; and the same with
a 16-entry table) on the iCE40UP5K (iCEBreaker) and the ECP5-85F (ULX3S): the router's board top-level
(:class:`spikeforge.boards.aer_top.NetworkTop`, the router behind the UART host link, every port reachable from
the host) built by the one build flow (:func:`spikeforge.scripts.blocks.build_block`) at the highest PLL clock of
the board's list that meets timing, so the figures are the whole board design's, link included. And the router
alone (:func:`synth_alone`: the component synthesized by the flow's Yosys with its ports as the top level and
packed by the flow's nextpnr, with Yosys' census per module), for the cells the router itself takes and where they
go.

Writes docs/benchmarks_aer.md (``--out``) and the PNG beside it.

Usage: python -m spikeforge.scripts.bench.aer [--sim verilator] [--build-dir build/bench_aer] [--no-build]
       [--only PART ...] [--earlier results.json ...] [--report-only]
"""

import json
import statistics
import subprocess
import sys
from pathlib import Path

import click

from spikeforge.boards.clocking import FASTEST
from spikeforge.hdl.aer.params import (EAST, LATENCY, LOCAL, MESH_PORTS, MESH_TURNS, NORTH, SOUTH, TABLE_LATENCY,
                                       WEST, MeshParams, RouterParams)
from spikeforge.hdl.aer.router import Router, lane_groups
from spikeforge.hdl.aer.routes import multicast_tree_routes
from spikeforge.scripts.bench.report import build_point
from spikeforge.sim.aer.measure import WARMUP, rates
from spikeforge.sim.aer.model import Packet
from spikeforge.sim.aer.rtl import run_rtl
from spikeforge.sim.aer.traffic import uniform_random


__all__ = ["main"]


MESH = dict(width=4, height=4, payload_bits=16, fifo_depth=4)
#: The table mesh: its routers without counters (``counter_bits = 0``), as a chip's routers are (the chip sums their
#: ``dropping`` flags and reads no counter), so the router measured alone is a chip tile's.
TABLE_MESH = dict(MESH, routing="table", key_bits=4, table_size=16, counter_bits=0)
LOADS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
CURVE_PACKETS = 100          # per node and load
SATURATION_PACKETS = 300     # per node

# Goals (issue: AER router and mesh network-on-chip).
LATENCY_GOAL = 2             # cycles per hop, at most
THROUGHPUT_GOAL = 0.5        # accepted packets per node per cycle, at least
BISECTION_BOUND = 1.0

ROUTERS = {
    "xy": dict(routing="xy", width=4, height=4, x=1, y=1, payload_bits=16, fifo_depth=4),
    "table16": dict(routing="table", ports=5, key_bits=16, table_size=16, payload_bits=16, fifo_depth=4),
}
#: The lookups per table router of the table-mesh saturation rows (1: the smallest router; 5, one per port,
#: for a mesh that needs the throughput).
TABLE_LOOKUPS = (1, 3, 4, 5)
#: The node of the 4 x 4 table mesh whose router is synthesized alone: a central one (all 5 ports linked), among
#: the routers the saturation rows load most.
MESH_NODE = 5
#: The routers synthesized alone: name -> (RouterParams keywords, links mask or None for all ports, turns or None
#: for all); those of :data:`ROUTERS`, and the router of :data:`MESH_NODE` of the table mesh of the saturation rows
#: with each of :data:`TABLE_LOOKUPS` (links and turns as the mesh gives them), so each goal row's area and
#: throughput are one configuration's.
ALONE = {"xy": (ROUTERS["xy"], None, None), "table16": (ROUTERS["table16"], None, None),
         **{f"table mesh, lookups = {n}": (MeshParams.create(**TABLE_MESH, lookups=n).router(MESH_NODE).to_dict(),
                                           MeshParams.create(**TABLE_MESH).links(MESH_NODE), MESH_TURNS)
            for n in TABLE_LOOKUPS}}
# Goals (issue 11: routers lean enough for a small FPGA): a 16-entry table router alone, in a configuration whose
# 4 x 4 mesh saturates at THROUGHPUT_GOAL or more.
ALONE_GOALS = {"icebreaker": 900, "ulx3s-85f": 600}
#: A router of :data:`ALONE` synthesized once more with LUT4s only (the flow's own synthesis uses wide LUTs, which
#: its LIF cores build faster with; docs/aer.md): (router, board, synthesis options).
LUT4_ONLY = ("table mesh, lookups = 4", "ulx3s-85f", "-nowidelut")
#: The parts of a run, each measured by :func:`main` or, when left out of ``--only``, taken from the results of
#: an earlier run (``results.json`` in the build directory).
PARTS_OF_RUN = ("table-saturation", "alone", "zero-load", "saturation", "curve", "builds")
BOARDS = ("icebreaker", "ulx3s-85f")
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


def measure_saturation(sim, build_dir):
    """(accepted packets per node per cycle, delivered per node per cycle, window) under saturating uniform
    random traffic on the 4 x 4 mesh."""
    params = MeshParams.create(**MESH)
    packets = uniform_random(params, count=SATURATION_PACKETS, seed=SEED)
    return rates(_run(params, packets, sim, build_dir, "saturation"), params.nodes)


def xy_unicast_tables(params):
    """A table mesh's routes that send key d to node d along the XY path from every node (the union of the XY
    trees of key d from every origin, so 16 entries per node on a 4 x 4 mesh)."""
    rows = {}
    for dest in range(params.nodes):
        for origin in range(params.nodes):
            for row in multicast_tree_routes(params, {dest: [dest]}, origins={dest: origin}):
                rows[row["node"], row["key"]] = row
    return [rows[k] for k in sorted(rows)]


def xy_arrivals(params):
    """{(node, input port): packets} arriving at each router input when every node sends one packet to every node
    (itself included) along the XY path, as :func:`xy_unicast_tables` routes them: the load of each input under
    uniform random traffic, in units of the injection rate / nodes."""
    arrivals = {}
    for src in range(params.nodes):
        for dest in range(params.nodes):
            node, port = src, LOCAL
            while True:
                arrivals[node, port] = arrivals.get((node, port), 0) + 1
                (x, y), (dx, dy) = params.position(node), params.position(dest)
                step = EAST if dx > x else WEST if dx < x else SOUTH if dy > y else NORTH if dy < y else None
                if step is None:
                    break
                after = params.neighbour(node, step)
                node, port = after, next(p for p in range(LOCAL) if params.neighbour(after, p) == node)
    return arrivals


def lane_bound(params):
    """The injection rate (packets per node per cycle) at which the busiest lane of a table mesh would take in one
    packet per cycle if every node injected at that rate under uniform random traffic (a lane serves its inputs,
    :func:`lane_groups`, one packet a cycle). At saturation the nodes behind the busiest lanes inject less than the
    others, so the accepted average can exceed it."""
    arrivals = xy_arrivals(params)
    busiest = max(sum(arrivals.get((node, port), 0) for port in group)
                  for node in range(params.nodes)
                  for group in lane_groups([p for p in range(MESH_PORTS) if params.links(node) >> p & 1],
                                           params.lookups))
    return params.nodes / busiest


def measure_table_saturation(sim, build_dir, lookups):
    """:func:`measure_saturation` on the 4 x 4 mesh of table routers with ``lookups`` each and
    :func:`xy_unicast_tables` (keys, so destinations, uniformly random over all 16 nodes)."""
    params = MeshParams.create(**TABLE_MESH, lookups=lookups)
    params = MeshParams.create(**{**params.to_dict(), "routes": xy_unicast_tables(params)})
    packets = uniform_random(params, count=SATURATION_PACKETS, seed=SEED)
    return rates(_run(params, packets, sim, build_dir, "saturation"), params.nodes)


def measure_curve(sim, build_dir):
    """[(offered load, accepted load, mean latency, 95th percentile latency)] on the 4 x 4 mesh."""
    params = MeshParams.create(**MESH)
    points = []
    for load in LOADS:
        packets = uniform_random(params, count=CURVE_PACKETS, load=load, seed=SEED)
        result = _run(params, packets, sim, build_dir, f"load_{load:.2f}")
        latencies = sorted(_latencies(result, packets))
        accepted, _, _ = rates(result, params.nodes)
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

def build_router(name, board, out_dir):
    """Build router ``name`` of :data:`ROUTERS` on its board top-level for ``board``, at the highest clock of the
    board's list that meets timing (``spikeforge build``'s default); returns
    :func:`spikeforge.scripts.bench.report.build_point`'s result with the router's name and the board."""
    params = RouterParams.create(**ROUTERS[name])
    return {"router": name, "board": board,
            **build_point({"router": params}, board, out_dir, seed=SEED, clock_mhz=FASTEST, echo=_log)}


# The router alone.

#: nextpnr's options that pack a design for each board's FPGA without placing it: its ports are not pins (the
#: 5 x 2 streams of a router are more than either package has), so nextpnr-ice40 leaves them unconstrained and
#: nextpnr-ecp5 inserts no IO buffers (``--out-of-context``).
PACK_OPTIONS = {
    "icebreaker": ["--up5k", "--package", "sg48", "--pcf-allow-unconstrained"],
    "ulx3s-85f": ["--85k", "--package", "CABGA381", "--out-of-context"],
}
_SYNTH = {"ice40": "synth_ice40", "ecp5": "synth_ecp5"}
#: Cell types of the per-module census, by what they are: (label, cell name prefixes).
CELL_KINDS = (
    ("LUT4", ("SB_LUT4", "LUT4")),
    ("carry", ("SB_CARRY", "CCU2C")),
    ("FF", ("SB_DFF", "TRELLIS_FF")),
    ("LUT RAM", ("TRELLIS_DPR16X4",)),
    ("RAM blocks", ("SB_RAM40_4K", "DP16KD")),
)


def _tool(tools, tool, argv, cwd, log):
    with open(cwd / log, "w") as out:
        result = subprocess.run(tools[tool]["command"] + argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    if result.returncode:
        raise click.ClickException(f"{tool} failed on the router alone; see {cwd / log}")


def synth_alone(component, board, out_dir, *, name="router", synth_options=""):
    """Synthesize ``component`` alone, its ports as the top level, with the Yosys the build flow uses for
    ``board`` (:func:`spikeforge.boards.build.select_tools`; ``synth_options`` added to its synthesis command),
    and pack it with that flow's nextpnr (``--pack-only``, :data:`PACK_OPTIONS`).

    Returns ``{"resources": {logic_cells, ffs, bram, ...} as nextpnr packs them (counted as the build flow counts
    them), "modules": {module: {kind: cells}} (Yosys' census per module of the design synthesized without
    flattening, :data:`CELL_KINDS`), "tools": {tool: version}}``.
    """
    from amaranth.back import rtlil

    from spikeforge.boards.build import _resources, select_tools
    from spikeforge.boards.platforms import board_family

    family = board_family(board)
    tools = select_tools(family)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.il").write_text(rtlil.convert(component, name=name))
    synth = f"read_rtlil {name}.il; {_SYNTH[family]} {synth_options} -top {name}"
    _tool(tools, "yosys", ["-p", f"{synth}; tee -q -o stat.json stat -json; write_json {name}.json"], out_dir,
          "yosys.log")
    _tool(tools, "yosys", ["-p", f"{synth} -noflatten; tee -q -o modules.json stat -json"], out_dir,
          "yosys.modules.log")
    _tool(tools, f"nextpnr-{family}", PACK_OPTIONS[board] + ["--pack-only", "--json", f"{name}.json", "--report",
                                                            "pack.json"], out_dir, "nextpnr.log")
    resources, _ = _resources(family, json.loads((out_dir / "pack.json").read_text()),
                              json.loads((out_dir / "stat.json").read_text()))
    modules = {}
    for module, stat in json.loads((out_dir / "modules.json").read_text())["modules"].items():
        cells = stat.get("num_cells_by_type", {})
        modules[module.removeprefix("\\")] = {kind: sum(n for cell, n in cells.items() if cell.startswith(prefixes))
                                              for kind, prefixes in CELL_KINDS}
    tools = {tool: tools[tool]["version"] for tool in ("yosys", f"nextpnr-{family}")}
    return {"resources": resources, "modules": modules, "tools": tools}


def router_alone(name, board, out_dir, synth_options=""):
    """:func:`synth_alone` of router ``name`` of :data:`ALONE`."""
    params, links, turns = ALONE[name]
    router = Router(RouterParams.create(**params), links=links, turns=turns)
    return {"router": name, "board": board, "synth_options": synth_options,
            **synth_alone(router, board, out_dir, synth_options=synth_options)}


#: The parts of the per-module census: (label, whether a module of the router is one).
PARTS = (
    ("input buffers", lambda module: ".buffer" in module),
    ("counters", lambda module: module.endswith("_counter")),
    ("the rest", lambda module: "." not in module),
)


def _goal(logic_cells, board, saturation):
    """The goal column of a row of the router alone: the area goal on ``board`` and the 4 x 4 saturation
    throughput goal, met by one configuration or not (empty for a router without a saturation row)."""
    if saturation is None:
        return ""
    area, throughput = logic_cells <= ALONE_GOALS[board], saturation >= THROUGHPUT_GOAL
    return (f"{'met' if area and throughput else 'missed'}: at most {ALONE_GOALS[board]} cells "
            f"({'met' if area else 'missed'}), saturation {saturation:.3f} at least {THROUGHPUT_GOAL} "
            f"({'met' if throughput else 'missed'})")


def _render_alone(alone, table_saturation):
    lines = [
        "### One router alone: where the cells go",
        "",
        "The router component by itself, its ports the top level (so without the board's host link), synthesized "
        "by the Yosys the build flow uses for each board (`synth_ice40` / `synth_ecp5`) and packed by its nextpnr "
        "(`--pack-only`: the ports are not pins, so nothing is placed or timed); `scripts/bench/aer.py` "
        "`synth_alone`. `xy` and `table16` are the routers of the next section, all ports linked. `table mesh, "
        f"lookups = n` is the router of node {MESH_NODE} (a central one: all 5 ports linked) of the 4 x 4 table "
        "mesh of the saturation rows above (4-bit keys, 16 entries, 16-bit payload, 4-bit `src`: 24-bit packets, "
        "FIFO depth 4, no counters: `counter_bits = 0`, as a chip's routers), so its goal column joins the area "
        "goal (issue 11: at most 900 logic cells on the UP5K, 600 LUT4 on the ECP5) and the saturation goal of "
        "one configuration. Logic cells as nextpnr packs them: iCE40 LCs (a LUT4 with its flip-flop and carry), "
        "ECP5 TRELLIS_COMB (one LUT4, two per carry cell or LUT RAM cell). The parts: Yosys' census of the same "
        "design synthesized without flattening (so no optimization across the parts, and a LUT4 and a carry cell "
        "that nextpnr packs into one iCE40 LC count twice), LUT4 + carry cells / flip-flops of the 5 input "
        "buffers, of the 11 saturating counters (`forwarded` and `dropped` per port, `bad_config`; none in the "
        "table mesh's routers) and of the rest (the lookups, the buses and output registers, the table and its "
        "configuration). A router marked with synthesis options was synthesized with them added to the flow's "
        "synthesis command (`-nowidelut`: LUT4s only, no wide LUTs built of two or four LUT4s and a PFUMX).",
        "",
        "| router | device | logic cells | goal (cells; 4 x 4 saturation) | FFs | RAM blocks | "
        + " | ".join(label for label, _ in PARTS) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(PARTS),
    ]
    for a in alone:
        res = a["resources"]
        lookups = ALONE[a["router"]][0].get("lookups") if a["router"].startswith("table mesh") else None
        verdict = _goal(res["logic_cells"], a["board"], table_saturation[lookups][0] if lookups else None)
        parts = []
        for _, belongs in PARTS:
            cells = [c for module, c in a["modules"].items() if belongs(module)]
            parts.append(f"{sum(c['LUT4'] + c['carry'] for c in cells)} / {sum(c['FF'] for c in cells)}")
        router = f"{a['router']}, `{a['synth_options']}`" if a.get("synth_options") else a["router"]
        lines.append(f"| {router} | {a['board']} | {res['logic_cells']} | {verdict} | {res['ffs']} | "
                     f"{res['bram']} | " + " | ".join(parts) + " |")
    tools = sorted({f"{tool} {version}" for a in alone for tool, version in a["tools"].items()})
    lines += ["", f"Tools: {'; '.join(tools)}.", ""]
    return lines


# Report.

def _render_builds(builds):
    lines = [
        "### One router: resources and fmax",
        "",
        "5 ports, 16-bit payload, FIFO depth 4, 16-bit saturating counters; `xy` is a 4 x 4 mesh router "
        "(24-bit packets), `table16` a 16-entry key/mask table with 16-bit keys (35-bit packets). Each is built "
        "on its board top-level (`NetworkTop`, boards/aer_top.py) by the one build flow "
        "(`spikeforge.scripts.blocks.build_block`), so the figures are the whole board design's: the router and "
        "its UART host link, that is the UART receiver and transmitter, the host bridge's framing and its "
        "receive FIFO (the RAM block), the INJECT demultiplexer to the 5 inputs, the round-robin DELIVER "
        "arbiter over the 5 outputs, the COUNTERS multiplexer over the 10 counters and, for `table16`, the "
        "routing-table commands. The link is not measured apart (the flow builds whole board designs). Each "
        "input is fed from a holding register of its own, so every input keeps its own route decision, as in "
        "a mesh (fed one shared packet, synthesis would merge the 5 decisions into one and undercount the "
        "router; `table16` has one lookup shared by its ports, `lookups = 1`, in any case).",
        "",
        "| router | board (device) | logic cells | FFs | RAM blocks | fmax MHz | clock MHz |",
        "|---|---|---|---|---|---|---|",
    ]
    tools = {}
    for b in builds:
        if b["status"] != "ok":
            reason = b["error"].split(" (log:")[0]
            lines.append(f"| {b['router']} | {b['board']} | {b['status']}: {reason} | | | | |")
            continue
        r = b["report"]
        res, avail = r["resources"], r["available"]
        lines.append(f"| {b['router']} | {r['board']} ({r['device']}) | {res['logic_cells']} / "
                     f"{avail['logic_cells']} | {res['ffs']} | {res['bram']} / {avail['bram']} | "
                     f"{r['fmax_mhz']} | {r['clock_mhz']:g} |")
        for tool, version in r["tools"].items():
            tools.setdefault(tool, set()).add(version or "(no version)")
    lines += ["", "Logic cells: iCE40 LCs (a LUT4 and a flip-flop); ECP5 TRELLIS_COMB (one LUT4). fmax: nextpnr's "
              "estimate after routing, with the clock as the constraint; clock: the clock the bitstream runs at, the "
              "highest of the board's list that met timing (boards/clocking.py). Tools: "
              + "; ".join(f"{tool} {', '.join(sorted(v))}" for tool, v in tools.items())
              + f"; nextpnr seed {SEED}.", ""]
    return lines


def render(zero_load, saturation, table_saturation, curve, builds, alone, sim, png_name):
    per_hop = (zero_load[-1][1] - zero_load[0][1]) / (zero_load[-1][0] - zero_load[0][0])
    accepted, delivered, window = saturation
    table_rows = [
        f"| saturation throughput, uniform random, table routers, lookups = {n} | {acc:.3f} accepted packets / "
        f"node / cycle ({dlv:.3f} delivered) | at least {THROUGHPUT_GOAL} "
        f"({'met' if acc >= THROUGHPUT_GOAL else 'missed'}); lane bound "
        f"{lane_bound(MeshParams.create(**TABLE_MESH, lookups=n)):.2f} |"
        for n, (acc, dlv, _) in table_saturation.items()]
    table_windows = ", ".join(f"{w[0]}..{w[1]} (lookups = {n})" for n, (_, _, w) in table_saturation.items())
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
        *table_rows,
        "",
        f"Saturation: {SATURATION_PACKETS} packets per node, all ready at cycle 0, measured over cycles "
        f"{window[0]}..{window[1]} (after a {WARMUP}-cycle warm-up, while every source still had packets). Table "
        f"routers: the same 4 x 4 mesh with `routing = \"table\"`, 4-bit keys and 16-entry tables that send key d "
        f"to node d along the XY path, keys uniformly random over the 16 nodes (the source's own included), "
        f"measured over cycles {table_windows}. A table router takes in and looks up one packet per cycle in each "
        f"of its `lookups` lanes (zero-load latency {TABLE_LATENCY} cycles per router) and moves as many to its "
        f"outputs. The lane bound (`lane_bound`) is the injection rate at which the busiest lane of the mesh would "
        f"take in a packet every cycle if every node injected at that rate (at saturation the nodes behind the "
        f"busiest lanes inject less, so the accepted average can exceed it), from the XY paths of uniform traffic "
        f"and the inputs each lane serves "
        f"(`lane_groups`: dealt in turn): a central router receives 0.75 or 1.0 times the injection rate on a "
        f"link, depending on its side, and 1.0 at its local port, 4.5 in all, so one lane bounds the mesh at "
        f"1 / 4.5 = 0.22 and three or four, whose busiest lane serves the local port and a link, at 0.50; the "
        f"links bound it at the XY mesh's figure.",
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
    if alone:
        lines += _render_alone(alone, table_saturation)
    lines += _render_builds(builds) if builds else [
        "### One router: resources and fmax", "", "Not measured in this run (`--no-build`).", ""]
    return "\n".join(lines)


@click.command()
@click.option("--sim", type=click.Choice(("verilator", "icarus")), default="verilator", show_default=True)
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_aer"),
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks_aer.md"),
              show_default=True, help="The markdown section; the PNG goes beside it.")
@click.option("--no-build", is_flag=True, help="Skip the builds on the boards (resources and fmax).")
@click.option("--only", "only", type=click.Choice(PARTS_OF_RUN), multiple=True,
              help="Measure only these parts (repeatable); take the others from the results of earlier runs.")
@click.option("--earlier", type=click.Path(dir_okay=False, exists=True, path_type=Path), multiple=True,
              help="Results of an earlier run (its build directory's results.json) to take parts from, after this "
                   "build directory's own (repeatable).")
@click.option("--report-only", is_flag=True, help="Measure nothing; write the report from earlier results.")
def main(sim, build_dir, out, no_build, only, earlier, report_only):
    """Measure the router and the mesh and write the benchmark section and the latency curve. Each part's result
    is saved in the build directory's results.json as it is measured, so that a run cut short, or several runs of
    different parts, can be completed with ``--only``."""
    results_file = build_dir / "results.json"
    parts = [p for p in PARTS_OF_RUN if not (no_build and p == "builds")]
    build_dir.mkdir(parents=True, exist_ok=True)
    for part in parts:
        if not report_only and (not only or part in only):
            _log(part)
            result = _MEASURE[part](sim, build_dir)
            saved = json.loads(results_file.read_text()) if results_file.exists() else {}
            results_file.write_text(json.dumps({**saved, part: result}, indent=1))
    results = {}
    for source in [results_file, *earlier] if results_file.exists() else earlier:
        results = {**json.loads(source.read_text()), **results}
    missing = [p for p in parts if p not in results]
    if missing:
        raise click.ClickException(f"{out} not written: no result of {', '.join(missing)} here or in --earlier; "
                                   f"what was measured is in {results_file}")
    png = out.with_name("aer_latency.png")
    plot_curve(results["curve"], results["saturation"][0], png)
    table_saturation = {int(n): rows for n, rows in results["table-saturation"].items()}
    out.write_text(render(results["zero-load"], results["saturation"], table_saturation, results["curve"],
                          results.get("builds", []), results.get("alone", []), sim, png.name) + "\n")
    click.echo(f"wrote {out} and {png}")


def _measure_table_saturation(sim, build_dir):
    table_saturation = {}
    for lookups in TABLE_LOOKUPS:
        _log(f"  lookups = {lookups}")
        table_saturation[lookups] = measure_table_saturation(sim, build_dir / f"mesh_4x4_table{lookups}_{sim}",
                                                             lookups)
        _log(f"  accepted {table_saturation[lookups][0]:.3f}, delivered {table_saturation[lookups][1]:.3f} packets "
             "/ node / cycle")
    return table_saturation


def _measure_alone(sim, build_dir):
    alone = []
    for name in ALONE:
        for board in BOARDS:
            _log(f"  router {name} alone for {board}")
            slug = name.replace(", ", "_").replace(" = ", "").replace(" ", "_")
            alone.append(router_alone(name, board, build_dir / f"alone_{slug}_{board}"))
            _log(f"  {alone[-1]['resources']}")
    name, board, options = LUT4_ONLY
    _log(f"  router {name} alone for {board}, {options}")
    alone.append(router_alone(name, board, build_dir / "alone_lut4_only", synth_options=options))
    _log(f"  {alone[-1]['resources']}")
    return alone


def _measure_builds(sim, build_dir):
    builds = []
    for name in ROUTERS:
        for board in BOARDS:
            _log(f"  router {name} for {board}")
            builds.append(build_router(name, board, build_dir / f"{name}_{board}"))
            result = builds[-1]
            _log(f"  {result['status']}: " + (f"{result['report']['resources']}, {result['report']['fmax_mhz']} "
                                              "MHz" if result["status"] == "ok" else result["error"]))
    return builds


#: How :func:`main` measures each of :data:`PARTS_OF_RUN`, from (simulator, build directory).
_MEASURE = {
    "zero-load": lambda sim, build_dir: measure_zero_load(sim, build_dir / f"mesh_4x4_{sim}"),
    "saturation": lambda sim, build_dir: measure_saturation(sim, build_dir / f"mesh_4x4_{sim}"),
    "table-saturation": _measure_table_saturation,
    "curve": lambda sim, build_dir: measure_curve(sim, build_dir / f"mesh_4x4_{sim}"),
    "alone": _measure_alone,
    "builds": _measure_builds,
}


if __name__ == "__main__":
    sys.exit(main())
