"""Validated parameters of a chip: LIF cores on a table-routed AER mesh, their connections, the host's inputs and
the outputs (a ``[chip]`` table, docs/chip.md).

Pure Python: the golden model (:mod:`spikeforge.sim.chip.model`) imports it without Amaranth. Everything the
generator, the model, the bench and the host need about the network is derived here once: each core's phase
(its depth in the feed-forward graph), the sources and their keys, every tile's input map, the routers' tables
and the output map.
"""

from __future__ import annotations

import collections
import dataclasses

from ..aer.params import MeshParams, bits_for
from ..aer.routes import multicast_tree_routes
from ..checks import check_bool, check_int
from ..lif_core.params import LifParams
from ..stdp.params import StdpParams


__all__ = ["ChipParams", "ChipCore", "Connection", "MapEntry", "OutputRange", "INPUT", "HOST_NODE"]


#: The name of the host's virtual source in connections; its key is 0, core ``i`` (in file order) has key i + 1.
INPUT = "input"
#: The node the host attaches at: input packets enter and output packets leave the mesh there.
HOST_NODE = 0

_CHIP_KEYS = ("width", "height", "inputs", "cores", "connections", "outputs", "fifo_depth", "table_size",
              "map_size", "weights")
_CONNECTION_KEYS = ("source", "target", "first", "count", "axon", "recurrent")
_OUTPUT_KEYS = ("core", "first", "count")


def _check_keys(where, table, allowed):
    if not isinstance(table, dict):
        raise TypeError(f"{where} must be a table of {', '.join(allowed)}, not {table!r}")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"{where} has an unknown key '{unknown[0]}'; its keys are {', '.join(allowed)}")


@dataclasses.dataclass(frozen=True)
class ChipCore:
    """One tile's core: its name, the mesh node it sits at, its LIF parameters and its learning engine (or None),
    its key (the source index of its spikes) and its phase."""

    name: str
    node: int
    params: LifParams
    stdp: object
    key: int
    phase: int


@dataclasses.dataclass(frozen=True)
class Connection:
    """Neurons ``first .. first + count - 1`` of ``source`` drive axons ``axon ..`` of core ``target``, one to one.
    ``recurrent``: the connection carries the previous step's spikes (its source ticks at or after its target)."""

    source: str
    target: str
    first: int
    count: int
    axon: int
    recurrent: bool


@dataclasses.dataclass(frozen=True)
class MapEntry:
    """An input-map (or output-map) entry: a packet of source ``key`` for neuron n, ``first <= n < first +
    count``, becomes axon (or output) ``base + n - first``."""

    key: int
    first: int
    count: int
    base: int


@dataclasses.dataclass(frozen=True)
class OutputRange:
    """Neurons ``first .. first + count - 1`` of ``core`` are outputs, numbered on from the previous range."""

    core: str
    first: int
    count: int


@dataclasses.dataclass(frozen=True)
class ChipParams:
    """A W x H mesh with one LIF core per occupied node, joined by table-routed AER packets.

    Construct with :meth:`create`. A spike of neuron n of a source becomes a packet whose ``key`` is the source
    (0 the host's inputs, i + 1 the i-th core) and whose ``payload`` is n; the routers deliver it along XY
    multicast trees to every tile with a connection from that source, whose input map turns it into axon events.

    Parameters
    ----------
    width, height : int
        The mesh, 1..16 each.
    inputs : int
        The host's input neurons (source ``"input"``), 1..65536.
    cores : dict
        Name -> a table of ``[lif_core]`` keys plus ``node`` (its mesh node, ``y * width + x``) and optionally
        ``stdp`` (a table of ``[stdp]`` keys). A core's ``acc_bits`` must hold a whole step of input (every axon
        once at the extreme weight): ``weight_bits + bits(axons)``, which is its default.
    connections : list of tables
        ``source`` (a core or ``"input"``), ``target`` (a core), ``first`` (0) and ``count`` (the rest) of the
        source's neurons, ``axon`` (0): the target's first axon, ``recurrent`` (false).
    outputs : list of tables
        ``core``, ``first`` (0), ``count`` (the rest): the neurons whose spikes go to the host, numbered in order.
    fifo_depth : int
        The routers' input buffers, 1..256.
    table_size : int
        Routing-table entries per router, 1..1024; must hold every source tree that passes the node.
    map_size : int
        Input-map entries per tile (connections into one core), 1..16.
    weights : str or None
        A ``.npz`` file (relative to the configuration file) with one ``(axons, neurons)`` array per core name:
        the weights a run loads. Not part of the hardware.

    Raises
    ------
    TypeError, ValueError
        Naming the parameter (``cores.NAME.key``, ``connections[i]``...), the value and the rule.
    """

    width: int
    height: int
    inputs: int
    cores: tuple
    connections: tuple
    outputs: tuple
    fifo_depth: int
    table_size: int
    map_size: int
    weights: object

    @classmethod
    def keys(cls):
        return _CHIP_KEYS

    @classmethod
    def create(cls, *, width, height, inputs, cores, connections=(), outputs=(), fifo_depth=4, table_size=8,
               map_size=4, weights=None, **unknown):
        if unknown:
            raise ValueError(f"Unknown parameter '{sorted(unknown)[0]}'; known parameters are {', '.join(_CHIP_KEYS)}")
        check_int("width", width, 1, 16)
        check_int("height", height, 1, 16)
        check_int("inputs", inputs, 1, 65536)
        check_int("fifo_depth", fifo_depth, 1, 256)
        check_int("table_size", table_size, 1, 1024)
        check_int("map_size", map_size, 1, 16)
        if weights is not None and not isinstance(weights, str):
            raise TypeError(f"Parameter 'weights' must be a file name, not {weights!r}")
        made = _cores(cores, width * height)
        sizes = {INPUT: inputs, **{name: core.neurons for name, (_, core, _) in made.items()}}
        links = tuple(_connection(i, row, sizes, made) for i, row in enumerate(_list("connections", connections)))
        _check_axons(links, made)
        phases = _phases(links, list(made))
        keyed = tuple(ChipCore(name=name, node=node, params=core, stdp=stdp, key=index + 1, phase=phases[name])
                      for index, (name, (node, core, stdp)) in enumerate(made.items()))
        ranges = tuple(_output(i, row, sizes, made) for i, row in enumerate(_list("outputs", outputs)))
        chip = cls(width=width, height=height, inputs=inputs, cores=keyed, connections=links, outputs=ranges,
                   fifo_depth=fifo_depth, table_size=table_size, map_size=map_size, weights=weights)
        for core in keyed:
            entries = len(chip.input_map(core.name))
            if entries > map_size:
                raise ValueError(f"Parameter 'map_size' must hold the {entries} connections into core "
                                 f"'{core.name}'; {map_size} is too small")
        chip.routes()   # the routing tables must fit table_size
        return chip

    # --- derived ------------------------------------------------------------------------------------------------

    @property
    def nodes(self):
        return self.width * self.height

    @property
    def sources(self):
        """Source keys: 0 the host's inputs, then one per core."""
        return 1 + len(self.cores)

    @property
    def key_bits(self):
        return bits_for(self.sources)

    @property
    def neuron_bits(self):
        """Width of a packet's payload: the neuron index of the widest source."""
        return bits_for(max([self.inputs] + [c.params.neurons for c in self.cores]))

    @property
    def phases(self):
        """Number of phases a timestep runs (the longest feed-forward path, in cores)."""
        return 1 + max(c.phase for c in self.cores)

    @property
    def output_count(self):
        return sum(r.count for r in self.outputs)

    def core(self, name):
        return next(c for c in self.cores if c.name == name)

    def key_of(self, source):
        return 0 if source == INPUT else self.core(source).key

    def source_node(self, key):
        """The node that injects the packets of source ``key``."""
        return HOST_NODE if key == 0 else self.cores[key - 1].node

    def input_map(self, name):
        """The input-map entries of core ``name``'s tile, one per connection into it, in file order."""
        return tuple(MapEntry(key=self.key_of(c.source), first=c.first, count=c.count, base=c.axon)
                     for c in self.connections if c.target == name)

    def output_map(self):
        """The host port's map from packets to output indices."""
        entries, base = [], 0
        for r in self.outputs:
            entries.append(MapEntry(key=self.core(r.core).key, first=r.first, count=r.count, base=base))
            base += r.count
        return tuple(entries)

    @property
    def mesh(self):
        """The :class:`MeshParams` of the chip's routers (their tables start empty and are written at run time
        with :meth:`routes`); without counters (``counter_bits = 0``): the chip sums its routers' ``dropping``
        flags and reads no counter; with the buffers' routes in flip-flops (``route_ram = False``): a chip runs out
        of block RAMs first."""
        return MeshParams.create(width=self.width, height=self.height, routing="table", key_bits=self.key_bits,
                                 payload_bits=self.neuron_bits, fifo_depth=self.fifo_depth,
                                 table_size=self.table_size, counter_bits=0, route_ram=False)

    def routes(self):
        """The routing-table rows (``node``, ``key``, ``mask``, ``route``) that carry every source's spikes to the
        tiles that listen, and the output cores' spikes to the host node, along XY multicast trees."""
        targets = {}
        for c in self.connections:
            targets.setdefault(self.key_of(c.source), set()).add(self.core(c.target).node)
        for r in self.outputs:
            targets.setdefault(self.core(r.core).key, set()).add(HOST_NODE)
        origins = {key: self.source_node(key) for key in targets}
        routes = multicast_tree_routes(self.mesh, targets, origins=origins)
        for node, count in sorted(self._per_node(routes).items()):
            if count > self.table_size:
                raise ValueError(f"Parameter 'table_size' must hold the {count} routes through node {node}; "
                                 f"{self.table_size} is too small")
        return routes

    def routes_per_node(self):
        """Node -> the number of :meth:`routes` rows its routing table holds (nodes without any left out)."""
        return self._per_node(self.routes())

    @staticmethod
    def _per_node(routes):
        return dict(collections.Counter(row["node"] for row in routes))

    def tree_links(self):
        """Source key -> the links ``(node, port)`` its packets leave on (every router output of its tree,
        the local port included): a spike of that source crosses each once."""
        links = {}
        for row in self.routes():
            for port in range(5):
                if row["route"] >> port & 1:
                    links.setdefault(row["key"], []).append((row["node"], port))
        return links

    def to_dict(self):
        """The parameters as given to :meth:`create` (a TOML ``[chip]`` table)."""
        cores = {}
        for c in self.cores:
            table = {"node": c.node, **c.params.to_dict()}
            if c.stdp is not None:
                table["stdp"] = c.stdp.to_dict()
            cores[c.name] = table
        out = {"width": self.width, "height": self.height, "inputs": self.inputs, "cores": cores,
               "connections": [dataclasses.asdict(c) for c in self.connections],
               "outputs": [dataclasses.asdict(r) for r in self.outputs],
               "fifo_depth": self.fifo_depth, "table_size": self.table_size, "map_size": self.map_size}
        if self.weights is not None:
            out["weights"] = self.weights
        return out


def _list(name, rows):
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"Parameter '{name}' must be a list of tables, not {rows!r}")
    return rows


def _core_params(name, table):
    """(LifParams, StdpParams or None) of core ``name``; acc_bits defaults to a width no step can overflow."""
    where = f"Parameter 'cores.{name}'"
    lif = {k: v for k, v in table.items() if k not in ("node", "stdp")}
    try:
        if "acc_bits" not in lif and lif.get("preset") is None:
            shape = LifParams.create(**lif)
            lif["acc_bits"] = max(shape.state_bits, _safe_acc_bits(shape))
        core = LifParams.create(**lif)
        stdp = table.get("stdp")
        stdp = StdpParams.create(core, **stdp) if isinstance(stdp, dict) else stdp
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {str(exc).replace('Parameter ', '')}") from None
    if stdp is not None and not isinstance(stdp, StdpParams):
        raise TypeError(f"{where}: 'stdp' must be a table of [stdp] keys, not {stdp!r}")
    if stdp is not None and stdp.enabled and stdp.reward:
        raise ValueError(f"{where}: 'stdp.reward' must be false: a chip has no path for reward commands yet "
                         "(docs/chip.md), so a reward-modulated core would never learn")
    if core.acc_bits < _safe_acc_bits(core):
        raise ValueError(f"{where}: 'acc_bits' must be at least weight_bits + bits(axons) = "
                         f"{_safe_acc_bits(core)}, so that no step's input can overflow the accumulator (the "
                         f"order packets arrive in must not matter); {core.acc_bits} is too narrow")
    return core, (stdp if stdp is not None and stdp.enabled else None)


def _safe_acc_bits(core):
    return core.weight_bits + (core.axons - 1).bit_length()


def _cores(cores, nodes):
    """Name -> (node, LifParams, StdpParams or None), in file order."""
    if not isinstance(cores, dict) or not cores:
        raise TypeError(f"Parameter 'cores' must be a table of one table per core, not {cores!r}")
    made, taken = {}, {}
    for name, table in cores.items():
        if not name.isidentifier() or name == INPUT:
            raise ValueError(f"Parameter 'cores' has a core named {name!r}; a name is an identifier other than "
                             f"'{INPUT}'")
        if not isinstance(table, dict) or "node" not in table:
            raise ValueError(f"Parameter 'cores.{name}' must be a table with a 'node' and [lif_core] keys")
        node = check_int(f"cores.{name}.node", table["node"], 0, nodes - 1,
                         f"must be a node of the mesh, 0..{nodes - 1}")
        if node in taken:
            raise ValueError(f"Parameter 'cores.{name}.node' is {node}, which core '{taken[node]}' already has; "
                             f"one core per node")
        taken[node] = name
        made[name] = (node, *_core_params(name, table))
    return made


def _range(where, row, size, of):
    first = row.get("first", 0)
    check_int(f"{where}.first", first, 0, size - 1, f"must be a neuron of {of}, 0..{size - 1}")
    count = row.get("count", size - first)
    check_int(f"{where}.count", count, 1, size - first, f"must be in the range 1..{size - first} ({of} has "
                                                          f"{size} neurons from {first})")
    return first, count


def _connection(i, row, sizes, cores):
    where = f"connections[{i}]"
    _check_keys(f"Parameter '{where}'", row, _CONNECTION_KEYS)
    for key in ("source", "target"):
        if key not in row:
            raise ValueError(f"Parameter '{where}' has no '{key}'")
    source, target = row["source"], row["target"]
    if source not in sizes:
        raise ValueError(f"Parameter '{where}.source' names no core: {source!r} (cores: {', '.join(cores)}; or "
                         f"'{INPUT}')")
    if target not in cores:
        raise ValueError(f"Parameter '{where}.target' names no core: {target!r} (cores: {', '.join(cores)})")
    first, count = _range(where, row, sizes[source], f"'{source}'")
    axons = cores[target][1].axons
    axon = row.get("axon", 0)
    check_int(f"{where}.axon", axon, 0, axons - count,
              f"must leave room for {count} axons in core '{target}', which has {axons}: 0..{axons - count}")
    recurrent = check_bool(f"{where}.recurrent", row.get("recurrent", False))
    if source == INPUT and recurrent:
        raise ValueError(f"Parameter '{where}.recurrent' must be false for the host's inputs")
    return Connection(source=source, target=target, first=first, count=count, axon=axon, recurrent=recurrent)


def _check_axons(links, cores):
    """Every axon is driven by at most one connection (so an axon gets at most one event per step)."""
    for name in cores:
        driven = {}
        for i, c in enumerate(links):
            if c.target != name:
                continue
            for axon in range(c.axon, c.axon + c.count):
                if axon in driven:
                    raise ValueError(f"Parameter 'connections[{i}].axon': axon {axon} of core '{name}' is already "
                                     f"driven by connections[{driven[axon]}]; an axon has one source")
                driven[axon] = i


def _phases(links, names):
    """Core -> phase: 0 for a core no feed-forward connection from a core reaches, else one more than its latest
    feed-forward source. A recurrent connection's source must tick at or after its target."""
    forward = [c for c in links if not c.recurrent and c.source != INPUT]
    phase, state = {}, {}

    def visit(name, path):
        if state.get(name) == "open":
            raise ValueError(f"Parameter 'connections' forms a cycle through {' -> '.join(path + [name])}; mark "
                             f"the connection that carries the previous step's spikes with recurrent = true")
        if name not in phase:
            state[name] = "open"
            sources = [c.source for c in forward if c.target == name]
            phase[name] = 1 + max((visit(s, path + [name]) for s in sources), default=-1)
            state[name] = "done"
        return phase[name]

    for name in names:
        visit(name, [])
    for i, c in enumerate(links):
        if c.recurrent and phase[c.source] < phase[c.target]:
            raise ValueError(f"Parameter 'connections[{i}].recurrent': '{c.source}' (phase {phase[c.source]}) ticks "
                             f"before '{c.target}' (phase {phase[c.target]}), so the connection would carry this "
                             f"step's spikes; make it feed-forward")
    return phase


def _output(i, row, sizes, cores):
    where = f"outputs[{i}]"
    _check_keys(f"Parameter '{where}'", row, _OUTPUT_KEYS)
    name = row.get("core")
    if name not in cores:
        raise ValueError(f"Parameter '{where}.core' names no core: {name!r} (cores: {', '.join(cores)})")
    first, count = _range(where, row, sizes[name], f"'{name}'")
    return OutputRange(core=name, first=first, count=count)
