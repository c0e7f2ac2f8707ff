"""Randomized check of one router or mesh configuration's RTL against the golden model (the ``verify`` command)."""

from __future__ import annotations

from spikeforge.hdl.aer.params import MeshParams, RouterParams

from .rtl import run_rtl
from .traffic import random_routes, uniform_random


__all__ = ["verify"]


def verify(params, *, sim="icarus", packets=40, seed=0, build_dir):
    """Run ``packets`` random packets per source through the RTL of ``params`` with random idle cycles and
    backpressure, and compare with the model.

    In table mode the configuration's ``routes`` are used; a standalone router without routes gets a random
    table of ``table_size`` entries.

    Returns
    -------
    ok : bool
        Whether every output delivered what the model expects, flows in order, counters equal, all drained.
    message : str
        What was compared, or the first difference.

    Raises
    ------
    spikeforge.sim.harness.runner.BuildError
        If the simulator cannot build the design.
    """
    if not isinstance(params, (RouterParams, MeshParams)):
        raise TypeError(f"params must be a RouterParams or a MeshParams, not {params!r}")
    if not isinstance(packets, int) or isinstance(packets, bool) or packets < 1:
        raise ValueError(f"Packets must be a positive integer, not {packets!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"Seed must be an integer, not {seed!r}")
    if isinstance(params, RouterParams) and params.uses_table and not any(params.routes.entries):
        params = RouterParams.create(**{**params.to_dict(),
                                        "routes": random_routes(params, entries=params.table_size, seed=seed)})
    stimulus = uniform_random(params, count=packets, seed=seed,
                              out_of_range=isinstance(params, RouterParams) and not params.uses_table)
    result = run_rtl(params, stimulus, sim=sim, build_dir=build_dir, idle=0.2, stall=0.3, seed=seed,
                     name="verify")
    if not result.ok:
        return False, result.message.removeprefix("traffic: ")
    delivered = sum(len(rows) for rows in result.delivered.values())
    return True, (f"{sim}: {len(stimulus)} packets from seed {seed} matched the model: {delivered} deliveries "
                  f"in {result.cycles} cycles, flows in order, counters equal, drained")
