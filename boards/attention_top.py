"""Board top-level of an attention unit: the unit behind the UART host link (see docs/host_protocol.md).

Host to device, code 0x04 QKV: one token row, the bits of the row layout (q, k, v; bit c of a field being
channel c), little-endian in whole bytes. Device to host, code 0x04 O: one output row. INFO: 0x41 ("A"),
protocol version, the manifest digest, variant (1 or 2), then tokens - 1, channels - 1, heads - 1 (two bytes
each), timesteps, lanes - 1 (two bytes). STATUS: bad_frames (2), link_errors (2).
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.hdl.attention.unit import AttentionUnit
from spikeforge.hdl.attention.manifest import attention_manifest
from spikeforge.hdl.host_bridge import HostBridge, info_header

from .host_link import HostTop
from .platforms import DEFAULT_BAUD


__all__ = ["AttentionBoardTop", "ATTENTION_INFO_MAGIC", "attention_info"]


ATTENTION_INFO_MAGIC = 0x41   # "A"
_STATUS = data.StructLayout({"bad_frames": unsigned(16), "link_errors": unsigned(16)})


def attention_info(unit):
    """The INFO payload of a board build of the attention ``unit``."""
    p = unit.params
    return info_header(ATTENTION_INFO_MAGIC, attention_manifest(unit)) + bytes([int(p.variant[1])]) + b"".join(
        (value - 1).to_bytes(2, "little") for value in (p.tokens, p.channels, p.heads)) + \
        bytes([p.timesteps]) + (p.lanes - 1).to_bytes(2, "little")


class AttentionBoardTop(HostTop):
    """An :class:`~spikeforge.hdl.attention.unit.AttentionUnit` and its host link on the board's UART.

    The ``sync`` domain is the board's oscillator or a PLL from it (``clock_mhz``); pins come from the platform.

    Parameters
    ----------
    params : AttentionParams
    baud, clock_mhz
        The UART bit rate and the clock, as :class:`~spikeforge.boards.host_link.HostTop` takes them.
    """

    def __init__(self, params, *, baud=DEFAULT_BAUD, clock_mhz=None):
        if not isinstance(params, AttentionParams):
            raise TypeError(f"params must be an AttentionParams, not {params!r}")
        super().__init__(params, baud=baud, clock_mhz=clock_mhz)
        self._unit = AttentionUnit(params)

    @property
    def block(self):
        """The :class:`~spikeforge.hdl.attention.unit.AttentionUnit` inside."""
        return self._unit

    def attach(self, m, link):
        m.submodules.unit = unit = self._unit
        m.submodules.host = host = HostBridge(
            commands={"qkv": unit.row_layout}, replies={"o": unit.out_layout}, status=_STATUS,
            info=attention_info(unit))
        wiring.connect(m, link.rx, host.rx)
        wiring.connect(m, host.tx, link.tx)
        wiring.connect(m, host.qkv, unit.qkv)
        wiring.connect(m, unit.o, host.o)
        m.d.comb += [host.status.bad_frames.eq(host.bad_frames), host.status.link_errors.eq(link.errors)]
