"""Validated parameters of the AER router and the mesh network-on-chip, and the run-time routing table.

One :class:`RouterParams` (or :class:`MeshParams`) object drives the Amaranth generators
(:mod:`spikeforge.hdl.aer.router`, :mod:`spikeforge.hdl.aer.mesh`), the golden model
(:mod:`spikeforge.sim.aer.model`) and the cocotb bench. This module is pure Python: the golden model imports it
without importing Amaranth.

Port numbering of a mesh node (and of a standalone router in ``xy`` mode): 0 north, 1 east, 2 south, 3 west,
4 local. Node ``n`` of a W x H mesh sits at column ``x = n % W`` and row ``y = n // W``; row 0 is the northern edge,
so north is ``y - 1`` and east is ``x + 1``.
"""

from __future__ import annotations

import dataclasses

from ..checks import check_choice, check_int


__all__ = [
    "RouterParams", "MeshParams", "PacketFormat", "RouteTable", "TableEntry",
    "ROUTINGS", "MISSES", "LATENCY", "TABLE_LATENCY", "NORTH", "EAST", "SOUTH", "WEST", "LOCAL", "MESH_PORTS", "PORT_NAMES",
    "MESH_TURNS",
]


ROUTINGS = ("xy", "table")

#: Zero-load latency of one ``xy`` router in cycles: a packet accepted at an input in cycle t is valid at its
#: output in cycle t + LATENCY (input FIFO, then output register), so also the per-hop latency of a mesh.
LATENCY = 2
#: The same for a ``table`` router: the lookup as a packet enters its input buffer in memory (2 cycles), then the
#: output register.
TABLE_LATENCY = 3
#: Widest slice of a key that one match memory of a ``table`` router looks up (2 ** 8 words: one block RAM).
KEY_SLICE_BITS = 8
MISSES = ("drop", "default")

NORTH, EAST, SOUTH, WEST, LOCAL = range(5)
MESH_PORTS = 5
PORT_NAMES = ("north", "east", "south", "west", "local")
#: The turns of a mesh's ``table`` routers: for each input port, the mask of the output ports a packet arriving there
#: may leave by. They are the turns of dimension-ordered (XY) paths and XY multicast trees (X first, then Y): no
#: packet goes back where it came from, and one arriving from the north or the south goes on along Y or to the
#: local port, never east or west. Route bits outside them are ignored, as those of ports off the mesh are (a
#: packet left with none is dropped and counted at its input), so a router's arbiters and output multiplexers
#: only see the inputs that may reach each output. XY tables (:func:`spikeforge.hdl.aer.routes.multicast_tree_routes`,
#: a chip's) never use another turn; the turns are also why such tables cannot route a packet around a loop.
MESH_TURNS = {
    NORTH: 1 << SOUTH | 1 << LOCAL,
    EAST: 1 << NORTH | 1 << SOUTH | 1 << WEST | 1 << LOCAL,
    SOUTH: 1 << NORTH | 1 << LOCAL,
    WEST: 1 << NORTH | 1 << EAST | 1 << SOUTH | 1 << LOCAL,
    LOCAL: (1 << MESH_PORTS) - 1,
}


def bits_for(count):
    """Width of an index into ``count`` items (at least 1 bit)."""
    return max(1, (count - 1).bit_length())


def key_slices(key_bits):
    """[(lsb, width)] of the slices a ``table`` router splits a key into, one match memory each: as few as
    :data:`KEY_SLICE_BITS` allows, as even as possible."""
    count = -(-key_bits // KEY_SLICE_BITS)
    slices, lsb = [], 0
    for s in range(count):
        width = key_bits // count + (s < key_bits % count)
        slices.append((lsb, width))
        lsb += width
    return slices


@dataclasses.dataclass(frozen=True)
class PacketFormat:
    """The fields of an AER packet, in packing order (least significant first).

    ``dest`` (``xy`` routing: a struct of ``x`` then ``y``) or ``key`` (``table`` routing) routes the packet;
    ``src`` is the node (mesh) or input port (standalone router) that injected it; ``payload`` is the source
    neuron's address; ``tag`` (when ``tag_bits`` > 0) is a timestep tag. The Amaranth layout
    (:func:`spikeforge.hdl.aer.packet.packet_layout`) has these fields in this order.
    """

    routing: str
    x_bits: int
    y_bits: int
    key_bits: int
    src_bits: int
    payload_bits: int
    tag_bits: int

    def fields(self):
        """[(name, width)] in packing order; ``dest`` is split into ``dest.x`` and ``dest.y``."""
        route = ([("dest.x", self.x_bits), ("dest.y", self.y_bits)] if self.routing == "xy"
                 else [("key", self.key_bits)])
        tag = [("tag", self.tag_bits)] if self.tag_bits else []
        return route + [("src", self.src_bits), ("payload", self.payload_bits)] + tag

    @property
    def width(self):
        return sum(width for _, width in self.fields())


@dataclasses.dataclass(frozen=True)
class _Common:
    """Parameters shared by a router and a mesh (see :class:`RouterParams`)."""

    routing: str
    payload_bits: int
    tag_bits: int
    key_bits: int
    fifo_depth: int
    lookups: int
    table_size: int
    miss: str
    default_route: int
    counter_bits: int
    routes: "RouteTable"
    route_ram: bool

    @classmethod
    def keys(cls):
        """The names accepted by :meth:`create`."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def _check_unknown(cls, kwargs):
        unknown = sorted(set(kwargs) - set(cls.keys()))
        if unknown:
            raise ValueError(f"Unknown parameter '{unknown[0]}'; known parameters are {', '.join(cls.keys())}")

    @staticmethod
    def _check_common(ports, routing, payload_bits, tag_bits, key_bits, fifo_depth, lookups, table_size, miss,
                      default_route, counter_bits, routes, route_ram):
        check_choice("routing", routing, ROUTINGS)
        if not isinstance(route_ram, bool):
            raise TypeError(f"Parameter 'route_ram' must be true or false, not {route_ram!r}")
        check_int("payload_bits", payload_bits, 1, 32)
        check_int("tag_bits", tag_bits, 0, 16)
        check_int("fifo_depth", fifo_depth, 1, 256)
        check_int("counter_bits", counter_bits, 0, 32, "must be in the range 0..32 (0: no counters)")
        if routing == "table":
            check_int("key_bits", key_bits, 1, 32)
            check_int("table_size", table_size, 1, 1024)
            check_int("lookups", lookups, 1, ports, f"must be in the range 1..{ports} (at most one per port)")
            check_choice("miss", miss, MISSES)
            all_ports = (1 << ports) - 1
            if miss == "default":
                check_int("default_route", default_route, 1, all_ports,
                           f"must be a nonzero mask of the {ports} output ports (1..{all_ports}) "
                           f"when miss = 'default'")
            elif default_route:
                raise ValueError(f"Parameter 'default_route' is only used by miss = 'default', not {miss!r}")
        else:
            for name, value in (("key_bits", key_bits), ("table_size", table_size),
                                ("default_route", default_route), ("routes", routes)):
                if value:
                    raise ValueError(f"Parameter '{name}' is only used by routing = 'table', not 'xy'")
            if miss != "drop":
                raise ValueError("Parameter 'miss' is only used by routing = 'table', not 'xy'")
            if lookups != 1:
                raise ValueError("Parameter 'lookups' is only used by routing = 'table', not 'xy'")
            if not route_ram:
                raise ValueError("Parameter 'route_ram' is only used by routing = 'table', not 'xy'")

    @property
    def uses_table(self):
        return self.routing == "table"

    @property
    def latency(self):
        """Zero-load cycles per router: :data:`LATENCY` (``xy``) or :data:`TABLE_LATENCY` (``table``)."""
        return TABLE_LATENCY if self.uses_table else LATENCY

    @property
    def index_bits(self):
        """Width of a table index."""
        return bits_for(self.table_size)

    @property
    def counter_max(self):
        return (1 << self.counter_bits) - 1

    def to_dict(self):
        """The parameters as given to :meth:`create` (a TOML ``[router]`` or ``[mesh]`` table)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["routes"] = self.routes.to_rows(mesh=isinstance(self, MeshParams))
        if not self.uses_table:
            for key in ("key_bits", "table_size", "lookups", "miss", "default_route", "routes", "route_ram"):
                del out[key]
        return out


@dataclasses.dataclass(frozen=True)
class RouterParams(_Common):
    """Parameters of one address-event router.

    Construct with :meth:`create`, which validates every value.

    Parameters
    ----------
    ports : int
        Number of input/output port pairs, 1..32; exactly 5 (north, east, south, west, local) for ``xy``.
    routing : str
        ``"xy"``: dimension-ordered routing on the destination coordinates (deadlock-free on a mesh); ``"table"``:
        SpiNNaker-style multicast through a key/mask table written at run time.
    width, height : int
        ``xy`` only: the mesh the router belongs to, 1..16 each; packets for coordinates outside it are
        dropped and counted.
    x, y : int
        ``xy`` only: the router's own column and row in that mesh.
    src_bits : int
        Width of the packet's ``src`` field, 1..16; defaults to the bits of a node index (``xy``) or of an
        input port index (``table``).
    payload_bits : int
        Width of the payload (the source neuron's address), 1..32.
    tag_bits : int
        Width of an optional timestep tag, 0..16 (0: no tag).
    key_bits : int
        ``table`` only: width of the routing key, 1..32.
    fifo_depth : int
        Depth of each input FIFO, 1..256 (2 or more for one packet per cycle per input).
    lookups : int
        ``table`` only: lookups per cycle, 1..ports, each with its own copy of the lookup memories (the route
        memory of a key of one slice, the match memories of a longer key) and its own bus to the outputs; the
        linked inputs are dealt to them in turn (default 1: one lookup and one bus shared by every port, the
        smallest router).
    table_size : int
        ``table`` only: number of table entries, 1..1024.
    miss : str
        ``table`` only: what happens to a packet that matches no entry: ``"drop"`` (counted per input port)
        or ``"default"`` (it takes ``default_route``).
    default_route : int
        ``table`` only, with ``miss = "default"``: the nonzero mask of output ports a missed packet takes.
    counter_bits : int
        Width of the saturating per-port forwarded and dropped counters (and ``bad_config``), 0..32; 0: no
        counters (those members are 0 bits wide and read 0; the ``dropping`` flags remain), as a chip's routers
        have (the chip sums ``dropping`` and reads no counter).
    route_ram : bool
        ``table`` only: each input buffer keeps its packets' routes in a block RAM of its own, and the lanes' route
        memories and the entries are block RAM (True, the default: fewer logic cells), or the routes are in
        flip-flops and Yosys maps the small memories as it sees fit (False: fewer block RAMs, for a design short
        of them, as a chip is).

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If a parameter is out of its range, breaks a rule relating it to another, or is unknown.
    """

    ports: int = 5
    width: int = 0
    height: int = 0
    x: int = 0
    y: int = 0
    src_bits: int = 1

    @classmethod
    def create(cls, *, ports=None, routing="xy", width=None, height=None, x=None, y=None, src_bits=None,
               payload_bits=16, tag_bits=0, key_bits=None, fifo_depth=4, lookups=1, table_size=None, miss="drop",
               default_route=0, counter_bits=16, routes=(), route_ram=True, **unknown):
        """Validate keyword parameters and return a :class:`RouterParams`."""
        cls._check_unknown(unknown)
        check_choice("routing", routing, ROUTINGS)
        if routing == "xy":
            ports = MESH_PORTS if ports is None else ports
            check_int("ports", ports, MESH_PORTS, MESH_PORTS,
                       "must be 5 (north, east, south, west, local) for routing = 'xy'")
            width = 1 if width is None else width
            height = 1 if height is None else height
            check_int("width", width, 1, 16)
            check_int("height", height, 1, 16)
            x = 0 if x is None else x
            y = 0 if y is None else y
            check_int("x", x, 0, width - 1, f"must be a column of the {width}-wide mesh (0..{width - 1})")
            check_int("y", y, 0, height - 1, f"must be a row of the {height}-high mesh (0..{height - 1})")
            key_bits = 0 if key_bits is None else key_bits
            table_size = 0 if table_size is None else table_size
            default_src = bits_for(width * height)
        else:
            ports = 4 if ports is None else ports
            check_int("ports", ports, 1, 32)
            for name, value in (("width", width), ("height", height), ("x", x), ("y", y)):
                if value is not None:
                    raise ValueError(f"Parameter '{name}' is only used by routing = 'xy', not 'table'")
            width = height = x = y = 0
            key_bits = 16 if key_bits is None else key_bits
            table_size = 16 if table_size is None else table_size
            default_src = bits_for(ports)
        src_bits = default_src if src_bits is None else src_bits
        check_int("src_bits", src_bits, 1, 16)
        cls._check_common(ports, routing, payload_bits, tag_bits, key_bits, fifo_depth, lookups, table_size, miss,
                          default_route, counter_bits, routes, route_ram)
        routes = RouteTable.create(routes, key_bits=key_bits, ports=ports, nodes=1, table_size=table_size,
                                   mesh=False)
        return cls(routing=routing, payload_bits=payload_bits, tag_bits=tag_bits, key_bits=key_bits,
                   fifo_depth=fifo_depth, lookups=lookups, table_size=table_size, miss=miss,
                   default_route=default_route, counter_bits=counter_bits, routes=routes, route_ram=route_ram,
                   ports=ports, width=width,
                   height=height, x=x, y=y, src_bits=src_bits)

    @property
    def packet(self):
        """The :class:`PacketFormat` of the packets this router forwards."""
        xy = not self.uses_table
        return PacketFormat(routing=self.routing, x_bits=bits_for(self.width) if xy else 0,
                            y_bits=bits_for(self.height) if xy else 0, key_bits=self.key_bits,
                            src_bits=self.src_bits, payload_bits=self.payload_bits, tag_bits=self.tag_bits)

    def to_dict(self):
        out = super().to_dict()
        if self.uses_table:
            for key in ("width", "height", "x", "y"):
                del out[key]
        return out


@dataclasses.dataclass(frozen=True)
class MeshParams(_Common):
    """Parameters of a W x H mesh of 5-port routers, each with a local port for a core or a traffic source.

    Construct with :meth:`create`. ``width`` and ``height`` are 1..16 each; the other parameters are those of
    :class:`RouterParams` and apply to every router. In ``table`` mode each router has its own table; route
    bits that point off the mesh are ignored. The packet's ``src`` field is a node index.
    """

    width: int = 1
    height: int = 1

    @classmethod
    def create(cls, *, width, height, routing="xy", payload_bits=16, tag_bits=0, key_bits=None, fifo_depth=4,
               lookups=1, table_size=None, miss="drop", default_route=0, counter_bits=16, routes=(), route_ram=True,
               **unknown):
        """Validate keyword parameters and return a :class:`MeshParams`."""
        cls._check_unknown(unknown)
        check_int("width", width, 1, 16)
        check_int("height", height, 1, 16)
        check_choice("routing", routing, ROUTINGS)
        if routing == "table":
            key_bits = 16 if key_bits is None else key_bits
            table_size = 16 if table_size is None else table_size
        else:
            key_bits = 0 if key_bits is None else key_bits
            table_size = 0 if table_size is None else table_size
        cls._check_common(MESH_PORTS, routing, payload_bits, tag_bits, key_bits, fifo_depth, lookups, table_size,
                          miss, default_route, counter_bits, routes, route_ram)
        routes = RouteTable.create(routes, key_bits=key_bits, ports=MESH_PORTS, nodes=width * height,
                                   table_size=table_size, mesh=True)
        return cls(routing=routing, payload_bits=payload_bits, tag_bits=tag_bits, key_bits=key_bits,
                   fifo_depth=fifo_depth, lookups=lookups, table_size=table_size, miss=miss,
                   default_route=default_route, counter_bits=counter_bits, routes=routes, route_ram=route_ram,
                   width=width, height=height)

    @property
    def ports(self):
        """Ports of every router: north, east, south, west, local."""
        return MESH_PORTS

    @property
    def nodes(self):
        return self.width * self.height

    def position(self, node):
        """(x, y) of a node index."""
        return node % self.width, node // self.width

    def node(self, x, y):
        return y * self.width + x

    def neighbour(self, node, port):
        """The node on the other side of ``port`` of ``node``, or None at the edge (or for the local port)."""
        x, y = self.position(node)
        dx, dy = {NORTH: (0, -1), EAST: (1, 0), SOUTH: (0, 1), WEST: (-1, 0)}.get(port, (None, None))
        if dx is None or not (0 <= x + dx < self.width and 0 <= y + dy < self.height):
            return None
        return self.node(x + dx, y + dy)

    def links(self, node):
        """Mask of the ports of ``node`` that lead somewhere (its neighbours and its local port)."""
        return sum(1 << p for p in range(MESH_PORTS) if p == LOCAL or self.neighbour(node, p) is not None)

    def router(self, node):
        """The :class:`RouterParams` of the router of ``node``."""
        x, y = self.position(node)
        if self.uses_table:
            return RouterParams.create(ports=MESH_PORTS, routing="table", src_bits=bits_for(self.nodes),
                                       payload_bits=self.payload_bits, tag_bits=self.tag_bits,
                                       key_bits=self.key_bits, fifo_depth=self.fifo_depth,
                                       lookups=self.lookups, table_size=self.table_size, miss=self.miss,
                                       default_route=self.default_route, counter_bits=self.counter_bits,
                                       route_ram=self.route_ram)
        return RouterParams.create(routing="xy", width=self.width, height=self.height, x=x, y=y,
                                   src_bits=bits_for(self.nodes), payload_bits=self.payload_bits,
                                   tag_bits=self.tag_bits, fifo_depth=self.fifo_depth,
                                   counter_bits=self.counter_bits)

    @property
    def packet(self):
        return self.router(0).packet


@dataclasses.dataclass(frozen=True)
class TableEntry:
    """One routing table entry: a packet with key k matches when ``(k & mask) == key``; it then leaves on every
    output port whose bit is set in ``route`` (an empty route drops it). ``row`` is its position in the
    ``routes`` parameter, for messages; it is not part of the entry's value."""

    key: int
    mask: int
    route: int
    row: int = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True)
class RouteTable:
    """Validated contents of the routing tables: ``entries[node]`` is the ordered entry tuple of the router of
    ``node`` (node 0 for a standalone router). The first matching entry wins.

    The RTL back ends write it through the configuration port before any traffic; the generated hardware
    starts with every entry disabled.
    """

    entries: tuple = ()

    @classmethod
    def create(cls, rows, *, key_bits, ports, nodes, table_size, mesh):
        """Validate ``rows``, a list of TOML-style tables ``{"key", "mask", "route"}`` (plus ``"node"`` for a
        mesh), as the ``routes`` parameter.

        Raises
        ------
        TypeError, ValueError
            Naming the parameter, the entry (by position), the field, the value and the rule.
        """
        fields = ("node", "key", "mask", "route") if mesh else ("key", "mask", "route")
        if not isinstance(rows, (list, tuple)):
            raise TypeError(f"Parameter 'routes' must be a list of tables of {', '.join(fields)}, not {rows!r}")
        entries = [[] for _ in range(nodes)]
        for i, row in enumerate(rows):
            where = f"Parameter 'routes' entry {i}"
            if not isinstance(row, dict):
                raise TypeError(f"{where} must be a table of {', '.join(fields)}, not {row!r}")
            unknown = sorted(set(row) - set(fields))
            if unknown:
                raise ValueError(f"{where} has an unknown field '{unknown[0]}'; its fields are {', '.join(fields)}")
            missing = [f for f in fields if f not in row]
            if missing:
                raise ValueError(f"{where} has no field '{missing[0]}'; its fields are {', '.join(fields)}")
            values = {}
            for name, hi in (("node", nodes - 1), ("key", (1 << key_bits) - 1), ("mask", (1 << key_bits) - 1),
                             ("route", (1 << ports) - 1)):
                if name not in fields:
                    continue
                value = row[name]
                if not isinstance(value, int) or isinstance(value, bool):
                    raise TypeError(f"{where}: field '{name}' must be an integer, not {value!r}")
                if not 0 <= value <= hi:
                    raise ValueError(f"{where}: field '{name}' must be in the range 0..{hi}; {value} is out of "
                                     f"range")
                values[name] = value
            if values["key"] & ~values["mask"]:
                raise ValueError(f"{where}: field 'key' {values['key']:#x} has bits outside its mask "
                                 f"{values['mask']:#x}, so no packet can match it")
            node = values.pop("node", 0)
            entries[node].append(TableEntry(**values, row=i))
        for node, node_entries in enumerate(entries):
            if len(node_entries) > table_size:
                of = f" for node {node}" if mesh else ""
                raise ValueError(f"Parameter 'routes' has {len(node_entries)} entries{of}; 'table_size' allows "
                                 f"{table_size}")
        return cls(entries=tuple(tuple(e) for e in entries))

    def node_entries(self, node):
        """The entries of the router of ``node`` (empty when none were given)."""
        return self.entries[node] if node < len(self.entries) else ()

    def match(self, node, key):
        """The first :class:`TableEntry` of ``node`` that ``key`` matches, or None when none matches."""
        for entry in self.node_entries(node):
            if key & entry.mask == entry.key:
                return entry
        return None

    def to_rows(self, *, mesh):
        """The table as TOML-style tables (the inverse of :meth:`create`)."""
        rows = []
        for node, node_entries in enumerate(self.entries):
            for e in node_entries:
                rows.append({**({"node": node} if mesh else {}), "key": e.key, "mask": e.mask, "route": e.route})
        return rows
