"""The W x H mesh network-on-chip generator: one 5-port :class:`~spikeforge.hdl.aer.router.Router` per node.

The east output of node (x, y) feeds the west input of node (x + 1, y), its south output the north input of
(x, y + 1), and so on; each node's local port is the mesh's ``inject`` and ``deliver`` stream of that node.
Ports that would leave the mesh are tied off: XY routing never selects them (packets for coordinates outside the
mesh are dropped at the first router), and in table mode their route bits are ignored.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .packet import CfgOp, cfg_layout, cfg_rsp_layout, packet_layout
from .params import EAST, LOCAL, MESH_PORTS, MESH_TURNS, NORTH, SOUTH, WEST, MeshParams, bits_for
from .router import Router


__all__ = ["Mesh"]


_OPPOSITE = {NORTH: SOUTH, SOUTH: NORTH, EAST: WEST, WEST: EAST}


class Mesh(wiring.Component):
    """A ``params.width`` x ``params.height`` mesh of routers.

    Parameters
    ----------
    params : MeshParams
        Validated parameters (see :class:`spikeforge.hdl.aer.params.MeshParams`).

    Members
    -------
    inject : In(stream.Signature(packet_layout)).array(nodes)
        Packets entering the network at each node's local port (node index n = y * width + x).
    deliver : Out(stream.Signature(packet_layout)).array(nodes)
        Packets leaving the network at each node's local port.
    forwarded, dropped : Out(counter_bits).array(nodes, 5)
        Each router's per-port counters (ports north, east, south, west, local).
    dropping : Out(5).array(nodes)
        Each router's input ports dropping a packet in this cycle.
    idle : Out(1)
        No packet is held anywhere in the mesh: every router is idle (links are router registers).
    cfg : In(stream.Signature(cfg_layout))
        ``table`` mode only: table commands with a ``node`` field selecting the router; one at a time.
    cfg_rsp : Out(stream.Signature(cfg_rsp_layout))
        ``table`` mode only: one answer per READ.
    bad_config : Out(counter_bits)
        ``table`` mode only: saturating count of refused commands (node or index out of range; a read of them
        answers 0).
    """

    def __init__(self, params):
        if not isinstance(params, MeshParams):
            raise TypeError(f"params must be a MeshParams, not {params!r}")
        self._p = params
        self.node_bits = bits_for(params.nodes)
        self.packet_layout = packet_layout(params.packet)
        members = {
            "inject": In(stream.Signature(self.packet_layout)).array(params.nodes),
            "deliver": Out(stream.Signature(self.packet_layout)).array(params.nodes),
            "forwarded": Out(params.counter_bits).array(params.nodes, MESH_PORTS),
            "dropped": Out(params.counter_bits).array(params.nodes, MESH_PORTS),
            "dropping": Out(MESH_PORTS).array(params.nodes),
            "idle": Out(1),
        }
        if params.uses_table:
            self.cfg_layout = cfg_layout(params, node_bits=self.node_bits)
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

    def elaborate(self, platform):
        p = self._p
        m = Module()
        routers = []
        for n in range(p.nodes):
            router = Router(p.router(n), links=p.links(n), turns=MESH_TURNS if p.uses_table else None)
            m.submodules[f"router{n}"] = router
            routers.append(router)

        for n, router in enumerate(routers):
            wiring.connect(m, wiring.flipped(self.inject[n]), router.inputs[LOCAL])
            wiring.connect(m, router.outputs[LOCAL], wiring.flipped(self.deliver[n]))
            for port in (NORTH, EAST, SOUTH, WEST):
                other = p.neighbour(n, port)
                if other is not None:
                    # Each link is connected once, from its sending side.
                    wiring.connect(m, router.outputs[port], routers[other].inputs[_OPPOSITE[port]])
                else:
                    m.d.comb += [router.outputs[port].ready.eq(0), router.inputs[port].valid.eq(0)]
            for port in range(MESH_PORTS):
                m.d.comb += [self.forwarded[n][port].eq(router.forwarded[port]),
                             self.dropped[n][port].eq(router.dropped[port])]
            m.d.comb += self.dropping[n].eq(router.dropping)

        m.d.comb += self.idle.eq(Cat(router.idle for router in routers).all())
        if p.uses_table:
            self._configuration(m, routers)
        return m

    def _configuration(self, m, routers):
        """Steer each table command to the router of its node and merge the answers. A command is accepted
        only while no answer is waiting, so at most one READ is in flight."""
        p = self._p
        cmd = self.cfg.payload
        good = Signal()
        m.d.comb += good.eq((cmd.node < p.nodes) & (cmd.index < p.table_size))
        refused_answer = Signal()              # the zero answer to a refused READ
        busy = Signal()
        m.d.comb += busy.eq(Cat(refused_answer, *(r.cfg_rsp.valid for r in routers)).any())
        answer = 0
        taken = 0                              # the addressed router takes the command (it may be busy)
        for n, router in enumerate(routers):
            m.d.comb += [getattr(router.cfg.payload, name).eq(getattr(cmd, name))
                         for name, _ in router.cfg_layout]
            m.d.comb += [
                router.cfg.valid.eq(self.cfg.valid & good & (cmd.node == n) & ~busy),
                router.cfg_rsp.ready.eq(self.cfg_rsp.ready),
            ]
            taken = taken | ((cmd.node == n) & router.cfg.ready)
            answer = answer | Mux(router.cfg_rsp.valid, router.cfg_rsp.payload.as_value(), 0)
        m.d.comb += [
            self.cfg.ready.eq(~busy & (~good | taken)),
            self.cfg_rsp.valid.eq(busy),
            self.cfg_rsp.payload.eq(answer),
        ]
        refused = self.cfg.valid & self.cfg.ready & ~good
        with m.If(self.cfg_rsp.ready):
            m.d.sync += refused_answer.eq(0)
        with m.If(refused & (cmd.op == CfgOp.READ)):
            m.d.sync += refused_answer.eq(1)
        if p.counter_bits:
            with m.If(refused & (self.bad_config != p.counter_max)):
                m.d.sync += self.bad_config.eq(self.bad_config + 1)
