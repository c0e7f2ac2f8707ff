"""Routing tables computed from where packets must go (pure Python).

:func:`multicast_tree_routes` gives the key/mask/route tables of a table-mode mesh that deliver every source's key
along XY multicast trees, as a SpiNNaker-style mapper would; the chip (:mod:`spikeforge.hdl.chip.params`) and the
AER checks use it. Dimension-ordered trees keep the mesh free of deadlock (docs/aer.md, docs/chip.md).
"""

from __future__ import annotations

from .params import EAST, LOCAL, NORTH, SOUTH, WEST


__all__ = ["multicast_tree_routes"]


def _xy_next(params, node, dest):
    """The output port of XY routing at ``node`` toward node ``dest``."""
    (x, y), (dx, dy) = params.position(node), params.position(dest)
    if dx != x:
        return EAST if dx > x else WEST
    if dy != y:
        return SOUTH if dy > y else NORTH
    return LOCAL


def multicast_tree_routes(params, targets, *, origins=None):
    """Mesh tables (a ``routes`` parameter value) that deliver key ``k`` injected at node ``origins[k]`` (node
    ``k`` by default) to every node in ``targets[k]``, along the union of the XY paths (a tree, so no node sees
    a key twice).

    Parameters
    ----------
    params : MeshParams
        A mesh with ``routing = "table"``; ``key_bits`` must hold every key.
    targets : dict
        Key -> iterable of destination nodes.
    origins : dict, optional
        Key -> the node that injects it.
    """
    routes = {}
    for src, dests in targets.items():
        for dest in dests:
            node = src if origins is None else origins[src]
            while True:
                port = _xy_next(params, node, dest)
                routes[node, src] = routes.get((node, src), 0) | (1 << port)
                if port == LOCAL:
                    break
                node = params.neighbour(node, port)
    full = (1 << params.key_bits) - 1
    return [{"node": node, "key": key, "mask": full, "route": route}
            for (node, key), route in sorted(routes.items())]
