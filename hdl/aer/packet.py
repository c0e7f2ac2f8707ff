"""Amaranth layouts of AER packets and of the routing table's configuration port.

The fields and their order come from :class:`spikeforge.hdl.aer.params.PacketFormat`; see docs/aer.md for the
format and for how a core's spike and an event-camera event become packets.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data

from ..cfg import CfgOp
from .params import PacketFormat


__all__ = ["CfgOp", "packet_layout", "cfg_layout", "cfg_rsp_layout"]


def packet_layout(fmt):
    """The :class:`~amaranth.lib.data.StructLayout` of a packet of format ``fmt``: the fields of
    :meth:`PacketFormat.fields`, in that order, with ``dest.x`` and ``dest.y`` in a nested ``dest`` struct."""
    if not isinstance(fmt, PacketFormat):
        raise TypeError(f"fmt must be a PacketFormat, not {fmt!r}")
    fields = {}
    if fmt.routing == "xy":
        fields["dest"] = data.StructLayout({"x": unsigned(fmt.x_bits), "y": unsigned(fmt.y_bits)})
    else:
        fields["key"] = unsigned(fmt.key_bits)
    fields["src"] = unsigned(fmt.src_bits)
    fields["payload"] = unsigned(fmt.payload_bits)
    if fmt.tag_bits:
        fields["tag"] = unsigned(fmt.tag_bits)
    return data.StructLayout(fields)


def cfg_layout(params, *, node_bits=0):
    """Configuration command of a routing table: READ or WRITE entry ``index``.

    A WRITE sets the entry to (``enable``, ``key``, ``mask``, ``route``); a READ answers them on the response
    stream. ``node`` (mesh only, ``node_bits`` > 0) selects the router.
    """
    fields = {"op": CfgOp}
    if node_bits:
        fields["node"] = unsigned(node_bits)
    fields.update({
        "index": unsigned(params.index_bits),
        "enable": unsigned(1),
        "key": unsigned(params.key_bits),
        "mask": unsigned(params.key_bits),
        "route": unsigned(params.ports),
    })
    return data.StructLayout(fields)


def cfg_rsp_layout(params):
    """Answer to a READ: the entry's fields (all zero for an index beyond ``table_size``)."""
    return data.StructLayout({
        "enable": unsigned(1),
        "key": unsigned(params.key_bits),
        "mask": unsigned(params.key_bits),
        "route": unsigned(params.ports),
    })
