"""Where the host meets the mesh, at the host node (docs/chip.md).

Input spikes become packets of key 0 (the host's virtual source) with the input neuron as payload; they share the
host node's router input with the local tile's spikes (round-robin). Packets the host node's router delivers go
to the host when the output map takes them, and to the local tile when its input map does (or when the output
map does not, so that the tile counts a packet nobody listens to); the output map turns them into output spikes,
which wait in a FIFO for the host.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..aer.params import bits_for
from .packet_map import PacketMap
from .params import HOST_NODE


__all__ = ["HostPort"]


def _matches(entries, packet):
    """Whether any enabled entry takes ``packet``."""
    return Cat(e.enable & (e.key == packet.key) & (packet.payload >= e.first) & (packet.payload < e.first + e.count)
               for e in entries).any()


class HostPort(wiring.Component):
    """The host's side of the host node.

    Members
    -------
    inputs : In(stream.Signature(InputSpike))
        The host's input spikes (``neuron``: the input index) of the next step; taken only while ``accepting``.
    accepting : In(1)
        No step is running (the controller's ``idle``): an input spike taken during a step would reach its cores.
    outputs : Out(stream.Signature(OutputSpike))
        Output spikes (``neuron``: the output index).
    inject : Out(stream.Signature(packet_layout))
        To the host node's router input.
    deliver : In(stream.Signature(packet_layout))
        From the host node's router output.
    tile_out : In(stream.Signature(packet_layout))
        The local tile's spikes (when the host node has a tile).
    tile_in : Out(stream.Signature(packet_layout))
        Packets for the local tile.
    tile_map : In(entry_layout).array(map_size)
        The local tile's input map (to know which packets it takes).
    output_map : In(entry_layout).array(outputs)
        The output map.
    idle : Out(1)
        No input packet and no delivered packet is held here.
    drained : Out(1)
        No output spike waits for the host.
    unmapped : Out(16)
        Packets delivered at the host node that no one takes (without a local tile; with one it counts them).
    """

    def __init__(self, chip, packet_layout, entry_layout, *, tile):
        self._chip = chip
        self._tile = tile
        self._packet_layout = packet_layout
        self._entry_layout = entry_layout
        self.input_layout = data.StructLayout({"neuron": unsigned(bits_for(chip.inputs))})
        self.output_layout = data.StructLayout({"neuron": unsigned(bits_for(max(chip.output_count, 1)))})
        members = {
            "inputs": In(stream.Signature(self.input_layout)),
            "accepting": In(1),
            "outputs": Out(stream.Signature(self.output_layout)),
            "inject": Out(stream.Signature(packet_layout)),
            "deliver": In(stream.Signature(packet_layout)),
            "output_map": In(entry_layout).array(max(len(chip.outputs), 1)),
            "idle": Out(1),
            "drained": Out(1),
            "unmapped": Out(16),
        }
        if tile:
            members.update({
                "tile_out": In(stream.Signature(packet_layout)),
                "tile_in": Out(stream.Signature(packet_layout)),
                "tile_map": In(entry_layout).array(chip.map_size),
            })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        input_held = self._inject(m)
        outputs = self._output_side(m)
        m.d.comb += [self.idle.eq(~input_held & outputs.idle), self.drained.eq(~self.outputs.valid)]
        return m

    def _inject(self, m):
        """Input spikes to packets, sharing the router input with the tile; returns "an input packet is held"."""
        held = Signal()
        packet = Signal(self._packet_layout)
        m.d.comb += self.inputs.ready.eq(~held & self.accepting)
        if not self._tile:
            m.d.comb += [self.inject.valid.eq(held), self.inject.payload.eq(packet)]
            with m.If(self.inject.ready):
                m.d.sync += held.eq(0)
        else:
            # Round-robin between the host's packet and the tile's.
            last_host = Signal()
            host_turn = held & (~self.tile_out.valid | ~last_host)
            m.d.comb += [
                self.inject.valid.eq(held | self.tile_out.valid),
                self.inject.payload.eq(Mux(host_turn, packet, self.tile_out.payload)),
                self.tile_out.ready.eq(~host_turn & self.inject.ready),
            ]
            with m.If(self.inject.valid & self.inject.ready):
                m.d.sync += last_host.eq(host_turn)
                with m.If(host_turn):
                    m.d.sync += held.eq(0)
        # After the lines above: a spike taken now is held even when the last one leaves in this cycle.
        with m.If(self.inputs.valid & self.inputs.ready):
            m.d.sync += [held.eq(1), packet.key.eq(0), packet.src.eq(HOST_NODE),
                         packet.payload.eq(self.inputs.payload.neuron)]
        return held

    def _output_side(self, m):
        """Delivered packets to the output map (and the tile); returns the output map."""
        chip = self._chip
        m.submodules.output_map = out_map = PacketMap(self._packet_layout, self._entry_layout,
                                                      max(len(chip.outputs), 1))
        m.submodules.output_fifo = out_fifo = fifo.SyncFIFOBuffered(width=self.output_layout.size,
                                                                    depth=max(chip.output_count, 2))
        m.d.comb += [out_map.table[i].eq(self.output_map[i]) for i in range(len(self.output_map))]
        m.d.comb += [
            out_fifo.w_data.eq(out_map.index.payload), out_fifo.w_en.eq(out_map.index.valid),
            out_map.index.ready.eq(out_fifo.w_rdy),
            self.outputs.valid.eq(out_fifo.r_rdy), self.outputs.payload.neuron.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.outputs.ready),
        ]
        packet = self.deliver.payload
        if not self._tile:
            wiring.connect(m, wiring.flipped(self.deliver), out_map.packet)
            m.d.comb += self.unmapped.eq(out_map.unmapped)
            return out_map
        # Fork: to the host when the output map takes the packet; to the tile when its map does or the host's
        # does not. The packet leaves when every side it goes to has taken it.
        to_host = Signal()
        to_tile = Signal()
        m.d.comb += [to_host.eq(_matches(self.output_map, packet)),
                     to_tile.eq(_matches(self.tile_map, packet) | ~to_host)]
        host_taken = Signal()
        tile_taken = Signal()
        m.d.comb += [
            out_map.packet.payload.eq(packet), self.tile_in.payload.eq(packet),
            out_map.packet.valid.eq(self.deliver.valid & to_host & ~host_taken),
            self.tile_in.valid.eq(self.deliver.valid & to_tile & ~tile_taken),
        ]
        host_ok = ~to_host | host_taken | out_map.packet.ready
        tile_ok = ~to_tile | tile_taken | self.tile_in.ready
        m.d.comb += self.deliver.ready.eq(host_ok & tile_ok)
        with m.If(self.deliver.valid):
            with m.If(host_ok & tile_ok):
                m.d.sync += [host_taken.eq(0), tile_taken.eq(0)]
            with m.Else():
                m.d.sync += [host_taken.eq(host_taken | (to_host & out_map.packet.ready)),
                             tile_taken.eq(tile_taken | (to_tile & self.tile_in.ready))]
        m.d.comb += self.unmapped.eq(0)
        return out_map
