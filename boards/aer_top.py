"""Board top-level of an AER router or mesh: the network behind the UART host link (docs/host_protocol.md).

Every port of the network is reachable from the host, so a board build keeps all of its logic:

- commands: INJECT (0x04: ``source``, then the packet) offers a packet at one input (a router's input port, a
  mesh node's local port), through a holding register of that input; COUNTERS (0x05: ``router``, ``port``)
  asks for one router port's forwarded and dropped counters; in table mode CFG (0x06) is the network's
  routing-table command;
- replies: DELIVER (0x04: ``output``, then the packet) for every packet an output delivers, the outputs served
  round-robin; COUNTS (0x05: ``forwarded``, ``dropped``); in table mode CFG_DATA (0x06) answers a table read;
- STATUS: ``bad_frames``, ``link_errors`` and, in table mode, ``bad_config``.

INFO: 0x52 ("R") for a router or 0x4D ("M") for a mesh, the protocol version, the manifest digest, then sources, routers and ports
per router (one byte each) and the packet width in bits (one byte).
"""

from amaranth.hdl import Cat, Signal, unsigned
from amaranth.lib import data, wiring

from spikeforge.hdl.aer.mesh import Mesh
from spikeforge.hdl.aer.params import MeshParams, RouterParams
from spikeforge.hdl.aer.router import Router, round_robin
from spikeforge.hdl.aer.manifest import aer_manifest
from spikeforge.hdl.host_bridge import HostBridge, info_header

from .host_link import HostTop
from .platforms import DEFAULT_BAUD


__all__ = ["NetworkTop", "ROUTER_INFO_MAGIC", "MESH_INFO_MAGIC"]


ROUTER_INFO_MAGIC = 0x52   # "R"
MESH_INFO_MAGIC = 0x4D     # "M"


def _bits(count):
    return max(1, (count - 1).bit_length())


class NetworkTop(HostTop):
    """A :class:`~spikeforge.hdl.aer.router.Router` or :class:`~spikeforge.hdl.aer.mesh.Mesh` and its host
    link on the board's UART.

    Parameters
    ----------
    params : RouterParams or MeshParams
    baud, clock_mhz
        The UART bit rate and the clock, as :class:`~spikeforge.boards.host_link.HostTop` takes them.
    """

    def __init__(self, params, *, baud=DEFAULT_BAUD, clock_mhz=None):
        if not isinstance(params, (RouterParams, MeshParams)):
            raise TypeError(f"params must be a RouterParams or a MeshParams, not {params!r}")
        if not params.counter_bits:
            raise ValueError("Parameter 'counter_bits' must be in the range 1..32 on a board (the host link's "
                             "COUNTERS command reads the counters); 0 is out of range")
        super().__init__(params, baud=baud, clock_mhz=clock_mhz)
        self._network = Mesh(params) if isinstance(params, MeshParams) else Router(params)

    @property
    def block(self):
        """The :class:`~spikeforge.hdl.aer.router.Router` or :class:`~spikeforge.hdl.aer.mesh.Mesh` inside."""
        return self._network

    def _ports(self):
        """(input streams, output streams, forwarded and dropped counters per router) of the network."""
        net = self._network
        if isinstance(net, Mesh):
            return net.inject, net.deliver, net.forwarded, net.dropped
        return net.inputs, net.outputs, [net.forwarded], [net.dropped]

    def attach(self, m, link):
        p = self._params
        net = self._network
        inputs, outputs, forwarded, dropped = self._ports()
        m.submodules.network = net
        sources, routers, ports = len(inputs), len(forwarded), len(forwarded[0])
        counter_bits = len(forwarded[0][0])
        commands = {
            "inject": data.StructLayout({"source": unsigned(_bits(sources)), "packet": net.packet_layout}),
            "counters": data.StructLayout({"router": unsigned(_bits(routers)), "port": unsigned(_bits(ports))}),
        }
        replies = {
            "deliver": data.StructLayout({"output": unsigned(_bits(sources)), "packet": net.packet_layout}),
            "counts": data.StructLayout({"forwarded": unsigned(counter_bits), "dropped": unsigned(counter_bits)}),
        }
        status = {"bad_frames": unsigned(16), "link_errors": unsigned(16)}
        if p.uses_table:
            commands["cfg"] = net.cfg_layout
            replies["cfg_data"] = net.cfg_rsp_layout
            status["bad_config"] = unsigned(counter_bits)
        magic = MESH_INFO_MAGIC if isinstance(p, MeshParams) else ROUTER_INFO_MAGIC
        info = info_header(magic, aer_manifest(net)) + bytes([sources, routers, ports, net.packet_layout.size])
        m.submodules.host = host = HostBridge(commands=commands, replies=replies,
                                              status=data.StructLayout(status), info=info)
        wiring.connect(m, link.rx, host.rx)
        wiring.connect(m, host.tx, link.tx)
        m.d.comb += [host.status.bad_frames.eq(host.bad_frames), host.status.link_errors.eq(link.errors)]
        if p.uses_table:
            wiring.connect(m, host.cfg, net.cfg)
            wiring.connect(m, net.cfg_rsp, host.cfg_data)
            m.d.comb += host.status.bad_config.eq(net.bad_config)
        self._inject(m, host.inject, inputs)
        self._deliver(m, outputs, host.deliver)
        self._counters(m, host.counters, host.counts, forwarded, dropped)

    @staticmethod
    def _inject(m, command, inputs):
        """An INJECT fills the holding register of the input it names, which offers the packet to the network;
        one naming no input is dropped. Each input has a register of its own, so synthesis keeps each input's
        route decision (one payload shared by every input would let it merge them)."""
        for index, port in enumerate(inputs):
            held = Signal(name=f"inject{index}_held")
            packet = Signal.like(command.payload.packet, name=f"inject{index}_packet")
            selected = command.payload.source == index
            m.d.comb += [port.valid.eq(held), port.payload.eq(packet)]
            with m.If(port.ready):
                m.d.sync += held.eq(0)
            with m.If(selected):
                m.d.comb += command.ready.eq(~held)
                with m.If(command.valid & ~held):
                    m.d.sync += [held.eq(1), packet.eq(command.payload.packet)]
        with m.If(command.payload.source >= len(inputs)):
            m.d.comb += command.ready.eq(1)

    @staticmethod
    def _deliver(m, outputs, reply):
        """The outputs with a packet take turns at the DELIVER reply, round-robin."""
        requests = Cat(port.valid for port in outputs)
        pointer = Signal(len(outputs))
        grant, after = round_robin(m, requests, pointer, "deliver")
        for index, port in enumerate(outputs):
            with m.If(grant[index]):
                m.d.comb += [reply.payload.output.eq(index), reply.payload.packet.eq(port.payload),
                             port.ready.eq(reply.ready)]
        m.d.comb += reply.valid.eq(requests.any())
        with m.If(reply.valid & reply.ready):
            m.d.sync += pointer.eq(after)

    @staticmethod
    def _counters(m, command, reply, forwarded, dropped):
        """A COUNTERS command is answered with the counters of the router port it names (zeros for none)."""
        pending = Signal()
        m.d.comb += [command.ready.eq(~pending), reply.valid.eq(pending)]
        with m.If(command.valid & command.ready):
            m.d.sync += [pending.eq(1), reply.payload.forwarded.eq(0), reply.payload.dropped.eq(0)]
            for r, (router_forwarded, router_dropped) in enumerate(zip(forwarded, dropped)):
                for port, (f, d) in enumerate(zip(router_forwarded, router_dropped)):
                    with m.If((command.payload.router == r) & (command.payload.port == port)):
                        m.d.sync += [reply.payload.forwarded.eq(f), reply.payload.dropped.eq(d)]
        with m.If(reply.valid & reply.ready):
            m.d.sync += pending.eq(0)
