"""The address-event router generator (see docs/aer.md).

``xy`` mode, per port: the XY route of an arriving packet is decided as it enters, a one-hot mask of output ports
(empty when the destination is off the mesh: dropped and counted in ``dropped`` of its input port). The packet
queues in the port's input buffer of ``fifo_depth`` packets: a head register in front of an
:class:`amaranth.lib.fifo.SyncFIFO` of the rest, which an arriving packet bypasses when both are empty. The head
register holds the packet and the mask of outputs it still owes a copy to, so the arbiters start from flip-flops.
A round-robin arbiter per output port picks, among the heads that owe it a copy, the first after the last winner,
and loads it into the output register. A packet accepted in cycle t is valid at its output in cycle t + 2; every
input and output moves one packet per cycle in steady state.

``table`` mode, ``lookups`` lanes, each with a lookup and a bus to the outputs; the linked inputs are dealt to the
lanes in turn (:func:`lane_groups`; ``lookups = 1``: one lane shared by every port, as SpiNNaker's router
looks up one packet at a time). Each cycle a lane takes one arriving packet of its inputs, round-robin, into that
input's buffer and looks its key up. The table is kept as a ternary match memory, which holds, for each slice of
the key and each value of that slice, the entries that value matches (the RAM-based TCAM of Jiang, "Scalable
ternary content addressable memory implementation using FPGAs", ANCS 2013): one read per slice and an AND give
every entry's match at once, with no comparator. A key of more than one slice is looked up so, in the lane's copy
of the match memories, and the next cycle the first match's route (or the miss route) is written beside the
packet. A key of one slice (``key_bits`` <= ``KEY_SLICE_BITS``, as a chip's keys are) has every answer worked out
ahead: a route memory per lane with the route of every key, so the lookup is one read of ``2 ** key_bits`` words
of ``ports`` bits, with no priority encoder per lane; after a WRITE a scan of the entries works every key's route
out again. An empty route drops the packet (counted at its input; it leaves the buffer unsent). A buffer
(:class:`_PacketQueue`) keeps its packets in block RAM, the head in the memory's read register, and their routes
in block RAM (``route_ram``) or flip-flops. Each cycle a lane
also moves one head of its inputs that owes a copy to a free output, round-robin, over its bus: every output of
the head's route that is free loads the copy into its output register (with several lanes, an output takes one of
the lanes offering it a copy, round-robin), and the head leaves when every output of its route has taken its copy.
A head waits only for the outputs of its own route and a lane moves only heads that can move, so the shared lanes
add no dependency between the ports (a lane that held a head until all its outputs were ready would, and
deadlocks a mesh). A write of an entry of a longer key rewrites its column of the match memories, one word per
cycle (``2 ** slice bits`` cycles, the configuration port busy); of a one-slice key, the scan takes one cycle per
entry read, at most ``2 ** key_bits * table_size``, and starts over at the next WRITE (a READ waits for it). No
packet is taken in while the memories are rewritten. A packet
accepted in cycle t is valid at its outputs in cycle t + 3 (``TABLE_LATENCY``); a lane takes in and moves one
packet per cycle (so an input with a lane of its own, like every output, one per cycle), the router ``lookups``
packets per cycle.

A mesh's table routers keep to the turns of XY paths (``turns``, :data:`~spikeforge.hdl.aer.params.MESH_TURNS`):
each input's route is masked by the outputs it may reach, as it is written beside the packet and again where the
head's copies are offered, so each output's lane arbiter and multiplexer only see the lanes whose inputs can reach
it (the other route bits are constants to the synthesis).

Both modes: nothing is lost or duplicated beyond the route, packets of one (input, output) pair keep their order,
and no input starves (every arbiter is round-robin). A multicast packet stays until every output of its route has
taken its copy.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .packet import CfgOp, cfg_layout, cfg_rsp_layout, packet_layout
from .params import EAST, LOCAL, NORTH, SOUTH, WEST, RouterParams, key_slices


__all__ = ["Router", "round_robin", "lane_groups"]


def _lowest(m, value, name):
    """A signal holding the lowest set bit of ``value`` (one-hot, or 0)."""
    width = len(value)
    result = Signal(width, name=name)
    seen = Const(0, 1)
    for i in range(width):
        m.d.comb += result[i].eq(value[i] & ~seen)
        seen = seen | value[i]
    return result


def _one_hot(grant, values):
    """The one of ``values`` (equally wide) that the one-hot ``grant`` selects; 0 when it selects none."""
    result = 0
    for j, value in enumerate(values):
        result = result | (value & grant[j].replicate(len(value)))
    return result


def _select(grant, values):
    """:func:`_one_hot`, for a result used only when ``grant`` selects one: a single value is taken as it is."""
    return values[0] if len(values) == 1 else _one_hot(grant, values)


def lane_groups(linked, lanes):
    """The inputs each of ``lanes`` lanes of a ``table`` router serves: the ``linked`` ports dealt in turn. (A
    dealing that paired the two links of a dimension and gave the local port a lane of its own balances a central
    mesh router's intake better, but lets injection outrun the links: a 4 x 4 mesh with three lanes per router
    saturated at 0.42 packets per node per cycle with it, 0.49 dealt in turn.)"""
    return [linked[k::lanes] for k in range(lanes)]


def _index(one_hot):
    """The index of the bit set in ``one_hot`` (0 when none is)."""
    bits = [[one_hot[i] for i in range(len(one_hot)) if i >> b & 1] for b in range((len(one_hot) - 1).bit_length())]
    return Cat(Cat(*ones).any() for ones in bits) if bits else Const(0, 1)


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
# the same cycle with the answer used (a queue reads only words written before; no key is looked up while its
# match memory is rewritten; the configuration port takes one command a cycle), so Yosys need not add the
# bypass logic that gives a block RAM Amaranth's read-before-write behaviour.
_NO_RW_CHECK = {"no_rw_check": 1}
_BLOCK_RAM = {"ram_style": "block", **_NO_RW_CHECK}


def _Undef(width):
    """An undefined initial value, for the ``init`` attribute of a register that a block RAM's read register
    replaces: given Amaranth's initial value (0), Yosys 0.23 (the iCE40 flow's) keeps an AND gate per bit of the
    block RAM's output and a flip-flop, to read 0 until the first read. Amaranth 0.5 has no public undefined
    value; this is the one its RTLIL back end writes for its own read ports' initial values."""
    from amaranth.back.rtlil import Undef
    return Undef(width)


class _ReadPort:
    """A synchronous read of a memory with ``no_rw_check``, built as an asynchronous read port and a register
    (``data``, loaded when ``en``). Yosys merges the register into the block RAM (memory_dff), and only that merge
    applies ``no_rw_check``: a synchronous read port of Amaranth's would get the read-before-write emulation (a
    register per bit) regardless. The register has no reset, as a block RAM's output has none."""

    def __init__(self, m, memory, name):
        port = memory.read_port(domain="comb")
        self.addr = port.addr
        self.en = Signal(name=f"{name}_en")
        self.data = Signal(memory.shape, name=f"{name}_data", reset_less=True,
                           attrs={"init": _Undef(Shape.cast(memory.shape).width)})
        with m.If(self.en):
            m.d.sync += self.data.eq(port.data)


class _PacketQueue(wiring.Component):
    """An input buffer of ``depth`` packets and their routes, decided by a lookup as each packet arrives: the
    packet is written in cycle t, its route in cycle t + 1, and the head is valid (with its route) from t + 2.
    Packets are in memory (block RAM) and the head is the memory's read register, no register of its own; the
    routes are in a memory of their own (block RAM with ``route_ram``, else flip-flops). After a pop the next packet
    is the head in the next cycle.

    Members
    -------
    w : In(stream.Signature(width))
        Packets in; ready while the buffer has room.
    route : In(route_bits)
        The route of the packet written in the previous cycle.
    r : Out(stream.Signature(width))
        The head; a transfer pops it.
    r_route : Out(route_bits)
        The head's route.
    held : Out(1)
        A packet is in the buffer.
    """

    def __init__(self, width, route_bits, depth, route_ram=True):
        self._width, self._depth, self._route_ram = width, depth, route_ram
        super().__init__({"w": In(stream.Signature(width)), "route": In(route_bits),
                          "r": Out(stream.Signature(width)), "r_route": Out(route_bits), "held": Out(1)})

    def elaborate(self, platform):
        m = Module()
        depth, w, r = self._depth, self.w, self.r
        # A buffer of one packet is a register (Yosys maps a memory of one word to flip-flops).
        attrs = _BLOCK_RAM if depth > 1 else _NO_RW_CHECK
        storage = m.submodules.storage = Memory(shape=self._width, depth=depth, init=[], attrs=attrs)
        routes = m.submodules.routes = Memory(shape=len(self.route), depth=depth, init=[],
                                              attrs=attrs if self._route_ram else _NO_RW_CHECK)
        write, read = storage.write_port(), _ReadPort(m, storage, "head")
        route_write, route_read = routes.write_port(), _ReadPort(m, routes, "head_route")
        count = Signal(range(depth + 1))          # packets in the buffer, the head included
        head = Signal(range(depth))               # address of the head (or of the next packet to read)
        tail = Signal(range(depth))               # address the next packet is written to
        last = Signal(range(depth))               # address of the packet written in the previous cycle
        written = Signal()                        # a packet was written in the previous cycle
        # The route written in this cycle, of the packet written in the previous one, is also kept here for a
        # read of that packet in this cycle (the memory's read register would hold the word's former value).
        through = Signal(len(self.route), reset_less=True)
        bypass = Signal()                         # the head's route is ``through``
        wrap = (1 << len(head)) == depth          # the addresses wrap by themselves
        full = count[-1] if depth & (depth - 1) == 0 else count == depth
        accept = w.valid & w.ready
        pop = r.valid & r.ready
        m.d.comb += [
            w.ready.eq(~full), self.held.eq(count != 0),
            write.addr.eq(tail), write.data.eq(w.payload), write.en.eq(accept),
            route_write.addr.eq(last), route_write.data.eq(self.route), route_write.en.eq(written),
            r.payload.eq(read.data), self.r_route.eq(Mux(bypass, through, route_read.data)),
            read.addr.eq(head), route_read.addr.eq(read.addr), route_read.en.eq(read.en),
        ]
        m.d.sync += [written.eq(accept), last.eq(tail), count.eq(count + accept - pop)]
        with m.If(accept):
            m.d.sync += tail.eq(tail + 1 if wrap else Mux(tail == depth - 1, 0, tail + 1))
        with m.If(read.en):
            m.d.sync += [through.eq(self.route), bypass.eq(written & (read.addr == last))]
        # ``count`` does not include a packet written in this cycle, so every packet read here is in memory, and its
        # route too (the route written in this cycle, of the packet written in the previous one, through ``through``).
        with m.If(pop):
            following = head + 1 if wrap else Mux(head == depth - 1, 0, head + 1)
            m.d.comb += [read.addr.eq(following), read.en.eq(1)]
            m.d.sync += [head.eq(following), r.valid.eq(count > 1)]
        with m.Elif(~r.valid):
            m.d.comb += read.en.eq(1)
            m.d.sync += r.valid.eq(count != 0)
        return m


class _SaturatingCounter(wiring.Component):
    """Counts the cycles with ``event``, saturating at all ones: the incrementer's carry out says the counter is
    full, so no comparator is needed."""

    def __init__(self, bits):
        super().__init__({"event": In(1), "count": Out(bits)})

    def elaborate(self, platform):
        m = Module()
        step = Signal(len(self.count) + 1)
        m.d.comb += step.eq(self.count + 1)
        with m.If(self.event & ~step[-1]):
            m.d.sync += self.count.eq(step)
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
    turns : dict or None
        ``table`` mode: input port -> mask of the output ports a packet arriving there may leave by (a mesh's
        routers: :data:`~spikeforge.hdl.aer.params.MESH_TURNS`); route bits outside it are ignored, and a packet
        left with no route is dropped. Each output's arbiter and multiplexer only serve the inputs that may reach
        it. None: every input may reach every output. ``xy`` mode: ignored (its routes are XY by construction).

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
    dropping : Out(ports)
        The input ports whose packet is dropped in this cycle (the events ``dropped`` counts; a chip sums them
        over its routers).
    idle : Out(1)
        No packet is held anywhere in the router (for a chip's quiescence detection).
    cfg : In(stream.Signature(cfg_layout))
        ``table`` mode only: reads and writes of table entries, accepted one at a time (a key of several slices:
        a WRITE keeps the port busy while the entry's column of the match memories is rewritten; a key of one
        slice: WRITEs are taken back to back and a READ waits for the scan of the entries they started).
    cfg_rsp : Out(stream.Signature(cfg_rsp_layout))
        ``table`` mode only: one answer per READ.
    bad_config : Out(counter_bits)
        ``table`` mode only: saturating count of commands whose index is beyond ``table_size`` (ignored; a read
        of them answers 0).
    """

    def __init__(self, params, *, links=None, turns=None):
        if not isinstance(params, RouterParams):
            raise TypeError(f"params must be a RouterParams, not {params!r}")
        all_ports = (1 << params.ports) - 1
        if links is None:
            links = all_ports
        if not isinstance(links, int) or not 0 <= links <= all_ports:
            raise ValueError(f"links must be a mask of the {params.ports} ports (0..{all_ports}), not {links!r}")
        if turns is None:
            turns = {i: all_ports for i in range(params.ports)}
        if (not isinstance(turns, dict) or set(turns) != set(range(params.ports))
                or not all(isinstance(t, int) and 0 <= t <= all_ports for t in turns.values())):
            raise ValueError(f"turns must map each of the {params.ports} input ports to a mask of output ports, "
                             f"not {turns!r}")
        self._p = params
        self._links = links
        self._turns = dict(turns)
        self.packet_layout = packet_layout(params.packet)
        members = {
            "inputs": In(stream.Signature(self.packet_layout)).array(params.ports),
            "outputs": Out(stream.Signature(self.packet_layout)).array(params.ports),
            "forwarded": Out(params.counter_bits).array(params.ports),
            "dropped": Out(params.counter_bits).array(params.ports),
            "dropping": Out(params.ports),
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
        """Count ``event`` in ``counter`` (a member), by a :class:`_SaturatingCounter` named after it; nothing when
        the counters have 0 bits."""
        if not len(counter):
            return
        counting = m.submodules[f"{counter.name}_counter"] = _SaturatingCounter(len(counter))
        m.d.comb += [counting.event.eq(event), counter.eq(counting.count)]

    def _drop(self, m, port, event):
        """Input ``port`` drops a packet when ``event``: flagged in ``dropping`` and counted in ``dropped``."""
        m.d.comb += self.dropping[port].eq(event)
        self._count(m, self.dropped[port], event)

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

    def _configuration(self, m, slices, lanes):
        """The configuration port, the entries it reads back and the memories the lookups read, rewritten by a
        sweep over the key values after each WRITE. Returns (what each lane looks up in: its route memory for a
        key of one slice, :meth:`_route_memories`; its copy of the match memories and the route registers for a
        longer key, :meth:`_match_memories`; busy: a sweep is under way)."""
        p = self._p
        entry_layout = self.cfg_rsp_layout
        entries = m.submodules.entries = Memory(shape=entry_layout, depth=p.table_size, init=[],
                                                attrs=self._ram_attrs)
        entry_write, entry_read = entries.write_port(), _ReadPort(m, entries, "entry")

        rsp_valid = Signal()
        rsp_zero = Signal()                      # the answer to a READ beyond the table is 0
        cmd = self.cfg.payload
        in_range = cmd.index < p.table_size
        busy = Signal()
        # A key of one slice: a WRITE starts the scan of the entries over, so WRITEs are taken while it runs; a READ
        # waits for it (its answer says every WRITE before it is in effect, and the scan has the read port). A
        # longer key: the sweep of a WRITE's column holds the port.
        held = busy if len(slices) > 1 else busy & (cmd.op == CfgOp.READ)
        m.d.comb += [
            self.cfg.ready.eq(~rsp_valid & ~held),
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
        write = Signal()
        m.d.comb += write.eq(accept & in_range & (cmd.op == CfgOp.WRITE))
        with m.If(write):
            m.d.comb += entry_write.en.eq(1)
        with m.If(accept & (cmd.op == CfgOp.READ)):
            m.d.comb += entry_read.en.eq(in_range)
            m.d.sync += [rsp_valid.eq(1), rsp_zero.eq(~in_range)]
        if len(slices) == 1:
            lookup = self._route_memories(m, slices[0][1], lanes, write, entry_read, busy)
        else:
            routes = [Signal(p.ports, name=f"route{e}") for e in range(p.table_size)]
            for e, route in enumerate(routes):
                with m.If(write & (cmd.index == e)):
                    m.d.sync += route.eq(cmd.route)
            lookup = [(self._match_memories(m, slices, write, cmd.index, entry_write.data, busy), routes)] * lanes
        return lookup, busy

    def _match_memories(self, m, slices, write, index, entry, busy):
        """A key of several slices: a match memory per slice, bit e of word v set when entry e matches a key whose
        slice is v; after a WRITE (``write``, of ``entry`` at ``index``) a sweep writes that entry's column, a word
        per cycle (``2 ** widest slice`` cycles, ``busy``)."""
        p = self._p
        sweep = Signal(max(width for _, width in slices))     # the slice value whose words are rewritten
        sweeping = Signal()
        column = Signal(range(p.table_size))                  # the entry written
        written = Signal(self.cfg_rsp_layout)
        with m.If(write):
            m.d.sync += [sweeping.eq(1), sweep.eq(0), column.eq(index), written.eq(entry)]
        with m.If(sweeping):
            m.d.sync += sweep.eq(sweep + 1)
            with m.If(sweep == (1 << len(sweep)) - 1):
                m.d.sync += sweeping.eq(0)

        def matches(value, lsb, width):
            """The written entry's bit of word ``value`` of slice (``lsb``, ``width``)'s match memory."""
            key, mask = written.key[lsb:lsb + width], written.mask[lsb:lsb + width]
            return ((value & mask) == key) & written.enable

        memories = []
        for s, (lsb, width) in enumerate(slices):
            memory = m.submodules[f"match{s}"] = Memory(shape=p.table_size, depth=1 << width, init=[],
                                                       attrs=_NO_RW_CHECK)
            write = memory.write_port(granularity=1)
            value = sweep[:width]
            m.d.comb += [
                write.addr.eq(value),
                write.data.eq(matches(value, lsb, width).replicate(p.table_size)),
                write.en.eq(Mux(sweeping, Const(1) << column, 0)),
            ]
            memories.append(memory)
        m.d.comb += busy.eq(sweeping)
        return memories

    def _route_memories(self, m, width, lanes, write, entry_read, busy):
        """A key of one slice: a route memory per lane holds the route of every key (word v: the route of the first
        entry that key v matches, or the miss route), so a lookup is one read. After a WRITE (``write``) a scan
        works the route of every key out again from the entries memory, one entry read per cycle: for key v,
        entries 0, 1, ... are read until one matches v or the last is read, and the route is written to word v of
        every route memory; the reads run back to back (the next entry's address is decided from the word read,
        the first of the next key's read as the last of this one is checked). So the scan takes at most
        ``2 ** width * table_size`` cycles, one per entry read, fewer when keys match early entries (``busy``: no
        packet is taken in meanwhile). A WRITE during the scan starts it over (no READ is taken meanwhile: the
        entries' read port is the scan's). Returns the route memories."""
        p = self._p
        last_entry = p.table_size - 1
        scanning = Signal()
        value = Signal(width, name="scan_key")                  # the key whose route is looked for
        entry = Signal(range(p.table_size), name="scan_entry")  # the entry in ``entry_read.data``
        have = Signal(name="scan_have")                         # ``entry_read.data`` holds entry ``entry``
        word = entry_read.data
        hit = Signal(name="scan_hit")
        done = Signal(name="scan_done")                         # key ``value``'s route is known
        route = Signal(p.ports, name="scan_route")
        m.d.comb += [
            hit.eq(have & word.enable & ((value & word.mask) == word.key)),
            done.eq(~write & (hit | (have & (entry == last_entry)))),
            route.eq(Mux(hit, word.route & self._links, self._miss_route)),
            busy.eq(scanning),
        ]
        with m.If(write):
            m.d.sync += [scanning.eq(1), value.eq(0), have.eq(0)]
        with m.Elif(scanning):
            following = Signal(range(p.table_size), name="scan_next")
            m.d.comb += [following.eq(Mux(have & ~done, entry + 1, 0)),
                         entry_read.addr.eq(following), entry_read.en.eq(1)]
            m.d.sync += [entry.eq(following), have.eq(1)]
            with m.If(done):
                m.d.sync += value.eq(value + 1)
                with m.If(value == (1 << width) - 1):
                    m.d.sync += [scanning.eq(0), have.eq(0)]
        memories = []
        for k in range(lanes):
            memory = m.submodules[f"lane{k}_routes"] = Memory(shape=p.ports, depth=1 << width,
                                                             init=[self._miss_route] * (1 << width),
                                                             attrs=self._ram_attrs)
            port = memory.write_port()
            m.d.comb += [port.addr.eq(value), port.data.eq(route), port.en.eq(done)]
            memories.append(memory)
        return memories

    @property
    def _ram_attrs(self):
        """The attributes of the table's memories that a lane reads (the route memories) and of the entries: block
        RAM with ``route_ram`` (on the ECP5 LUT RAM would cost logic cells), else Yosys' choice."""
        return _BLOCK_RAM if self._p.route_ram else _NO_RW_CHECK

    @property
    def _miss_route(self):
        """The route of a key no entry matches, restricted to the linked ports."""
        return (self._p.default_route if self._p.miss == "default" else 0) & self._links

    def _first_route(self, m, match, routes, name):
        """The route of the first entry set in ``match`` (a mask of the matching entries), or the miss route;
        restricted to the linked ports."""
        first = _lowest(m, match, f"{name}_first")
        route = Signal(self._p.ports, name=f"{name}_route")
        m.d.comb += route.eq(Mux(match.any(), _one_hot(first, routes) & self._links, self._miss_route))
        return route

    def elaborate(self, platform):
        return self._elaborate_table() if self._p.uses_table else self._elaborate_xy()

    def _elaborate_table(self):
        p = self._p
        m = Module()
        N = p.ports
        slices = key_slices(p.key_bits)
        linked = [i for i in range(N) if self._links >> i & 1]
        lanes = min(p.lookups, len(linked))
        lookup, busy = self._configuration(m, slices, lanes)
        groups = lane_groups(linked, lanes)

        # Input buffers of the linked ports (the others never take a packet). ``sent`` is the mask of outputs that
        # have taken their copy of the head.
        queues, sent, heads = {}, {}, {}
        for i in range(N):
            if i not in linked:
                m.d.comb += self.inputs[i].ready.eq(0)
                continue
            queues[i] = m.submodules[f"buffer{i}"] = _PacketQueue(self.packet_layout.size, N, p.fifo_depth,
                                                                        p.route_ram)
            sent[i] = Signal(N, name=f"sent{i}")
            heads[i] = Signal(self.packet_layout, name=f"head{i}")
            m.d.comb += heads[i].eq(queues[i].r.payload)

        # Output registers: loaded from a lane's bus when empty or emptied in this cycle.
        free = Signal(N)
        m.d.comb += free.eq(Cat((~self.outputs[o].valid | self.outputs[o].ready) if o in linked else 0
                                for o in range(N)))

        # Each lane serves a group of inputs with its own lookup (a copy of the match memories) and its own bus to
        # the outputs. Per cycle a lane takes one arriving packet into its buffer and looks its key up, and moves
        # one head that owes a free output a copy, each chosen round-robin.
        looking, offers, taking = [], [], []
        for k, group in enumerate(groups):
            arriving = Signal(len(group), name=f"lane{k}_arriving")
            m.d.comb += arriving.eq(Cat(self.inputs[i].valid & queues[i].w.ready & ~busy for i in group))
            pointer = Signal(len(group), name=f"lane{k}_lookup_pointer", init=(1 << len(group)) - 1)
            grant, after = round_robin(m, arriving, pointer, f"lane{k}_lookup")
            with m.If(arriving.any()):
                m.d.sync += pointer.eq(after)
            for j, i in enumerate(group):
                port, queue = self.inputs[i], queues[i]
                m.d.comb += [queue.w.payload.eq(port.payload), queue.w.valid.eq(port.valid & grant[j]),
                             port.ready.eq(queue.w.ready & grant[j])]
            key = Signal(p.key_bits, name=f"lane{k}_key")
            m.d.comb += key.eq(_select(grant, [self.inputs[i].payload.key for i in group]))
            route = self._look_up(m, lookup[k], key, slices, f"lane{k}")
            looked = Signal(len(group), name=f"lane{k}_looked")     # the input whose packet was looked up
            m.d.sync += looked.eq(grant)
            looking.append(looked.any())
            for j, i in enumerate(group):
                kept = Signal(N, name=f"route{i}")     # the route within the turns of input i
                m.d.comb += [kept.eq(route & self._turns[i]), queues[i].route.eq(kept)]
                self._drop(m, i, looked[j] & ~kept.any())

            owes = {i: Signal(N, name=f"owes{i}") for i in group}   # outputs the head still owes a copy to
            for i in group:
                # Masked by the turns again, so the outputs an input cannot reach are constants to the synthesis.
                m.d.comb += owes[i].eq(Mux(queues[i].r.valid, queues[i].r_route & self._turns[i] & ~sent[i], 0))
            ready = Signal(len(group), name=f"lane{k}_move_requests")
            m.d.comb += ready.eq(Cat((owes[i] & free).any() for i in group))
            pointer = Signal(len(group), name=f"lane{k}_move_pointer", init=(1 << len(group)) - 1)
            move, after = round_robin(m, ready, pointer, f"lane{k}_move")
            with m.If(ready.any()):
                m.d.sync += pointer.eq(after)
            bus = Signal(self.packet_layout.size, name=f"lane{k}_bus")
            offer = Signal(N, name=f"lane{k}_offer")       # the free outputs the moving head owes a copy to
            m.d.comb += [bus.eq(_select(move, [heads[i].as_value() for i in group])),
                         offer.eq(_one_hot(move, [owes[i] for i in group]) & free)]
            taken = Signal(N, name=f"lane{k}_taken")       # the outputs that load the moving head's copy
            offers.append((bus, offer))
            taking.append(taken)
            for j, i in enumerate(group):
                left = Signal(N, name=f"left{i}")
                m.d.comb += left.eq(owes[i] & ~Mux(move[j], taken, 0))
                with m.If(queues[i].r.valid & ~left.any()):
                    # The last copy leaves (or there was none: a dropped packet): the next packet moves up.
                    m.d.comb += queues[i].r.ready.eq(1)
                    m.d.sync += sent[i].eq(0)
                with m.Elif(move[j]):
                    m.d.sync += sent[i].eq(sent[i] | taken)

        # Outputs: with several lanes, a round-robin arbiter over the lanes offering the output a copy.
        for o in linked:
            port = self.outputs[o]
            requests = Signal(lanes, name=f"out{o}_requests")
            m.d.comb += requests.eq(Cat(offer[o] for _, offer in offers))
            if lanes > 1:
                pointer = Signal(lanes, name=f"out{o}_pointer", init=(1 << lanes) - 1)
                grant, after = round_robin(m, requests, pointer, f"out{o}")
                with m.If(requests.any()):
                    m.d.sync += pointer.eq(after)
            else:
                grant = requests
            for k, taken in enumerate(taking):
                m.d.comb += taken[o].eq(grant[k])
            with m.If(requests.any()):
                chain = offers[lanes - 1][0]
                for k in reversed(range(lanes - 1)):
                    chain = Mux(grant[k], offers[k][0], chain)
                m.d.sync += [port.valid.eq(1), port.payload.eq(chain)]
            with m.Elif(port.ready):
                m.d.sync += port.valid.eq(0)
            self._count(m, self.forwarded[o], port.valid & port.ready)

        # Idle: no packet in a buffer, a lookup or an output register.
        held = [q.held for q in queues.values()] + looking + [self.outputs[o].valid for o in linked]
        m.d.comb += self.idle.eq(~Cat(*held).any())
        return m

    def _look_up(self, m, lookup, key, slices, name):
        """The route of ``key``, one cycle after it: a read of the lane's route memory (``lookup``, one slice), or
        the first route of the entries every slice's match memory (``lookup``: the memories and the route
        registers) says ``key`` matches."""
        if len(slices) == 1:
            port = _ReadPort(m, lookup, f"{name}_routes")
            m.d.comb += [port.addr.eq(key), port.en.eq(1)]
            return port.data
        memories, routes = lookup
        every = None
        for s, (memory, (lsb, width)) in enumerate(zip(memories, slices)):
            port = _ReadPort(m, memory, f"{name}_match{s}")
            m.d.comb += [port.addr.eq(key[lsb:lsb + width]), port.en.eq(1)]
            every = port.data if every is None else every & port.data
        match = Signal(self._p.table_size, name=f"{name}_match")
        m.d.comb += match.eq(every)
        return self._first_route(m, match, routes, name)

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
            self._drop(m, i, port.valid & port.ready & ~route.any())
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
