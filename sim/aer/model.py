"""Transaction-level golden model of the AER router and the mesh: the specification the RTL is checked against.

Pure Python and numpy. Given the injected packets, the model says which packets each output (standalone
router: each output port; mesh: each node's local port) delivers, the order of every flow, and every router's
forwarded and dropped counters. It does not model cycles: packets of different flows may arrive in any
interleaving, so :func:`compare` checks

- the multiset of packets delivered at each output (nothing lost, nothing duplicated beyond the intended
  multicast copies, nothing invented), and
- the order of each flow, which must arrive in the order it was injected: at a standalone router a flow is
  the packets of one input port seen at one output port (one FIFO); in a mesh, the packets of one
  (src, dest) pair seen at one node (one path, FIFOs all the way). Packets of one source to different
  destinations may take different paths and overtake each other.

An injection order is the order of the packet list after a stable sort on ``t``. The delivery time the model
reports is the zero-load bound ``t + params.latency * routers traversed``; the RTL back ends report measured cycles.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from spikeforge.hdl.aer.params import EAST, LOCAL, MESH_PORTS, MESH_TURNS, NORTH, SOUTH, WEST, MeshParams, RouterParams


__all__ = ["Packet", "Delivery", "Traffic", "AerModel", "RoutingLoopError", "compare", "describe_packet"]


_OPPOSITE = {NORTH: SOUTH, SOUTH: NORTH, EAST: WEST, WEST: EAST}


@dataclasses.dataclass(frozen=True)
class Packet:
    """An injected packet.

    Attributes
    ----------
    t : int
        Earliest cycle the packet may be injected.
    src : int
        Injecting node (mesh) or input port (standalone router); also the packet's ``src`` field.
    dest : tuple or int
        ``xy``: the destination ``(x, y)``; ``table``: the routing key.
    payload : int
        The source neuron's address.
    tag : int
        Timestep tag (0 when the format has none).
    """

    t: int
    src: int
    dest: object
    payload: int
    tag: int = 0

    @property
    def content(self):
        """What identifies the packet at an output, independent of time."""
        return self.src, self.dest, self.payload, self.tag


@dataclasses.dataclass(frozen=True)
class Delivery:
    """A packet leaving the network: at output ``node`` (a mesh node, or an output port of a standalone
    router) in cycle ``t``."""

    t: int
    node: int
    src: int
    dest: object
    payload: int
    tag: int = 0

    @property
    def content(self):
        return self.src, self.dest, self.payload, self.tag


@dataclasses.dataclass
class Traffic:
    """What the network did with a list of packets.

    Attributes
    ----------
    delivered : dict
        Output (node or port) -> list of :class:`Delivery`, each flow in injection order.
    forwarded, dropped : numpy.ndarray
        Shape (routers, ports): per router and port, the packets that left on the output port, and those
        dropped at the input port; saturated at the counter maximum like the RTL's counters.
    """

    delivered: dict
    forwarded: np.ndarray
    dropped: np.ndarray


def describe_packet(content):
    src, dest, payload, tag = content
    dest = f"({dest[0]}, {dest[1]})" if isinstance(dest, tuple) else f"key {dest:#x}"
    return f"packet src {src} -> {dest} payload {payload}" + (f" tag {tag}" if tag else "")


class RoutingLoopError(ValueError):
    """The mesh's routing tables send a packet around a loop: at ``node`` the table entry ``entry`` (a
    :class:`~spikeforge.hdl.aer.params.TableEntry`; None: the default route of a missed key) sends ``packet``
    back to ``back``, a node of the path that brought it there."""

    def __init__(self, packet, node, back, entry):
        self.packet, self.node, self.back, self.entry = packet, node, back, entry
        super().__init__(f"The routing tables send {describe_packet(packet.content)} around a loop: node {node} "
                         f"sends it back to node {back}")


class AerModel:
    """The golden model of a standalone router (:class:`RouterParams`) or a mesh (:class:`MeshParams`).

    The routing table is the ``routes`` parameter of ``params``; route bits of mesh ports that lead off the
    mesh are ignored, and so are those of turns that XY paths never take (:data:`MESH_TURNS`: a packet arriving
    at a mesh router never leaves where it came from, nor east or west when it came from the north or the south).
    """

    def __init__(self, params):
        if not isinstance(params, (RouterParams, MeshParams)):
            raise TypeError(f"params must be a RouterParams or a MeshParams, not {params!r}")
        self._p = params
        self._mesh = isinstance(params, MeshParams)

    @property
    def params(self):
        return self._p

    @property
    def outputs(self):
        """Number of outputs: mesh nodes or router ports."""
        return self._p.nodes if self._mesh else self._p.ports

    @property
    def routers(self):
        return self._p.nodes if self._mesh else 1

    @property
    def output_name(self):
        """What an output is called in messages."""
        return "node" if self._mesh else "output port"

    def flow(self, delivery):
        """The flow a delivery belongs to (see the module documentation)."""
        return (delivery.src, delivery.dest) if self._mesh else delivery.src

    def compare(self, expected, actual):
        """:func:`compare` with this network's flows and output names."""
        return compare(expected, actual, flow=self.flow, what=self.output_name)

    def route(self, node, dest):
        """Mask of the output ports the router of ``node`` sends a packet for ``dest`` to (0: dropped)."""
        p = self._p
        if p.uses_table:
            entry = p.routes.match(node, dest)
            route = entry.route if entry is not None else p.default_route if p.miss == "default" else 0
            return route & p.links(node) if self._mesh else route
        x, y = p.position(node) if self._mesh else (p.x, p.y)
        dx, dy = dest
        if not (dx < p.width and dy < p.height):
            return 0
        if dx != x:
            return 1 << (EAST if dx > x else WEST)
        if dy != y:
            return 1 << (SOUTH if dy > y else NORTH)
        return 1 << LOCAL

    def reach(self, dest, src=0):
        """The outputs (sorted) that a packet for ``dest`` injected at ``src`` is delivered to."""
        traffic = self.run([Packet(t=0, src=src, dest=dest, payload=0)])
        return sorted(node for node, rows in traffic.delivered.items() if rows)

    def run(self, packets):
        """Route every packet; return the :class:`Traffic`.

        Raises
        ------
        RoutingLoopError
            If the mesh's routing tables send a packet around a loop.
        """
        p = self._p
        forwarded = np.zeros((self.routers, p.ports), dtype=np.int64)
        dropped = np.zeros((self.routers, p.ports), dtype=np.int64)
        delivered = {node: [] for node in range(self.outputs)}
        packets = sorted(packets, key=lambda packet: packet.t)
        self.check_loops(packets)
        for packet in packets:
            if self._mesh:
                self._trace_mesh(packet, delivered, forwarded, dropped)
            else:
                route = self.route(0, packet.dest)
                if not route:
                    dropped[0, packet.src] += 1
                for port in range(p.ports):
                    if route >> port & 1:
                        forwarded[0, port] += 1
                        delivered[port].append(self._delivery(packet, port, routers=1))
        top = p.counter_max
        return Traffic(delivered=delivered, forwarded=np.minimum(forwarded, top), dropped=np.minimum(dropped, top))

    def check_loops(self, packets):
        """Raise :class:`RoutingLoopError` for the first of ``packets`` that the mesh's tables send around a
        loop (a standalone router has none)."""
        checked = set()
        for packet in packets if self._mesh else ():
            if (packet.src, packet.dest) not in checked:
                self._check_loop(packet)
                checked.add((packet.src, packet.dest))

    def _next_nodes(self, node, dest):
        """The neighbours the router of ``node`` sends a packet for ``dest`` to."""
        route = self.route(node, dest)
        return [self._p.neighbour(node, port) for port in range(MESH_PORTS) if port != LOCAL and route >> port & 1]

    def _check_loop(self, packet):
        """Raise :class:`RoutingLoopError` when a path of ``packet`` comes back to a node it went through (a
        depth-first search of the routers its key reaches; a router's route depends on the key only)."""
        path, done = [packet.src], set()
        pending = [iter(self._next_nodes(packet.src, packet.dest))]
        while pending:
            node = next(pending[-1], None)
            if node is None:
                done.add(path.pop())
                pending.pop()
            elif node in path:
                at = path[-1]
                raise RoutingLoopError(packet, at, node, self._p.routes.match(at, packet.dest))
            elif node not in done:
                path.append(node)
                pending.append(iter(self._next_nodes(node, packet.dest)))

    def _trace_mesh(self, packet, delivered, forwarded, dropped):
        p = self._p
        frontier = [(packet.src, LOCAL, 1)]     # (node, input port, routers traversed)
        visits = 0
        while frontier:
            node, in_port, routers = frontier.pop()
            visits += 1
            if visits > 4 * p.nodes * MESH_PORTS:
                raise ValueError(f"The routing tables send {describe_packet(packet.content)} around a loop")
            route = self.route(node, packet.dest)
            if p.uses_table:
                route &= MESH_TURNS[in_port]     # a turn XY paths never take is ignored
            if not route:
                dropped[node, in_port] += 1
            for port in range(MESH_PORTS):
                if not route >> port & 1:
                    continue
                forwarded[node, port] += 1
                if port == LOCAL:
                    delivered[node].append(self._delivery(packet, node, routers=routers))
                else:
                    frontier.append((p.neighbour(node, port), _OPPOSITE[port], routers + 1))

    def _delivery(self, packet, node, *, routers):
        return Delivery(t=packet.t + self._p.latency * routers, node=node, src=packet.src, dest=packet.dest,
                        payload=packet.payload, tag=packet.tag)


def compare(expected, actual, *, flow, what="output"):
    """Compare the deliveries of the model with those of the RTL, output by output.

    Parameters
    ----------
    expected, actual : dict
        Output -> list of :class:`Delivery` (or any objects with ``content`` and ``flow``), in arrival order.
    flow : callable
        The flow of a delivery, e.g. :meth:`AerModel.flow`.
    what : str
        What an output is called in messages ("node", "output port").

    Returns
    -------
    str or None
        None when every output delivered the same multiset and every flow kept its order; otherwise one
        sentence naming the first difference.
    """
    for node in sorted(set(expected) | set(actual)):
        want, got = expected.get(node, []), actual.get(node, [])
        want_count = collections.Counter(d.content for d in want)
        got_count = collections.Counter(d.content for d in got)
        for content, count in want_count.items():
            if got_count[content] < count:
                return (f"{what} {node}: {describe_packet(content)} was delivered {got_count[content]} "
                        f"time(s) by the RTL, {count} by the model")
        for content, count in got_count.items():
            if want_count[content] < count:
                return (f"{what} {node}: {describe_packet(content)} was delivered {count} time(s) by the RTL, "
                        f"{want_count[content]} by the model")
        want_flows, got_flows = collections.defaultdict(list), collections.defaultdict(list)
        for d in want:
            want_flows[flow(d)].append(d.content)
        for d in got:
            got_flows[flow(d)].append(d.content)
        for key, sequence in want_flows.items():
            if got_flows[key] != sequence:
                index = next(i for i, (a, b) in enumerate(zip(sequence, got_flows[key])) if a != b)
                return (f"{what} {node}: a flow is out of order at its packet {index}: the RTL delivered "
                        f"{describe_packet(got_flows[key][index])} where the model expects "
                        f"{describe_packet(sequence[index])}")
    return None
