"""A chip's tile: one LIF core between its router's local port and the chip's controller (docs/chip.md).

- Arriving packets pass the **input map**: every enabled entry whose ``key`` is the packet's and whose neuron
  range holds its payload ``n`` turns it into the event ``axon = base + n - first`` (a packet may match several
  entries: one event per cycle). A packet no entry matches is counted in ``unmapped`` and dropped: it never
  reaches a wrong axon.
- Events wait in a FIFO of ``axons`` entries, which holds every event a core can receive between two of its
  ticks (every axon has one source, whose neurons spike at most once a step), so the tile always takes what the
  mesh brings and the mesh never waits on a core that is busy ticking.
- A tick from the controller goes to the core once every event it has taken is integrated; while a tick is
  offered or running no event goes in, so spikes arriving meanwhile count in the core's next step.
- Spikes leave as packets with the tile's ``key`` (its source index) and the neuron as payload.
- ``idle`` is high when the tile holds no packet, no event and no tick: with the routers' ``idle`` it is what
  the controller's quiescence detection reads.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..aer.packet import packet_layout
from ..lif_core.core import LifCore
from .packet_map import PacketMap, map_entry_layout
from .params import ChipCore, ChipParams


__all__ = ["Tile", "chip_entry_layout"]


def chip_entry_layout(chip):
    """A map entry of ``chip``'s input and output maps: indices wide enough for any core's axons and for the
    outputs."""
    index_bits = max([c.params.axon_bits for c in chip.cores] + [max(chip.output_count - 1, 0).bit_length(), 1])
    return map_entry_layout(key_bits=chip.key_bits, neuron_bits=chip.neuron_bits, index_bits=index_bits)


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
        The tile holds no packet, event or tick.
    key : In(key_bits)
        The key of this core's spikes.
    map : In(chip_entry_layout).array(map_size)
        The input map.
    cfg, cfg_rsp
        The core's configuration port.
    unmapped : Out(16)
        Saturating count of packets no map entry took.
    """

    def __init__(self, core, chip):
        if not isinstance(core, ChipCore) or not isinstance(chip, ChipParams):
            raise TypeError(f"A tile takes a ChipCore and its ChipParams, not {core!r}, {chip!r}")
        self._core = core
        self._chip = chip
        self.packet_layout = packet_layout(chip.mesh.packet)
        self.entry_layout = chip_entry_layout(chip)
        self.lif = LifCore(core.params, stdp=core.stdp)
        super().__init__({
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
        })

    def elaborate(self, platform):
        p = self._core.params
        m = Module()
        m.submodules.core = lif = self.lif
        m.submodules.events = events = fifo.SyncFIFOBuffered(width=p.axon_bits, depth=p.axons)
        wiring.connect(m, wiring.flipped(self.cfg), lif.cfg)
        wiring.connect(m, lif.cfg_rsp, wiring.flipped(self.cfg_rsp))
        if "reward" in lif.signature.members:
            m.d.comb += lif.reward.valid.eq(0)
        m.submodules.map = input_map = PacketMap(self.packet_layout, self.entry_layout, self._chip.map_size)
        wiring.connect(m, wiring.flipped(self.packet_in), input_map.packet)
        m.d.comb += [
            [input_map.table[i].eq(self.map[i]) for i in range(self._chip.map_size)],
            events.w_data.eq(input_map.index.payload),
            events.w_en.eq(input_map.index.valid),
            input_map.index.ready.eq(events.w_rdy),
            self.unmapped.eq(input_map.unmapped),
        ]

        # Events go in unless a tick is offered or running; the tick goes in when the core takes it.
        ticking = Signal()
        m.d.comb += [
            lif.events.valid.eq(events.r_rdy & ~self.tick.valid & ~ticking),
            lif.events.payload.axon.eq(events.r_data),
            events.r_en.eq(lif.events.ready & ~self.tick.valid & ~ticking),
            lif.tick.valid.eq(self.tick.valid),
            self.tick.ready.eq(lif.tick.ready),
            self.done.eq(lif.done),
        ]
        with m.If(lif.tick.valid & lif.tick.ready):
            m.d.sync += ticking.eq(1)
        with m.If(lif.done):
            m.d.sync += ticking.eq(0)

        # Spikes out: one register in front of the router.
        out_valid = Signal()
        m.d.comb += [self.packet_out.valid.eq(out_valid), lif.spikes.ready.eq(~out_valid | self.packet_out.ready)]
        with m.If(self.packet_out.ready):
            m.d.sync += out_valid.eq(0)
        with m.If(lif.spikes.valid & lif.spikes.ready):
            m.d.sync += [out_valid.eq(1), self.packet_out.payload.key.eq(self.key),
                         self.packet_out.payload.src.eq(self._core.node),
                         self.packet_out.payload.payload.eq(lif.spikes.payload.neuron)]
        m.d.comb += self.idle.eq(input_map.idle & (events.level == 0) & ~out_valid & ~ticking & ~self.tick.valid)
        return m
