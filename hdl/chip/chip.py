"""The chip generator: a tile per core on a table-routed mesh, the host port and the timestep controller
(docs/chip.md).

Everything that describes the network is written at run time through ``cfg``: the cores' weights and neuron
fields, each tile's key and input map, the routers' tables, the phases and the output map. So one bitstream runs
every network that fits its cores; :mod:`spikeforge.sim.chip.load` computes the commands of a network from its
:class:`~spikeforge.hdl.chip.params.ChipParams`.
"""

from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..aer.mesh import Mesh
from ..aer.packet import packet_layout
from ..aer.params import bits_for
from ..arith import saturate
from ..cfg import CfgOp
from ..lif_core.core import CfgField
from .config_port import ChipUnit, add_config_port
from .controller import PHASE_BITS, Controller
from .host_port import HostPort
from .params import HOST_NODE, ChipParams
from .tile import Tile, chip_entry_layout


__all__ = ["Chip"]


class Chip(wiring.Component):
    """The chip of ``params``.

    Members
    -------
    inputs : In(stream.Signature(InputSpike))
        Input spikes of the next step (``neuron``: the input index), taken only between steps (after ``done``):
        those offered while a step runs wait for it to end.
    step : In(stream.Signature(1))
        The end of a step's inputs: runs the step's phases.
    done : Out(1)
        One-cycle pulse when the step is over and all its output spikes have left on ``outputs``.
    outputs : Out(stream.Signature(OutputSpike))
        Output spikes (``neuron``: the output index), in step order.
    cfg : In(stream.Signature(ChipCommand))
        Configuration commands, taken one at a time; best sent while no step runs.
    cfg_rsp : Out(stream.Signature(ChipResponse))
        One answer per READ.
    timestep : Out(32)
    unmapped : Out(16)
        Packets no router routed, or no tile or output took (summed over the routers and tiles, saturating).
    bad_config : Out(16)
        Refused configuration commands (no such tile, entry or unit); a READ of one answers zeros.
    """

    def __init__(self, params):
        if not isinstance(params, ChipParams):
            raise TypeError(f"params must be a ChipParams, not {params!r}")
        self._p = p = params
        self.packet_layout = packet_layout(p.mesh.packet)
        self.entry_layout = chip_entry_layout(p)
        self.tiles = {c.node: Tile(c, p) for c in p.cores}
        self.mesh = Mesh(p.mesh)
        self.host = HostPort(p, self.packet_layout, self.entry_layout, tile=HOST_NODE in self.tiles)
        self.controller = Controller(len(p.cores))
        lifs = [t.lif for t in self.tiles.values()]
        self.data_bits = max([lif.data_bits for lif in lifs] + [PHASE_BITS + 2, p.key_bits + 1])
        self.index_bits = bits_for(max(p.table_size, p.map_size, len(p.outputs), 1))
        route_layout = self.mesh.cfg_rsp_layout
        self.cfg_layout = data.StructLayout({
            "op": CfgOp,
            "unit": ChipUnit,
            "node": unsigned(bits_for(p.nodes)),
            "index": unsigned(self.index_bits),
            "field": CfgField,
            "axon": unsigned(max(lif.axon_bits for lif in lifs)),
            "neuron": unsigned(max(lif.neuron_bits for lif in lifs)),
            "data": signed(self.data_bits),
            "entry": self.entry_layout,
            "route": route_layout,
        })
        self.cfg_rsp_layout = data.StructLayout({"data": signed(self.data_bits), "entry": self.entry_layout,
                                                 "route": route_layout})
        super().__init__({
            "inputs": In(stream.Signature(self.host.input_layout)),
            "step": In(stream.Signature(1)),
            "done": Out(1),
            "outputs": Out(stream.Signature(self.host.output_layout)),
            "cfg": In(stream.Signature(self.cfg_layout)),
            "cfg_rsp": Out(stream.Signature(self.cfg_rsp_layout)),
            "timestep": Out(32),
            "unmapped": Out(16),
            "bad_config": Out(16),
        })

    @property
    def params(self):
        return self._p

    def elaborate(self, platform):
        p = self._p
        m = Module()
        m.submodules.mesh = mesh = self.mesh
        m.submodules.host = host = self.host
        m.submodules.controller = controller = self.controller
        registers = add_config_port(m, self)
        tiles = list(self.tiles.items())
        for n in range(p.nodes):
            tile = self.tiles.get(n)
            if tile is not None:
                m.submodules[f"tile{n}"] = tile
                m.d.comb += [tile.key.eq(registers["key"][n]),
                             [tile.map[i].eq(registers["map"][n][i]) for i in range(p.map_size)]]
            if n == HOST_NODE:
                wiring.connect(m, host.inject, mesh.inject[n])
                wiring.connect(m, mesh.deliver[n], host.deliver)
                if tile is not None:
                    wiring.connect(m, tile.packet_out, host.tile_out)
                    wiring.connect(m, host.tile_in, tile.packet_in)
                    m.d.comb += [host.tile_map[i].eq(registers["map"][n][i]) for i in range(p.map_size)]
            elif tile is not None:
                wiring.connect(m, tile.packet_out, mesh.inject[n])
                wiring.connect(m, mesh.deliver[n], tile.packet_in)
            else:
                m.d.comb += [mesh.inject[n].valid.eq(0), mesh.deliver[n].ready.eq(1)]
        m.d.comb += [host.output_map[i].eq(registers["output"][i]) for i in range(len(host.output_map))]

        wiring.connect(m, wiring.flipped(self.inputs), host.inputs)
        wiring.connect(m, host.outputs, wiring.flipped(self.outputs))
        wiring.connect(m, wiring.flipped(self.step), controller.step)
        for i, (n, tile) in enumerate(tiles):
            wiring.connect(m, controller.tick[i], tile.tick)
            m.d.comb += [controller.tile_done[i].eq(tile.done), controller.phase[i].eq(registers["phase"][n])]
        m.d.comb += [
            controller.phases.eq(registers["phases"]),
            controller.quiet.eq(mesh.idle & host.idle & Cat(t.idle for _, t in tiles).all()),
            controller.drained.eq(host.drained),
            host.accepting.eq(controller.idle),
            self.done.eq(controller.done),
            self.timestep.eq(controller.timestep),
        ]
        # Packets a router drops (no table entry for their key) are counted here, a cycle's drops at once.
        unrouted = Signal(16)
        dropping = Cat(mesh.dropping[n] for n in range(p.nodes))
        m.d.sync += unrouted.eq(saturate(unrouted + sum(dropping), 0, 0xFFFF))
        unmapped = sum((t.unmapped for _, t in tiles), host.unmapped + unrouted)
        m.d.comb += self.unmapped.eq(saturate(unmapped, 0, 0xFFFF))
        return m
