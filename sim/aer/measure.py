"""What a router or mesh achieves: zero-load latency and saturation throughput, on the golden model or the RTL.

- Zero-load latency: single packets, one in flight at a time, from every source to uniformly random
  destinations; the mean of delivery cycle minus injection cycle. The golden model gives the zero-load bound
  (``params.latency`` cycles per router traversed); the RTL back ends measure it.
- Saturation throughput: every source offers packets every cycle to uniformly random destinations; packets
  accepted per source per cycle over the window where every source still has packets waiting (from
  :data:`WARMUP` to the first cycle in which some source has none left). Only the RTL can say: the golden model
  does not model contention.

Every RTL run is also checked against the golden model (:func:`spikeforge.sim.aer.rtl.run_rtl`).
"""

from __future__ import annotations

import dataclasses
import statistics

from spikeforge.hdl.aer.params import MeshParams, RouterParams

from .model import AerModel
from .traffic import random_routes, uniform_random


__all__ = ["WARMUP", "network_with_routes", "rates", "saturation_throughput", "zero_load_latency"]


WARMUP = 20          # cycles left out of the saturation window


def network_with_routes(params, *, seed=0):
    """``params``, or for a standalone table router with an empty table the same router with a random table of
    ``table_size`` entries (so that traffic goes somewhere)."""
    if isinstance(params, RouterParams) and params.uses_table and not any(params.routes.entries):
        return RouterParams.create(**{**params.to_dict(),
                                      "routes": random_routes(params, entries=params.table_size, seed=seed)})
    return params


def _run(params, packets, sim, build_dir, name):
    from .rtl import run_rtl

    result = run_rtl(params, packets, sim=sim, build_dir=build_dir, name=name)
    if not result.ok:
        raise RuntimeError(f"{name}: the RTL run failed: {result.message}")
    return result


def _spacing(params):
    """Cycles between single packets: longer than any path at zero load, so one is in flight at a time."""
    routers = params.width + params.height - 1 if isinstance(params, MeshParams) else 1
    return params.latency * routers + 8


def zero_load_latency(params, *, backend, build_dir=None, packets=4, seed=0):
    """Mean cycles from injection to delivery of single packets (``packets`` per source, one in flight at a
    time), on ``backend`` (``"model"``, ``"icarus"`` or ``"verilator"``); None when nothing is delivered."""
    params = network_with_routes(params, seed=seed)
    spacing = _spacing(params)
    drawn = sorted(uniform_random(params, count=packets, seed=seed), key=lambda p: (p.src, p.t))
    single = [dataclasses.replace(p, t=spacing * i) for i, p in enumerate(drawn)]
    if backend == "model":
        delivered, injected = AerModel(params).run(single).delivered, [p.t for p in single]
    else:
        result = _run(params, single, backend, build_dir, "zero_load")
        delivered, injected = result.delivered, sorted(cycle for cycle, _ in result.injected)
    # One packet in flight: a delivery belongs to the last packet injected before it.
    latencies = [d.t - max(t for t in injected if t <= d.t) for rows in delivered.values() for d in rows]
    return statistics.fmean(latencies) if latencies else None


def rates(result, sources):
    """(accepted, delivered) packets per source per cycle of an RTL run under saturating traffic, and the
    window ``(start, end)`` they were counted over: from :data:`WARMUP` (from 0 in a run too short to leave
    a warm-up out) to the first cycle in which some source has no packet left."""
    last = {}
    for cycle, p in result.injected:
        last[p.src] = max(last.get(p.src, 0), cycle)
    end = min(last.values())
    start = WARMUP if end > 2 * WARMUP else 0
    accepted = sum(1 for cycle, _ in result.injected if start <= cycle < end)
    delivered = sum(1 for rows in result.delivered.values() for d in rows if start <= d.t < end)
    cycles = max(end - start, 1)
    return accepted / (sources * cycles), delivered / (sources * cycles), (start, end)


def saturation_throughput(params, *, sim, build_dir, packets=100, seed=0):
    """Accepted packets per source per cycle under saturating uniform random traffic (``packets`` per
    source), measured on the RTL in ``sim``."""
    params = network_with_routes(params, seed=seed)
    sources = params.nodes if isinstance(params, MeshParams) else params.ports
    drawn = uniform_random(params, count=packets, seed=seed)
    accepted, _, _ = rates(_run(params, drawn, sim, build_dir, "saturation"), sources)
    return accepted
