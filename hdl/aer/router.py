"""The address-event router generator (see docs/aer.md).

``xy`` mode, per port: the XY route of an arriving packet is decided as it enters, a one-hot mask of output ports
(empty when the destination is off the mesh: dropped and counted in ``dropped`` of its input port). The packet
queues in the port's input buffer of ``fifo_depth`` packets: a head register in front of an
:class:`amaranth.lib.fifo.SyncFIFO` of the rest, which an arriving packet bypasses when both are empty. The head
register holds the packet and the mask of outputs it still owes a copy to, so the arbiters start from flip-flops.
A round-robin arbiter per output port picks, among the heads that owe it a copy, the first after the last winner,
and loads it into the output register. A packet accepted in cycle t is valid at its output in cycle t + 2; every
input and output moves one packet per cycle in steady state.

``table`` mode, one lookup shared by the ports (SpiNNaker's router also looks up one packet at a time): each
linked input has a buffer of ``fifo_depth`` packets in memory (:class:`amaranth.lib.fifo.SyncFIFOBuffered`, its
output register the head). A round-robin arbiter picks one head per cycle that has no route yet and looks its key
up in a ternary match memory, which holds, for each slice of the key and each value of that slice, the entries
that value matches (the RAM-based TCAM of Jiang, "Scalable ternary content addressable memory implementation
using FPGAs", ANCS 2013): one read per slice and an AND give every entry's match at once, with no comparator.
The next cycle the first match's route (or the miss route) becomes the mask of outputs the head owes a copy to,
and from there the outputs' round-robin arbiters serve the heads as in ``xy`` mode (without output registers).
Since only the lookup is shared and it never waits for an output, a head waits only for the outputs of its own
route, as in ``xy`` mode: the shared lookup adds no dependency between the ports (a holding register shared by
the ports would, and deadlocks a mesh). A write of an entry rewrites its column of the match memories, one word
per cycle (``2 ** slice bits`` cycles; the configuration port is busy and no lookup starts meanwhile). A packet
accepted in cycle t is valid at its outputs in cycle t + 4 (``TABLE_LATENCY``; t + 3 with ``fifo_depth = 1``,
whose buffer is a register); the router looks up one packet per cycle.

Both modes: nothing is lost or duplicated beyond the route, packets of one (input, output) pair keep their order,
and no input starves (every arbiter is round-robin). A multicast packet stays until every output of its route has
taken its copy.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .packet import CfgOp, cfg_layout, cfg_rsp_layout, packet_layout
from .params import EAST, LOCAL, NORTH, SOUTH, WEST, RouterParams, key_slices


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


# Yosys attributes of the table router's memories. ``no_rw_check``: none of them is read where it is written in
# the same cycle with the answer used (a buffer reads only words written before; a lookup is held off while its
# match memory is rewritten; the configuration port takes one command a cycle), so Yosys need not add the
# bypass logic that gives a block RAM Amaranth's read-before-write behaviour.
_NO_RW_CHECK = {"no_rw_check": 1}


class _PacketBuffer(fifo.SyncFIFOBuffered):
    """A :class:`~amaranth.lib.fifo.SyncFIFOBuffered` whose storage asks Yosys for block RAM
    (``ram_style = "block"``; left to itself, Yosys keeps a few packets in flip-flops, which on the iCE40 cost a
    logic cell per bit), without the read-during-write bypass."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        if self.depth > 1:                     # depth 1 is a register, no memory
            m.submodules.storage.attrs.update({"ram_style": "block", **_NO_RW_CHECK})
        return m


class Router(wiring.Component):
    """A router of ``params.ports`` input/output stream pairs.

    Parameters
    ----------
    params : RouterParams
        Validated parameters (see :class:`spikeforge.hdl.aer.params.RouterParams`).
    links : int or None
        ``table`` mode: mask of the ports that lead somewhere (a mesh router at an edge or corner): only those
        have an input buffer and an output, the others never take a packet, and route bits of them are ignored.
        None: all ports.

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
        ``table`` mode only: reads and writes of table entries, accepted one at a time (a WRITE keeps the port
        busy while the entry's column of the match memories is rewritten).
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

    def _configuration(self, m, slices):
        """The configuration port, the entries it reads back, the routes the lookup uses and the writes of the
        match memories. Returns (match memories' read ports, route registers, busy: a column is being
        rewritten)."""
        p = self._p
        entry_layout = self.cfg_rsp_layout
        entries = m.submodules.entries = Memory(shape=entry_layout, depth=p.table_size, init=[],
                                                attrs=_NO_RW_CHECK)
        entry_write, entry_read = entries.write_port(), entries.read_port()
        routes = [Signal(p.ports, name=f"route{e}") for e in range(p.table_size)]

        rsp_valid = Signal()
        rsp_zero = Signal()                      # the answer to a READ beyond the table is 0
        cmd = self.cfg.payload
        in_range = cmd.index < p.table_size
        # The rewrite of one entry's column: the entry, and the slice value written this cycle.
        sweep = Signal(max(width for _, width in slices))
        sweeping = Signal()
        column = Signal(range(p.table_size))
        written = Signal(entry_layout)
        m.d.comb += [
            self.cfg.ready.eq(~rsp_valid & ~sweeping),
            self.cfg_rsp.valid.eq(rsp_valid),
            self.cfg_rsp.payload.eq(Mux(rsp_zero, 0, entry_read.data)),
            entry_read.addr.eq(cmd.index),
            entry_write.addr.eq(cmd.index),
            entry_write.data.eq(Cat(getattr(cmd, name) for name, _ in entry_layout)),
        ]
        with m.If(self.cfg_rsp.ready):
            m.d.sync += rsp_valid.eq(0)
        accept = self.cfg.valid & self.cfg.ready
        self._count(m, self.bad_config, accept & ~in_range)
        with m.If(accept & in_range & (cmd.op == CfgOp.WRITE)):
            m.d.comb += entry_write.en.eq(1)
            m.d.sync += [sweeping.eq(1), sweep.eq(0), column.eq(cmd.index), written.eq(entry_write.data)]
            for e, route in enumerate(routes):
                with m.If(cmd.index == e):
                    m.d.sync += route.eq(cmd.route)
        with m.If(accept & (cmd.op == CfgOp.READ)):
            m.d.comb += entry_read.en.eq(in_range)
            m.d.sync += [rsp_valid.eq(1), rsp_zero.eq(~in_range)]

        # Bit ``column`` of word v of slice s's memory: the entry matches a key whose slice s is v.
        ports = []
        last = (1 << len(sweep)) - 1
        for s, (lsb, width) in enumerate(slices):
            memory = m.submodules[f"match{s}"] = Memory(shape=p.table_size, depth=1 << width, init=[],
                                                       attrs=_NO_RW_CHECK)
            write = memory.write_port(granularity=1)
            value = sweep[:width]
            key, mask = written.key[lsb:lsb + width], written.mask[lsb:lsb + width]
            m.d.comb += [
                write.addr.eq(value),
                write.data.eq(((value & mask) == key).replicate(p.table_size) & written.enable.replicate(
                    p.table_size)),
                write.en.eq(Mux(sweeping, Const(1) << column, 0)),
            ]
            ports.append(memory.read_port())
        with m.If(sweeping):
            m.d.sync += sweep.eq(sweep + 1)
            with m.If(sweep == last):
                m.d.sync += sweeping.eq(0)
        return ports, routes, sweeping

    def elaborate(self, platform):
        return self._elaborate_table() if self._p.uses_table else self._elaborate_xy()

    def _elaborate_table(self):
        p = self._p
        m = Module()
        N = p.ports
        pkt_bits = self.packet_layout.size
        slices = key_slices(p.key_bits)
        matches, routes, busy = self._configuration(m, slices)
        linked = [i for i in range(N) if self._links >> i & 1]

        # Input buffers of the linked ports (the others never take a packet). A buffer's head is its output
        # register; ``owed`` is the mask of outputs the head still owes a copy to once it has been looked up.
        buffers, owed, routed = {}, {}, {}
        for i in range(N):
            port = self.inputs[i]
            if i not in linked:
                m.d.comb += port.ready.eq(0)
                continue
            buffer = buffers[i] = m.submodules[f"buffer{i}"] = _PacketBuffer(width=pkt_bits, depth=p.fifo_depth)
            m.d.comb += [buffer.w_data.eq(port.payload), buffer.w_en.eq(port.valid), port.ready.eq(buffer.w_rdy)]
            owed[i] = Signal(N, name=f"owed{i}")
            routed[i] = Signal(name=f"routed{i}")

        # The shared lookup: one head that has no route yet per cycle, round-robin; its key goes to the match
        # memories, and the next cycle the first match's route becomes its ``owed`` mask.
        looked_valid = Signal()
        looked_input = Signal(N)
        requests = Signal(N)
        m.d.comb += requests.eq(Cat((buffers[i].r_rdy & ~routed[i] & ~(looked_valid & looked_input[i]) & ~busy)
                                    if i in buffers else 0 for i in range(N)))
        pointer = Signal(N, name="lookup_pointer", init=(1 << N) - 1)
        grant, after = round_robin(m, requests, pointer, "lookup")
        key = 0
        for i, buffer in buffers.items():
            key = key | (buffer.r_data & grant[i].replicate(pkt_bits))
        chosen = Signal(self.packet_layout)
        m.d.comb += chosen.eq(key)
        for port, (lsb, width) in zip(matches, slices):
            m.d.comb += [port.addr.eq(chosen.key[lsb:lsb + width]), port.en.eq(1)]
        m.d.sync += [looked_valid.eq(requests.any()), looked_input.eq(grant)]
        with m.If(requests.any()):
            m.d.sync += pointer.eq(after)

        # Every entry's match is the AND of its slices' bits; the first match wins.
        every = matches[0].data
        for port in matches[1:]:
            every = every & port.data
        match = Signal(p.table_size)
        m.d.comb += match.eq(every)
        first = _lowest(m, match, "first")
        hit = 0
        for e, route in enumerate(routes):
            hit = hit | (route & first[e].replicate(N))
        miss_route = p.default_route if p.miss == "default" else 0
        route = Signal(N)
        m.d.comb += route.eq(Mux(match.any(), hit, miss_route) & self._links)

        # Outputs: a round-robin arbiter over the heads that owe the output a copy (as in xy mode), no output
        # register: valid and the arbitration start from the ``owed`` flip-flops.
        taken = {i: Signal(N, name=f"taken{i}") for i in buffers}
        for o in range(N):
            port = self.outputs[o]
            if o not in linked:
                continue
            requests_o = Signal(N, name=f"out{o}_requests")
            m.d.comb += requests_o.eq(Cat(owed[i][o] if i in owed else 0 for i in range(N)))
            pointer_o = Signal(N, name=f"out{o}_pointer", init=(1 << N) - 1)
            grant_o, after_o = round_robin(m, requests_o, pointer_o, f"out{o}")
            payload = 0
            for i, buffer in buffers.items():
                payload = payload | (buffer.r_data & grant_o[i].replicate(pkt_bits))
                m.d.comb += taken[i][o].eq(grant_o[i] & port.ready)
            m.d.comb += [port.valid.eq(requests_o.any()), port.payload.eq(payload)]
            with m.If(port.valid & port.ready):
                m.d.sync += pointer_o.eq(after_o)
            self._count(m, self.forwarded[o], port.valid & port.ready)

        for i, buffer in buffers.items():
            looked = looked_valid & looked_input[i]
            left = Signal(N, name=f"left{i}")
            m.d.comb += left.eq(owed[i] & ~taken[i])
            self._count(m, self.dropped[i], looked & ~route.any())
            with m.If(looked):
                # Looked up: a packet with an empty route is dropped, the others owe their route.
                m.d.sync += [owed[i].eq(route), routed[i].eq(route.any())]
                m.d.comb += buffer.r_en.eq(~route.any())
            with m.Elif(routed[i]):
                m.d.sync += owed[i].eq(left)
                with m.If(~left.any()):
                    # The last copy leaves: the next packet moves up.
                    m.d.comb += buffer.r_en.eq(1)
                    m.d.sync += routed[i].eq(0)

        # Idle: no packet in a buffer (heads included) or the lookup stage.
        m.d.comb += self.idle.eq(~Cat(*(b.level.any() for b in buffers.values()), looked_valid).any())
        return m

    def _elaborate_xy(self):
        p = self._p
        m = Module()
        N = p.ports
        pkt_bits = self.packet_layout.size

        heads, owed, arrivals, routes, tails = [], [], [], [], []
        for i in range(N):
            port = self.inputs[i]
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
