"""A chip's tile: one LIF core between its router's local port and the chip's controller (docs/chip.md).

- Arriving packets pass the **input map**: every enabled entry whose ``key`` is the packet's and whose neuron
  range holds its payload ``n`` turns it into the event ``axon = base + n - first`` (a packet may match several
  entries: one event per cycle). A packet no entry matches is counted in ``unmapped`` and dropped: it never
  reaches a wrong axon.
- Every axon has one source, whose neurons spike at most once a step, so between two of its ticks a core
  receives at most one event per axon: the tile always takes what the mesh brings, and the mesh never waits on
  a core that is busy ticking.
- An inference core's events wait in a FIFO of ``axons`` entries and go in as they come; a tick from the
  controller goes to the core once every event the tile has taken is integrated, and while a tick is offered or
  running no event goes in, so spikes arriving meanwhile count in the core's next step. The order does not
  matter: the core's accumulator cannot overflow within a step.
- A learning core depresses its weights at every event and, with stochastic rounding, draws its rounding
  offsets in the order of its events, so its tile delivers them as the golden model takes them: in ascending
  axon order, at the step they belong to (:class:`PendingAxons`). Events arriving before the tick is offered
  are collected in a set; the offered tick moves the set to delivery, which hands it to the core lowest axon
  first, and then passes the tick on. Events arriving once the tick is offered (a recurrent connection's) are
  collected for the next step meanwhile.
- Spikes leave as packets with the tile's ``key`` (its source index) and the neuron as payload.
- ``idle`` is high when the tile holds no packet, no event the core has still to integrate before the next
  tick is offered (an inference core's FIFO) and no tick: with the routers' ``idle`` it is what the controller's
  quiescence detection reads. A learning core's collected events are not packets in flight: they wait for the
  tick, which the controller offers once the chip is quiet.
"""

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..aer.packet import packet_layout
from ..aer.params import bits_for
from ..lif_core.core import LifCore
from ..memory_roles import memory_attrs
from .packet_map import PacketMap, map_entry_layout
from .params import ChipCore, ChipParams


__all__ = ["Tile", "PendingAxons", "chip_entry_layout"]


WORD_BITS = 16       # the pending-axon bits a learning tile scans per cycle


def chip_entry_layout(chip):
    """A map entry of ``chip``'s input and output maps: indices wide enough for any core's axons and for the
    outputs."""
    index_bits = max([c.params.axon_bits for c in chip.cores] + [max(chip.output_count - 1, 0).bit_length(), 1])
    return map_entry_layout(key_bits=chip.key_bits, neuron_bits=chip.neuron_bits, index_bits=index_bits)


class PendingAxons(wiring.Component):
    """The axon events of a learning core's next tick, as a set of ``axons`` bits, delivered in ascending axon
    order.

    A memory of words of up to :data:`WORD_BITS` bits, in two banks: one collects the events that arrive (a
    write of the event's bit); ``start`` turns it into the bank delivered, which is read a word at a time, the
    word cleared and its set bits offered on ``events``, lowest first (a priority encoder), while the other bank
    collects the events arriving from then on for the next delivery. An axon has at most one event a step, so a
    set loses nothing. The memory is small (two bits per axon) and maps to flip-flops, LUT RAM or one block RAM;
    no read meets a write of its word (the delivery reads the other bank, the configuration's reads are made in
    cycles without a write, and a word is cleared after its read), so it is collision-free.

    Parameters
    ----------
    axons : int
        The core's axons (its :class:`~spikeforge.hdl.lif_core.params.LifParams`, which checks them).
    index_bits : int
        The width of arriving axon indices (the input map's).

    Members
    -------
    arrive : In(stream.Signature(index_bits))
        Arriving events, always taken; an axon the core does not have is dropped.
    start : In(1)
        Deliver the collected set (taken while no delivery runs).
    events : Out(stream.Signature(axon_bits))
        The delivered events, lowest axon first.
    busy : Out(1)
        A delivery is under way: from the cycle after ``start`` until the last word is delivered.
    cfg : In(data.StructLayout({"axon": axon_bits, "write": 1, "value": 1}))
        Configuration, while no delivery runs: ``write`` sets bit ``axon`` of the collected set to ``value``.
    pending : Out(1)
        Bit ``cfg.axon`` of the collected set, a cycle after ``cfg.axon`` is set (in a cycle without an arriving
        event or a configuration write: configuration is sent between steps).
    """

    def __init__(self, *, axons, index_bits):
        self._axons = axons
        self._word_bits = min(WORD_BITS, 1 << (axons - 1).bit_length())
        self._words = -(-axons // self._word_bits)
        axon_bits = bits_for(axons)
        super().__init__({
            "arrive": In(stream.Signature(index_bits)),
            "start": In(1),
            "events": Out(stream.Signature(axon_bits)),
            "busy": Out(1),
            "cfg": In(data.StructLayout({"axon": unsigned(axon_bits), "write": 1, "value": 1})),
            "pending": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        width, words = self._word_bits, self._words
        lane_bits = (width - 1).bit_length()           # an axon is Cat(its bit in the word, its word)
        word = Signal(range(words))                     # the word under delivery
        bank = Signal()                                 # the bank collecting; the other one is delivered
        m.submodules.sets = sets = Memory(shape=width, depth=2 << (words - 1).bit_length(), init=[],
                                          attrs=memory_attrs(collision_free=True))
        write = sets.write_port(granularity=1)
        read = sets.read_port()

        def address(axon_word, in_bank):
            return Cat(axon_word.as_unsigned()[:len(word)], in_bank)

        arrive = self.arrive.payload
        cfg_axon = self.cfg.axon
        clear = Signal()                                # the word just read is cleared in this cycle
        m.d.comb += [self.arrive.ready.eq(1), self.pending.eq(read.data.bit_select(cfg_axon[:lane_bits], 1))]
        with m.If(self.arrive.valid & (arrive < self._axons)):
            m.d.comb += [write.addr.eq(address(arrive[lane_bits:], bank)), write.data.eq(-1),
                         write.en.eq(Const(1, width) << arrive[:lane_bits])]
        with m.Elif(self.cfg.write):
            m.d.comb += [write.addr.eq(address(cfg_axon[lane_bits:], bank)), write.data.eq(-self.cfg.value),
                         write.en.eq(Const(1, width) << cfg_axon[:lane_bits])]
        with m.Else():
            m.d.comb += [clear.eq(1), write.addr.eq(address(word, ~bank)), write.data.eq(0)]

        # The delivery, word by word: read it, take it and clear it, offer its bits.
        bits = Signal(width)
        lowest = Signal(range(width))
        for i in reversed(range(width)):
            with m.If(bits[i]):
                m.d.comb += lowest.eq(i)
        m.d.comb += [self.events.payload.eq(Cat(lowest, word)), read.addr.eq(address(cfg_axon[lane_bits:], bank))]
        with m.FSM(name="deliver") as fsm:
            with m.State("IDLE"):
                m.d.comb += read.en.eq(write.en == 0)
                with m.If(self.start):
                    m.d.sync += [bank.eq(~bank), word.eq(0)]
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += read.addr.eq(address(word, ~bank))
                m.next = "TAKE"
            with m.State("TAKE"):
                m.d.comb += read.en.eq(0)
                m.d.sync += bits.eq(read.data)
                with m.If(clear):
                    m.d.comb += write.en.eq(-1)
                    m.next = "OFFER"
            with m.State("OFFER"):
                m.d.comb += [read.en.eq(0), self.events.valid.eq(bits != 0)]
                with m.If(self.events.valid & self.events.ready):
                    m.d.sync += bits.eq(bits & (bits - 1))
                with m.If(bits == 0):
                    m.next = "IDLE"
                    with m.If(word != words - 1):
                        m.d.sync += word.eq(word + 1)
                        m.next = "READ"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m


class Tile(wiring.Component):
    """The tile of ``core`` in ``chip``.

    Members
    -------
    packet_in : In(stream.Signature(packet_layout))
        From the router's local output.
    packet_out : Out(stream.Signature(packet_layout))
        To the router's local input: the core's spikes.
    tick : In(stream.Signature(1))
        From the controller; accepted when the core starts its tick.
    done : Out(1)
        One-cycle pulse when the core's tick is over and its last spike has left the core.
    idle : Out(1)
        The tile holds no packet, no event to integrate before a tick (an inference core's) and no tick.
    key : In(key_bits)
        The key of this core's spikes.
    map : In(chip_entry_layout).array(map_size)
        The input map.
    cfg, cfg_rsp
        The core's configuration port.
    unmapped : Out(16)
        Saturating count of packets no map entry took.
    pending_cfg, pending
        A learning core's only: the configuration of its tile's collected events (:class:`PendingAxons`).
    """

    def __init__(self, core, chip):
        if not isinstance(core, ChipCore) or not isinstance(chip, ChipParams):
            raise TypeError(f"A tile takes a ChipCore and its ChipParams, not {core!r}, {chip!r}")
        self._core = core
        self._chip = chip
        self.packet_layout = packet_layout(chip.mesh.packet)
        self.entry_layout = chip_entry_layout(chip)
        self.lif = LifCore(core.params, stdp=core.stdp)
        self.pending_axons = None
        members = {
            "packet_in": In(stream.Signature(self.packet_layout)),
            "packet_out": Out(stream.Signature(self.packet_layout)),
            "tick": In(stream.Signature(1)),
            "done": Out(1),
            "idle": Out(1),
            "key": In(chip.key_bits),
            "map": In(self.entry_layout).array(chip.map_size),
            "cfg": In(stream.Signature(self.lif.cfg_layout)),
            "cfg_rsp": Out(stream.Signature(self.lif.cfg_rsp_layout)),
            "unmapped": Out(16),
        }
        if core.stdp:
            self.pending_axons = PendingAxons(axons=core.params.axons, index_bits=self.entry_layout["base"].shape.width)
            members.update({"pending_cfg": In(self.pending_axons.cfg.shape()), "pending": Out(1)})
        super().__init__(members)

    @property
    def core(self):
        return self._core

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = lif = self.lif
        wiring.connect(m, wiring.flipped(self.cfg), lif.cfg)
        wiring.connect(m, lif.cfg_rsp, wiring.flipped(self.cfg_rsp))
        if "reward" in lif.signature.members:
            m.d.comb += lif.reward.valid.eq(0)
        m.submodules.map = input_map = PacketMap(self.packet_layout, self.entry_layout, self._chip.map_size)
        wiring.connect(m, wiring.flipped(self.packet_in), input_map.packet)
        m.d.comb += [
            [input_map.table[i].eq(self.map[i]) for i in range(self._chip.map_size)],
            self.unmapped.eq(input_map.unmapped),
            self.done.eq(lif.done),
        ]
        busy = self._deliver_sorted(m, input_map, lif) if self.pending_axons else self._deliver_fifo(m, input_map, lif)

        # Spikes out: one register in front of the router.
        out_valid = Signal()
        m.d.comb += [self.packet_out.valid.eq(out_valid), lif.spikes.ready.eq(~out_valid | self.packet_out.ready)]
        with m.If(self.packet_out.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(lif.spikes.valid & lif.spikes.ready):
            m.d.sync += [out_valid.eq(1), self.packet_out.payload.key.eq(self.key),
                         self.packet_out.payload.src.eq(self._core.node),
                         self.packet_out.payload.payload.eq(lif.spikes.payload.neuron)]
        m.d.comb += self.idle.eq(input_map.idle & ~out_valid & ~busy & ~self.tick.valid)
        return m

    def _deliver_fifo(self, m, input_map, lif):
        """An inference core's events through a FIFO, as they come, held back while a tick is offered or
        running; returns "an event waits or a tick runs"."""
        p = self._core.params
        m.submodules.events = events = fifo.SyncFIFOBuffered(width=p.axon_bits, depth=p.axons)
        ticking = Signal()
        m.d.comb += [
            events.w_data.eq(input_map.index.payload),
            events.w_en.eq(input_map.index.valid),
            input_map.index.ready.eq(events.w_rdy),
            lif.events.valid.eq(events.r_rdy & ~self.tick.valid & ~ticking),
            lif.events.payload.axon.eq(events.r_data),
            events.r_en.eq(lif.events.ready & ~self.tick.valid & ~ticking),
            lif.tick.valid.eq(self.tick.valid),
            self.tick.ready.eq(lif.tick.ready),
        ]
        with m.If(lif.tick.valid & lif.tick.ready):
            m.d.sync += ticking.eq(1)
        with m.If(lif.done):
            m.d.sync += ticking.eq(0)
        return (events.level != 0) | ticking

    def _deliver_sorted(self, m, input_map, lif):
        """A learning core's events collected in a :class:`PendingAxons` set and delivered in axon order when the
        tick is offered, then the tick; returns "a tick runs"."""
        m.submodules.pending = pending = self.pending_axons
        wiring.connect(m, input_map.index, pending.arrive)
        m.d.comb += [
            pending.cfg.eq(self.pending_cfg), self.pending.eq(pending.pending),
            lif.events.valid.eq(pending.events.valid), lif.events.payload.axon.eq(pending.events.payload),
            pending.events.ready.eq(lif.events.ready),
        ]
        with m.FSM(name="tick") as fsm:
            with m.State("COLLECT"):
                with m.If(self.tick.valid):
                    m.d.comb += pending.start.eq(1)
                    m.next = "DELIVER"
            with m.State("DELIVER"):
                m.d.comb += [lif.tick.valid.eq(~pending.busy), self.tick.ready.eq(~pending.busy & lif.tick.ready)]
                with m.If(~pending.busy & lif.tick.ready):
                    m.next = "TICK"
            with m.State("TICK"):
                with m.If(lif.done):
                    m.next = "COLLECT"
        return ~fsm.ongoing("COLLECT")
