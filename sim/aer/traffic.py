"""Traffic and routing-table generators for the router and mesh checks and benchmarks (pure Python).

- :func:`uniform_random`: each source sends packets to uniformly random destinations, all at once
  (saturating) or as a Bernoulli process of a given offered load.
- :func:`random_routes`: a random key/mask/route table for a standalone router, with multicast routes, empty
  routes and keys that match nothing.
- :func:`multicast_tree_routes`: mesh tables that send each source's key along XY multicast trees to a set
  of destination nodes, as a SpiNNaker-style mapper would.
"""

from __future__ import annotations

import random

from spikeforge.hdl.aer.params import MeshParams, RouterParams
from spikeforge.hdl.aer.routes import multicast_tree_routes

from .model import Packet


__all__ = ["uniform_random", "random_routes", "multicast_tree_routes", "injection_times"]


def injection_times(count, *, load, rng):
    """``count`` earliest-injection cycles of a Bernoulli source offering ``load`` packets per cycle
    (0 < load <= 1); ``load=None`` makes every packet ready at cycle 0 (saturating)."""
    if load is None:
        return [0] * count
    if not 0 < load <= 1:
        raise ValueError(f"load must be in 0 < load <= 1 packets per cycle, not {load!r}")
    times, t = [], 0
    while len(times) < count:
        if rng.random() < load:
            times.append(t)
        t += 1
    return times


def _destinations(params, src, rng, *, out_of_range):
    """A random destination for a packet from ``src``."""
    if isinstance(params, MeshParams):
        if params.uses_table:
            return rng.randrange(1 << params.key_bits)
        others = [n for n in range(params.nodes) if n != src] or [src]
        return params.position(rng.choice(others))
    if params.uses_table:
        return rng.randrange(1 << params.key_bits)
    fmt = params.packet
    if out_of_range:
        return rng.randrange(1 << fmt.x_bits), rng.randrange(1 << fmt.y_bits)
    return rng.randrange(params.width), rng.randrange(params.height)


def uniform_random(params, *, count, load=None, seed=0, keys=None, out_of_range=False):
    """``count`` packets per source with uniformly random destinations, payloads and tags.

    Parameters
    ----------
    params : RouterParams or MeshParams
        The network; its sources are the mesh nodes or the router's input ports.
    count : int
        Packets per source.
    load : float or None
        Offered load per source in packets per cycle; None: all packets ready at cycle 0 (saturating).
    seed : int
        Random seed.
    keys : list of int, optional
        ``table`` routing: draw keys from this list instead of the whole key space.
    out_of_range : bool
        ``xy`` standalone router: draw destinations over the whole coordinate fields, so some are outside
        the router's mesh (dropped). A mesh draws another node (never the source).
    """
    rng = random.Random(seed)
    sources = params.nodes if isinstance(params, MeshParams) else params.ports
    packets = []
    for src in range(sources):
        for t in injection_times(count, load=load, rng=rng):
            dest = rng.choice(keys) if keys else _destinations(params, src, rng, out_of_range=out_of_range)
            packets.append(Packet(t=t, src=src, dest=dest, payload=rng.randrange(1 << params.payload_bits),
                                  tag=rng.randrange(1 << params.tag_bits) if params.tag_bits else 0))
    return packets


def random_routes(params, *, entries, seed=0):
    """A random table of ``entries`` rows for a standalone ``table`` router (a ``routes`` parameter value).

    Masks keep a random subset of the key bits, so entries overlap and the first match matters; routes are
    random masks of the output ports, multicast more often than not, sometimes empty (drop).
    """
    if not isinstance(params, RouterParams) or not params.uses_table:
        raise ValueError("random_routes needs a standalone router with routing = 'table'")
    rng = random.Random(seed)
    rows = []
    for _ in range(entries):
        mask = rng.getrandbits(params.key_bits) | rng.getrandbits(params.key_bits)
        key = rng.getrandbits(params.key_bits) & mask
        route = rng.getrandbits(params.ports) if rng.random() < 0.9 else 0
        rows.append({"key": key, "mask": mask, "route": route})
    return rows
