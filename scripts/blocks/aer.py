"""The AER router (``[router]``) and mesh (``[mesh]``).

Generators :mod:`spikeforge.hdl.aer.router` and :mod:`spikeforge.hdl.aer.mesh`, golden model
:mod:`spikeforge.sim.aer.model`, bench :mod:`spikeforge.sim.aer.bench`, board top-level
:class:`spikeforge.boards.aer_top.NetworkTop`; docs/aer.md.
"""

from __future__ import annotations

import click

from spikeforge.hdl.aer.params import MeshParams, RouterParams

from ..data_files import write_cycles
from ..errors import InputError, ToolError
from .description import (BACKEND_NAMES, Block, Simulation, SweepWorkload, Verdict, check_workload, counted,
                          fmax_hz, lazy)


__all__ = ["ROUTER", "MESH"]


RTL_BACKENDS = ("none", "icarus", "verilator")


def _params(config):
    return config.blocks["mesh"] if "mesh" in config.blocks else config.blocks["router"]


def _toplevel(config):
    from spikeforge.sim.aer.rtl import top_name

    return top_name(_params(config))


def _component(config):
    from spikeforge.hdl.aer.mesh import Mesh
    from spikeforge.hdl.aer.router import Router

    params = _params(config)
    return Mesh(params) if isinstance(params, MeshParams) else Router(params)


def _design(config):
    p = _params(config)
    if isinstance(p, MeshParams):
        return f"mesh {p.width}x{p.height} {p.routing}"
    return f"router {p.ports} ports {p.routing}"


def _board_top(config, *, baud, clock_mhz=None):
    from spikeforge.boards.aer_top import NetworkTop

    return NetworkTop(_params(config), baud=baud, clock_mhz=clock_mhz)


def _loop_error(config, loop):
    """The one-line error of a :class:`~spikeforge.sim.aer.model.RoutingLoopError`, naming the file and the
    line of the entry (or of ``default_route``) that closes the loop."""
    from spikeforge.sim.aer.model import describe_packet

    table = "mesh" if "mesh" in config.blocks else "router"
    if loop.entry is None:
        where = config.where(table, "default_route")
        what = f"default_route, taken by a missed key at node {loop.node},"
    else:
        where = config.where(table, "routes", loop.entry.row)
        what = f"routes entry {loop.entry.row} at node {loop.node}"
    return InputError(f"{where}: [{table}] {what} sends {describe_packet(loop.packet.content)} back to node "
                      f"{loop.back}, around a loop")


def _simulate(config, request, stage, build_dir):
    from spikeforge.sim.aer.model import AerModel, RoutingLoopError
    from spikeforge.sim.aer.simulate import PacketFileError, read_packets, run_network, write_delivered

    params = _params(config)
    try:
        packets = read_packets(request.input, params)
        AerModel(params).check_loops(packets)
    except PacketFileError as exc:
        raise InputError(str(exc)) from None
    except RoutingLoopError as loop:
        raise _loop_error(config, loop) from None
    click.echo(f"spikeforge: delivering {counted(len(packets), 'packet')} on {BACKEND_NAMES[request.backend]}",
               err=True)
    try:
        rows, dropped, cycles = run_network(params, packets, request.backend, build_dir=build_dir)
    except RuntimeError as exc:
        raise ToolError(str(exc)) from None
    write_delivered(stage / "delivered.csv", rows, params)
    wrote = str(request.out_dir / "delivered.csv")
    if cycles is not None:
        write_cycles(stage / "cycles.json", cycles)
        wrote += f" and {request.out_dir / 'cycles.json'}"
    return (f"{counted(len(rows), 'delivery', 'deliveries')} of {counted(len(packets), 'packet')}, {dropped} "
            f"dropped; wrote {wrote}")


def _verify(config, *, sim, steps, seed, build_dir, echo):
    from spikeforge.sim.aer.verify import verify

    echo(f"verifying random packets (seed {seed}) in {sim} against the golden model")
    return Verdict(*verify(_params(config), sim=sim, seed=seed, build_dir=build_dir))


def _check_workload(workload):
    check_workload(workload, counts={"packets": (1, 10000)}, rtl=RTL_BACKENDS)


def _measure(config, workload, build_dir, reports):
    """Zero-load latency (golden model, or measured on the RTL) and, on the RTL, saturation throughput."""
    from spikeforge.sim.aer.measure import saturation_throughput, zero_load_latency

    params, rtl = _params(config), workload["rtl"]
    row = {"cycles_source": "model" if rtl == "none" else rtl}
    backend = "model" if rtl == "none" else rtl
    row["zero_load_latency"] = zero_load_latency(params, backend=backend, build_dir=build_dir / "zero_load",
                                                 seed=workload["seed"])
    if rtl != "none":
        row["saturation_throughput"] = saturation_throughput(params, sim=rtl, build_dir=build_dir / "saturation",
                                                             packets=workload["packets"], seed=workload["seed"])
        if hz := fmax_hz(reports):
            sources = params.nodes if isinstance(params, MeshParams) else params.ports
            row["packets_per_s"] = row["saturation_throughput"] * sources * hz
    return row


def _block(name, params, summary):
    return Block(
        name=name,
        params=params,
        summary=summary,
        toplevel=_toplevel,
        component=_component,
        describe=lazy("spikeforge.hdl.aer.manifest", "aer_manifest"),
        design=_design,
        board_top=_board_top,
        simulation=Simulation(
            input="packets, a CSV file t,src,dest,payload",
            outputs="DIR/delivered.csv (t,node,src,payload)",
            options=(),
            run=_simulate,
        ),
        verify=_verify,
        verify_steps=None,
        sweep=SweepWorkload(
            defaults={"packets": 100, "seed": 1, "rtl": "none"},
            check=_check_workload,
            measure=_measure,
            objectives={"logic_cells": "minimize", "saturation_throughput": "maximize"},
            metrics=("zero_load_latency", "saturation_throughput", "packets_per_s"),
        ),
    )


ROUTER = _block("router", RouterParams, "an AER router")
MESH = _block("mesh", MeshParams, "an AER mesh network-on-chip")
