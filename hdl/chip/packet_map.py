"""Packets to indices: the input map of a tile (packet to axon) and the output map of the host port (packet to
output), one table of entries each (docs/chip.md).

An entry ``(enable, key, first, count, base)`` takes a packet of source ``key`` for neuron ``n`` with ``first <=
n < first + count`` and gives the index ``base + n - first``. A packet may match several entries; it is held
and gives one index per cycle, lowest entry first. A packet no entry matches is counted and dropped.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["PacketMap", "map_entry_layout"]


def map_entry_layout(*, key_bits, neuron_bits, index_bits):
    """One entry: ``enable``, ``key``, ``first``, ``count`` (up to 2**neuron_bits), ``base``."""
    return data.StructLayout({
        "enable": unsigned(1),
        "key": unsigned(key_bits),
        "first": unsigned(neuron_bits),
        "count": unsigned(neuron_bits + 1),
        "base": unsigned(index_bits),
    })


class PacketMap(wiring.Component):
    """A table of ``entries`` map entries between a packet stream and an index stream.

    Members
    -------
    packet : In(stream.Signature(packet_layout))
        Packets with ``key`` and ``payload`` (the neuron) fields.
    index : Out(stream.Signature(index_bits))
        One index per matching entry.
    table : In(entry_layout).array(entries)
        The entries, driven by the configuration registers.
    idle : Out(1)
        No packet is held.
    unmapped : Out(16)
        Saturating count of packets no entry took.
    """

    def __init__(self, packet_layout, entry_layout, entries):
        self._packet_layout = packet_layout
        self._entries = entries
        super().__init__({
            "packet": In(stream.Signature(packet_layout)),
            "index": Out(stream.Signature(entry_layout["base"].shape)),
            "table": In(entry_layout).array(entries),
            "idle": Out(1),
            "unmapped": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        held = Signal()
        key = Signal.like(self.packet.payload.key)
        neuron = Signal.like(self.packet.payload.payload)
        served = Signal(self._entries)          # matching entries that have given their index
        matches = Signal(self._entries)
        m.d.comb += matches.eq(Cat(e.enable & (e.key == key) & (neuron >= e.first) & (neuron < e.first + e.count)
                                   for e in self.table))
        todo = Signal(self._entries)
        first = Signal(self._entries)
        m.d.comb += [todo.eq(Mux(held, matches & ~served, 0)), first.eq(todo & -todo)]
        index = 0
        for chosen, entry in zip(first, self.table):
            index = index | Mux(chosen, entry.base + neuron - entry.first, 0)
        m.d.comb += [self.index.valid.eq(todo != 0), self.index.payload.eq(index)]
        # The packet leaves with its last index (or at once when nothing matches).
        last = held & ((todo & ~first) == 0) & ((todo == 0) | self.index.ready)
        m.d.comb += [self.packet.ready.eq(~held | last), self.idle.eq(~held)]
        with m.If(self.index.valid & self.index.ready):
            m.d.sync += served.eq(served | first)
        with m.If(last):
            m.d.sync += [held.eq(0), served.eq(0)]
            with m.If((matches == 0) & (self.unmapped != 0xFFFF)):
                m.d.sync += self.unmapped.eq(self.unmapped + 1)
        with m.If(self.packet.valid & self.packet.ready):
            m.d.sync += [held.eq(1), served.eq(0), key.eq(self.packet.payload.key),
                         neuron.eq(self.packet.payload.payload)]
        return m
