"""The address-event router generator.

Datapath of each of the P ports (see docs/aer.md):

- input: the route of an arriving packet is decided as it enters (XY on its destination, or the first matching
  entry of the key/mask table), a mask of output ports. A packet with an empty route is dropped and counted in
  ``dropped`` of its input port. The others queue in the port's input buffer of ``fifo_depth`` packets: a head
  register in front of an :class:`amaranth.lib.fifo.SyncFIFO` of the rest, which an arriving packet bypasses
  when both are empty. The head register holds the packet and the mask of outputs it still owes a copy to, so
  the arbiters start from flip-flops.
- output: a round-robin arbiter per output port picks, among the heads that still owe it a copy, the first after
  the last winner, and loads it into the output register. A multicast head stays until every output of its
  route has taken its copy (each output takes it once, as soon as it can), then the next packet moves up:
  nothing is lost or duplicated, and each (input, output) pair keeps its order.

Zero-load latency: a packet accepted at an input in cycle t is valid at the output in cycle t + 2, which is also
the per-hop latency of a mesh. With input buffers of depth 2 or more, every input and every output moves one
packet per cycle in steady state (a packet that arrives while the head is still waiting goes through the FIFO,
so a stream that starts behind a waiting packet loses one cycle once).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .packet import CfgOp, cfg_layout, cfg_rsp_layout, packet_layout
from .params import EAST, LOCAL, NORTH, SOUTH, WEST, RouterParams


__all__ = ["Router", "round_robin"]


def _lowest(m, value, name):
    """A signal holding the lowest set bit of ``value`` (one-hot, or 0)."""
    width = len(value)
    result = Signal(width, name=name)
    seen = Const(0, 1)
    for i in range(width):
        m.d.comb += result[i].eq(value[i] & ~seen)
        seen = seen | value[i]
    return result


def round_robin(m, requests, pointer, name):
    """Round-robin choice among ``requests``; return (one-hot grant, next pointer).

    ``pointer`` is a mask of the requesters that go first (those after the last winner); the next pointer is the
    mask of the requesters after this grant. Requesters are visited cyclically, so none starves.
    """
    width = len(requests)
    first = Signal(width, name=f"{name}_first")
    m.d.comb += first.eq(Mux((requests & pointer).any(), requests & pointer, requests))
    grant = _lowest(m, first, f"{name}_grant")
    after = Signal(width, name=f"{name}_after")
    for i in range(1, width):
        m.d.comb += after[i].eq(grant[:i].any())
    return grant, after


class Router(wiring.Component):
    """A router of ``params.ports`` input/output stream pairs.

    Parameters
    ----------
    params : RouterParams
        Validated parameters (see :class:`spikeforge.hdl.aer.params.RouterParams`).
    links : int or None
        ``table`` mode: mask of the output ports that lead somewhere (a mesh router at an edge); route bits of
        other ports are ignored. None: all ports.

    Members
    -------
    inputs : In(stream.Signature(packet_layout)).array(ports)
        Packets arriving on each port.
    outputs : Out(stream.Signature(packet_layout)).array(ports)
        Packets leaving on each port.
    forwarded : Out(counter_bits).array(ports)
        Saturating count of packets that left on each output port.
    dropped : Out(counter_bits).array(ports)
        Saturating count of packets dropped at each input port (no route).
    idle : Out(1)
        No packet is held anywhere in the router (for a chip's quiescence detection).
    cfg : In(stream.Signature(cfg_layout))
        ``table`` mode only: reads and writes of table entries, accepted one at a time.
    cfg_rsp : Out(stream.Signature(cfg_rsp_layout))
        ``table`` mode only: one answer per READ.
    bad_config : Out(counter_bits)
        ``table`` mode only: saturating count of commands whose index is beyond ``table_size`` (ignored; a read
        of them answers 0).
    """

    def __init__(self, params, *, links=None):
        if not isinstance(params, RouterParams):
            raise TypeError(f"params must be a RouterParams, not {params!r}")
        all_ports = (1 << params.ports) - 1
        if links is None:
            links = all_ports
        if not isinstance(links, int) or not 0 <= links <= all_ports:
            raise ValueError(f"links must be a mask of the {params.ports} ports (0..{all_ports}), not {links!r}")
        self._p = params
        self._links = links
        self.packet_layout = packet_layout(params.packet)
        members = {
            "inputs": In(stream.Signature(self.packet_layout)).array(params.ports),
            "outputs": Out(stream.Signature(self.packet_layout)).array(params.ports),
            "forwarded": Out(params.counter_bits).array(params.ports),
            "dropped": Out(params.counter_bits).array(params.ports),
            "idle": Out(1),
        }
        if params.uses_table:
            self.cfg_layout = cfg_layout(params)
            self.cfg_rsp_layout = cfg_rsp_layout(params)
            members.update({
                "cfg": In(stream.Signature(self.cfg_layout)),
                "cfg_rsp": Out(stream.Signature(self.cfg_rsp_layout)),
                "bad_config": Out(params.counter_bits),
            })
        super().__init__(members)

    @property
    def params(self):
        return self._p

    @property
    def links(self):
        return self._links

    def _count(self, m, counter, event):
        with m.If(event & (counter != self._p.counter_max)):
            m.d.sync += counter.eq(counter + 1)

    def _route_xy(self, m, packet, name):
        """One-hot output port of a packet under dimension-ordered XY routing; 0 when its destination is off
        the mesh."""
        p = self._p
        dest = packet.dest
        route = Signal(p.ports, name=name)
        with m.If((dest.x < p.width) & (dest.y < p.height)):
            with m.If(dest.x > p.x):
                m.d.comb += route.eq(1 << EAST)
            with m.Elif(dest.x < p.x):
                m.d.comb += route.eq(1 << WEST)
            with m.Elif(dest.y > p.y):
                m.d.comb += route.eq(1 << SOUTH)
            with m.Elif(dest.y < p.y):
                m.d.comb += route.eq(1 << NORTH)
            with m.Else():
                m.d.comb += route.eq(1 << LOCAL)
        return route

    def _route_table(self, m, packet, table, name):
        """Route mask of the first table entry matching the packet's key, or the miss route."""
        p = self._p
        match = Signal(p.table_size, name=f"{name}_match")
        m.d.comb += match.eq(Cat(entry.enable & ((packet.key & entry.mask) == entry.key) for entry in table))
        first = _lowest(m, match, f"{name}_first")
        hit = Signal(p.ports, name=f"{name}_hit")
        chosen = 0
        for e, entry in enumerate(table):
            chosen = chosen | (entry.route & first[e].replicate(p.ports))
        m.d.comb += hit.eq(chosen)
        miss_route = p.default_route if p.miss == "default" else 0
        route = Signal(p.ports, name=name)
        m.d.comb += route.eq(Mux(match.any(), hit, miss_route) & self._links)
        return route

    def _table(self, m):
        """The table registers and the configuration port that reads and writes them."""
        p = self._p
        entry_layout = self.cfg_rsp_layout
        table = [Signal(entry_layout, name=f"entry{e}") for e in range(p.table_size)]
        rsp_valid = Signal()
        rsp_data = Signal(entry_layout)
        cmd = self.cfg.payload
        in_range = cmd.index < p.table_size
        m.d.comb += [
            self.cfg.ready.eq(~rsp_valid),
            self.cfg_rsp.valid.eq(rsp_valid),
            self.cfg_rsp.payload.eq(rsp_data),
        ]
        with m.If(self.cfg_rsp.ready):
            m.d.sync += rsp_valid.eq(0)
        accept = self.cfg.valid & self.cfg.ready
        self._count(m, self.bad_config, accept & ~in_range)
        with m.If(accept):
            with m.If(cmd.op == CfgOp.WRITE):
                for e, entry in enumerate(table):
                    with m.If(cmd.index == e):
                        m.d.sync += [getattr(entry, name).eq(getattr(cmd, name)) for name, _ in entry_layout]
            with m.Else():
                m.d.sync += [rsp_valid.eq(1), rsp_data.eq(0)]
                for e, entry in enumerate(table):
                    with m.If(cmd.index == e):
                        m.d.sync += rsp_data.eq(entry)
        return table

    def elaborate(self, platform):
        p = self._p
        m = Module()
        N = p.ports
        pkt_bits = self.packet_layout.size
        table = self._table(m) if p.uses_table else None

        heads, owed, arrivals, routes, tails = [], [], [], [], []
        for i in range(N):
            port = self.inputs[i]
            if p.uses_table:
                route = self._route_table(m, port.payload, table, f"route{i}")
            else:
                route = self._route_xy(m, port.payload, f"route{i}")
            head = Signal(pkt_bits, name=f"head{i}")
            remaining = Signal(N, name=f"owed{i}")     # outputs the head still owes a copy to; 0: no head
            tail = None
            if p.fifo_depth > 1:
                tail = fifo.SyncFIFO(width=pkt_bits + N, depth=p.fifo_depth - 1)
                m.submodules[f"fifo{i}"] = tail
                m.d.comb += [port.ready.eq(tail.w_rdy), tail.w_data.eq(Cat(port.payload, route))]
            else:
                m.d.comb += port.ready.eq(~remaining.any())
            arriving = Signal(name=f"arriving{i}")
            m.d.comb += arriving.eq(port.valid & port.ready & route.any())
            self._count(m, self.dropped[i], port.valid & port.ready & ~route.any())
            heads.append(head)
            owed.append(remaining)
            arrivals.append(arriving)
            routes.append(route)
            tails.append(tail)

        takes = []                                         # takes[o]: one-hot input whose head o loads now
        for o in range(N):
            port = self.outputs[o]
            out_valid = Signal(name=f"out{o}_valid")
            out_data = Signal(pkt_bits, name=f"out{o}_data")
            pointer = Signal(N, name=f"out{o}_pointer", init=(1 << N) - 1)
            requests = Signal(N, name=f"out{o}_requests")
            m.d.comb += requests.eq(Cat(owed[i][o] for i in range(N)))
            grant, after = round_robin(m, requests, pointer, f"out{o}")
            load = Signal(name=f"out{o}_load")
            m.d.comb += load.eq(~out_valid | port.ready)
            take = Signal(N, name=f"out{o}_take")
            m.d.comb += take.eq(Mux(load, grant, 0))
            takes.append(take)
            chosen = 0
            for i in range(N):
                chosen = chosen | (heads[i] & grant[i].replicate(pkt_bits))
            with m.If(load):
                m.d.sync += [out_valid.eq(requests.any()), out_data.eq(chosen)]
                with m.If(requests.any()):
                    m.d.sync += pointer.eq(after)
            m.d.comb += [port.valid.eq(out_valid), port.payload.eq(out_data)]
            self._count(m, self.forwarded[o], port.valid & port.ready)

        for i in range(N):
            port, head, remaining, tail = self.inputs[i], heads[i], owed[i], tails[i]
            taken = Signal(N, name=f"taken{i}")
            m.d.comb += taken.eq(Cat(takes[o][i] for o in range(N)))
            left = Signal(N, name=f"left{i}")
            m.d.comb += left.eq(remaining & ~taken)
            # An arriving packet goes straight to the head register when the buffer is empty, else to the FIFO.
            # The choice depends on flip-flops only, so the FIFO's write enable stays off the arbitration path.
            bypass = Signal(name=f"bypass{i}")
            m.d.comb += bypass.eq(~remaining.any() & (~tail.r_rdy if tail is not None else 1))
            if tail is not None:
                m.d.comb += tail.w_en.eq(arrivals[i] & ~bypass)
            # The head register is free (empty, or its last copy leaves now): the next packet moves up.
            with m.If(~left.any()):
                if tail is not None:
                    with m.If(tail.r_rdy):
                        m.d.comb += tail.r_en.eq(1)
                        m.d.sync += [head.eq(tail.r_data[:pkt_bits]), remaining.eq(tail.r_data[pkt_bits:])]
                    with m.Elif(arrivals[i] & bypass):
                        m.d.sync += [head.eq(port.payload), remaining.eq(routes[i])]
                    with m.Else():
                        m.d.sync += remaining.eq(0)
                else:
                    with m.If(arrivals[i]):
                        m.d.sync += [head.eq(port.payload), remaining.eq(routes[i])]
                    with m.Else():
                        m.d.sync += remaining.eq(0)
            with m.Else():
                m.d.sync += remaining.eq(left)
        # Idle: no packet in any head register, buffer or output register.
        held = [r.any() for r in owed] + [t.r_rdy for t in tails if t is not None]
        held += [self.outputs[o].valid for o in range(N)]
        m.d.comb += self.idle.eq(~Cat(*held).any())
        return m
