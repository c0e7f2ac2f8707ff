"""The router and mesh RTL back ends: export the Verilog, build it for Icarus or Verilator, run the cocotb bench
(:mod:`spikeforge.sim.aer.bench`) and read back what it delivered; in Verilator without idle cycles or
backpressure, one run of the batch harness instead (:mod:`spikeforge.sim.aer.batch`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from spikeforge.hdl.aer.manifest import aer_manifest
from spikeforge.hdl.aer.mesh import Mesh
from spikeforge.hdl.aer.params import MeshParams, RouterParams
from spikeforge.hdl.aer.router import Router
from spikeforge.hdl.export import export
from spikeforge.sim.harness.runner import build, run

from .model import Delivery, Packet


__all__ = ["RtlResult", "export_network", "run_rtl", "top_name"]


@dataclasses.dataclass
class RtlResult:
    """What one RTL run did.

    Attributes
    ----------
    ok : bool
        The run passed (with ``check``: the deliveries and counters equal the model's; without: it drained).
    message : str
        Empty when ``ok``, else the first failure.
    delivered : dict
        Output -> list of :class:`~spikeforge.sim.aer.model.Delivery`, ``t`` the delivery cycle.
    injected : list of (int, Packet)
        (cycle accepted, packet), in acceptance order.
    forwarded, dropped : numpy.ndarray
        The counters read at the end, shape (routers, ports).
    cycles : int
        Cycles from the first injection opportunity to the end of the drain.
    seconds : float
        Wall time of the simulation (without the build).
    """

    ok: bool
    message: str
    delivered: dict
    injected: list
    forwarded: np.ndarray
    dropped: np.ndarray
    cycles: int
    seconds: float


def top_name(params):
    return "aer_mesh" if isinstance(params, MeshParams) else "aer_router"


def export_network(params, build_dir):
    """Write the Verilog and the manifest (with :func:`~spikeforge.hdl.aer.manifest.aer_manifest`) of
    the router or mesh of ``params`` into ``build_dir``; returns their paths."""
    if not isinstance(params, (RouterParams, MeshParams)):
        raise TypeError(f"params must be a RouterParams or a MeshParams, not {params!r}")
    dut = Mesh(params) if isinstance(params, MeshParams) else Router(params)
    return export(dut, name=top_name(params), build_dir=build_dir, description=aer_manifest(dut))


def _dest_json(dest):
    return list(dest) if isinstance(dest, tuple) else dest


def _dest(value):
    return tuple(value) if isinstance(value, list) else value


def run_rtl(params, packets, *, sim, build_dir, idle=0.0, stall=0.0, seed=0, check=True, settle=None,
            quiet=1000, name="run", cocotb=False):
    """Run ``packets`` through the RTL of ``params`` in simulator ``sim``.

    Parameters
    ----------
    params : RouterParams or MeshParams
        The network; its ``routes`` are loaded through the configuration port first.
    packets : list of Packet
        What to inject (``src``: mesh node or router input port; none before its cycle ``t``).
    sim : str
        ``"icarus"`` or ``"verilator"``.
    build_dir : path-like
        Build directory of this configuration (the simulator builds into ``<build_dir>/<sim>`` once).
    idle, stall : float
        Probabilities of an idle cycle at a source and of a low ``ready`` at a sink.
    seed : int
        Seed of the idle, stall and configuration-port randomness.
    check : bool
        Compare the deliveries and counters with the golden model (``ok`` False at the first difference).
    settle : int, optional
        Quiet cycles after the last expected delivery before the run ends (catches late duplicates).
    quiet : int
        Cycles without any movement after which waiting packets mean a deadlock.
    name : str
        Name of the run's files in the build directory.
    cocotb : bool
        Run the cocotb bench in Verilator too without idle cycles or backpressure, where the batch harness
        would run (to compare the two).

    Returns
    -------
    RtlResult
    """
    mesh = isinstance(params, MeshParams)
    if settle is None:
        settle = params.latency * ((params.width + params.height) if mesh else 1) + 8
    build_dir = Path(build_dir)
    verilog, manifest = export_network(params, build_dir)
    if sim == "verilator" and not idle and not stall and not cocotb:
        from .batch import compile_network, run_batch

        model = compile_network(verilog, manifest, build_dir=build_dir)
        return RtlResult(**run_batch(model, params, packets, settle=settle, quiet=quiet, check=check))
    built = build(sim, sources=[verilog], manifest=manifest, build_dir=build_dir)
    output = built.directory / f"{name}.delivered.json"
    output.unlink(missing_ok=True)
    config = {
        "kind": "mesh" if mesh else "router",
        "params": params.to_dict(),
        "packets": [[p.t, p.src, _dest_json(p.dest), p.payload, p.tag] for p in packets],
        "idle": idle, "stall": stall, "seed": seed, "settle": settle, "quiet": quiet, "check": check,
        "output": str(output),
    }
    result = run(built, test_module="spikeforge.sim.aer.bench", config=config, name=name)
    if not output.is_file():
        return RtlResult(ok=False, message=result.message, delivered={}, injected=[],
                         forwarded=np.zeros(0), dropped=np.zeros(0), cycles=0, seconds=result.seconds)
    data = json.loads(output.read_text())
    outputs = params.nodes if mesh else params.ports
    delivered = {node: [] for node in range(outputs)}
    for t, node, src, dest, payload, tag in data["delivered"]:
        delivered[node].append(Delivery(t=t, node=node, src=src, dest=_dest(dest), payload=payload, tag=tag))
    injected = [(cycle, Packet(t=t, src=src, dest=_dest(dest), payload=payload, tag=tag))
                for cycle, t, src, dest, payload, tag in data["injected"]]
    return RtlResult(ok=result.ok, message=result.message, delivered=delivered, injected=injected,
                     forwarded=np.array(data["forwarded"]), dropped=np.array(data["dropped"]),
                     cycles=data["cycles"], seconds=result.seconds)
