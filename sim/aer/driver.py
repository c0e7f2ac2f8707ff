"""Cycle-by-cycle traffic driver of a router or mesh, independent of the simulator.

A simulator adapter (the cocotb bench, the Amaranth pysim tests) calls, every cycle, :meth:`NetworkDriver.drive`
to learn what to put on the input streams and the output ``ready`` lines, and, after sampling the settled
handshakes, :meth:`NetworkDriver.sample`. The driver injects each source's packets in order, none before its
cycle ``t``, with random idle cycles; it stalls every sink at random; it records each delivery with its cycle.
Pure Python, so both adapters share one engine.
"""

from __future__ import annotations

import collections
import random

from spikeforge.hdl.aer.params import MeshParams, bits_for

from .model import Delivery


__all__ = ["NetworkDriver", "Stuck", "config_commands", "packet_fields", "delivery_from_fields"]


class Stuck(AssertionError):
    """Nothing moved for too long while packets were still waiting: a deadlock or lost packets."""


def packet_fields(packet, routing):
    """The ``{field: value}`` of a :class:`~spikeforge.sim.aer.model.Packet` in a payload layout."""
    fields = {"src": packet.src, "payload": packet.payload}
    if routing == "xy":
        fields["dest.x"], fields["dest.y"] = packet.dest
    else:
        fields["key"] = packet.dest
    if packet.tag:
        fields["tag"] = packet.tag
    return fields


def delivery_from_fields(fields, *, t, node, routing):
    """The :class:`~spikeforge.sim.aer.model.Delivery` of a payload unpacked at output ``node`` in cycle ``t``."""
    dest = (fields["dest.x"], fields["dest.y"]) if routing == "xy" else fields["key"]
    return Delivery(t=t, node=node, src=fields["src"], dest=dest, payload=fields["payload"],
                    tag=fields.get("tag", 0))


class NetworkDriver:
    """Sources on every input and sinks on every output of a network.

    Parameters
    ----------
    packets : list of Packet
        Packets to inject; ``packet.src`` is the input (mesh node or router port) that injects it. Each
        source sends its packets in the order of a stable sort on ``t``.
    layout : spikeforge.sim.harness.layout.Layout
        The packet payload layout.
    routing : str
        ``"xy"`` or ``"table"``.
    inputs, outputs : int
        Number of input and output streams.
    idle : float
        Probability that a source leaves a cycle idle before presenting its next packet.
    stall : float
        Probability that a sink holds ``ready`` low in a cycle.
    seed : int
        Seed of the idle and stall choices.

    Attributes
    ----------
    delivered : dict
        Output -> list of :class:`~spikeforge.sim.aer.model.Delivery`, in arrival order.
    injected : list of (int, Packet)
        (cycle accepted, packet), in acceptance order.
    """

    def __init__(self, packets, *, layout, routing, inputs, outputs, idle=0.0, stall=0.0, seed=0):
        for name, value in (("idle", idle), ("stall", stall)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be a probability in 0 <= p < 1, not {value!r}")
        self._layout = layout
        self._routing = routing
        self._idle = idle
        self._stall = stall
        self._rng = random.Random(seed)
        self._queues = [collections.deque() for _ in range(inputs)]
        for packet in sorted(packets, key=lambda packet: packet.t):
            if not 0 <= packet.src < inputs:
                raise ValueError(f"Packet source {packet.src} is not one of the {inputs} inputs")
            self._queues[packet.src].append(packet)
        self._presented = [None] * inputs            # the packet whose valid is high on each input
        self._ready = [False] * outputs
        self.delivered = {node: [] for node in range(outputs)}
        self.injected = []
        self.last_activity = 0

    @property
    def pending_sources(self):
        """Packets not yet accepted by the network."""
        return sum(len(q) for q in self._queues) + sum(p is not None for p in self._presented)

    @property
    def delivered_count(self):
        return sum(len(rows) for rows in self.delivered.values())

    def drive(self, cycle):
        """What to drive in ``cycle``: (payload bits or None per input, ready per output)."""
        for i, queue in enumerate(self._queues):
            if self._presented[i] is None and queue and queue[0].t <= cycle:
                if not (self._idle and self._rng.random() < self._idle):
                    self._presented[i] = queue.popleft()
                    self.last_activity = max(self.last_activity, cycle)
        self._ready = [not (self._stall and self._rng.random() < self._stall) for _ in self._ready]
        bits = [None if packet is None else self._layout.pack(packet_fields(packet, self._routing))
                for packet in self._presented]
        return bits, list(self._ready)

    def sample(self, cycle, accepted, beats):
        """Record ``cycle``'s handshakes.

        Parameters
        ----------
        accepted : list of bool
            Per input, whether the network's ``ready`` was high (meaningful where a packet was presented).
        beats : list of int or None
            Per output, the payload bits where ``valid`` was high (None where it was low).
        """
        for i, ready in enumerate(accepted):
            if ready and self._presented[i] is not None:
                self.injected.append((cycle, self._presented[i]))
                self._presented[i] = None
                self.last_activity = cycle
        for node, bits in enumerate(beats):
            if bits is not None and self._ready[node]:
                fields = self._layout.unpack(bits)
                self.delivered[node].append(delivery_from_fields(fields, t=cycle, node=node,
                                                                 routing=self._routing))
                self.last_activity = cycle

    def finished(self, cycle, expected, *, settle, quiet=1000):
        """Whether the run is over after ``cycle``: every packet was injected, ``expected`` deliveries arrived
        and nothing moved for ``settle`` cycles since (so late duplicates would have been seen).

        Raises
        ------
        Stuck
            If packets wait (to be injected or delivered) and nothing moved for ``quiet`` cycles.
        """
        pending = self.pending_sources
        delivered = self.delivered_count
        if pending == 0 and delivered >= expected:
            return cycle - self.last_activity >= settle
        presenting = any(packet is not None for packet in self._presented)
        if (presenting or pending == 0) and cycle - self.last_activity > quiet:
            raise Stuck(f"cycle {cycle}: nothing moved for {quiet} cycles with {pending} packet(s) not yet "
                        f"injected and {delivered} of {expected} delivered")
        return False


def config_commands(params):
    """The configuration-port session that loads ``params.routes`` into a router's or a mesh's tables and
    checks them, with the answers the port must give.

    Every entry is first written as an enabled catch-all (so a stale entry would misroute), then overwritten by
    the table's entry or disabled; every entry is read back; an index beyond ``table_size`` (and, in a mesh, a
    node beyond the last) is written and read, which the port refuses and counts.

    Returns
    -------
    (list of (dict, dict or None), int)
        Commands as ``{field: value}`` with the answer expected for each READ (None for a WRITE), and the
        number of refused commands ``bad_config`` must count.
    """
    mesh = isinstance(params, MeshParams)
    routers = params.nodes if mesh else 1
    everything = (1 << params.ports) - 1
    commands, refused = [], 0

    def command(op, node, index, enable=0, key=0, mask=0, route=0):
        fields = {"op": op, "index": index, "enable": enable, "key": key, "mask": mask, "route": route}
        if mesh:
            fields["node"] = node
        return fields

    for node in range(routers):
        entries = params.routes.node_entries(node)
        for index in range(params.table_size):
            commands.append((command("WRITE", node, index, 1, 0, 0, everything), None))
        for index in range(params.table_size):
            if index < len(entries):
                e = entries[index]
                commands.append((command("WRITE", node, index, 1, e.key, e.mask, e.route), None))
            else:
                commands.append((command("WRITE", node, index, 0, 0, 0, everything), None))
        for index in range(params.table_size):
            if index < len(entries):
                e = entries[index]
                answer = {"enable": 1, "key": e.key, "mask": e.mask, "route": e.route}
            else:
                answer = {"enable": 0, "key": 0, "mask": 0, "route": everything}
            commands.append((command("READ", node, index), answer))
    zero = {"enable": 0, "key": 0, "mask": 0, "route": 0}
    if params.table_size < 1 << params.index_bits:
        commands.append((command("WRITE", 0, params.table_size, 1, 0, 0, everything), None))
        commands.append((command("READ", 0, params.table_size), zero))
        refused += 2
    if mesh and params.nodes < 1 << bits_for(params.nodes):
        commands.append((command("WRITE", params.nodes, 0, 1, 0, 0, everything), None))
        commands.append((command("READ", params.nodes, 0), zero))
        refused += 2
    return commands, refused
