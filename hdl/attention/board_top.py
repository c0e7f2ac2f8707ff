"""Board top-level of an attention unit: the unit behind the UART host link (see docs/host_protocol.md).

Host to device, opcode 0x02 QKV: one token row, the fields q, k, v of ``ceil(channels / 8)`` bytes each,
little-endian, bit c of a field being channel c. Device to host, code 0x02 O: one output row, ``ceil(channels /
8)`` bytes. INFO: 0x41 ("A"), protocol version, variant (1 or 2), then tokens - 1, channels - 1, heads - 1 (two
bytes each), timesteps, lanes - 1 (two bytes). STATUS: bad_frames (2), link_errors (2).
"""

from amaranth.hdl import Elaboratable, Module, unsigned
from amaranth.lib import data, fifo, io, wiring

from spikeforge.hdl.host_bridge import PROTOCOL_VERSION, HostBridge
from spikeforge.hdl.uart import UartRx, UartTx

from .params import AttentionParams
from .unit import AttentionUnit


__all__ = ["AttentionBoardTop", "ATTENTION_INFO_MAGIC", "attention_info"]


ATTENTION_INFO_MAGIC = 0x41   # "A"
_STATUS = data.StructLayout({"bad_frames": unsigned(16), "link_errors": unsigned(16)})
# Bytes from the host wait here while the unit is busy; a host sends one row and waits for the unit's ready.
_RX_FIFO_DEPTH = 32


def attention_info(params):
    """The INFO payload of a board build of ``params``."""
    p = params
    return bytes([ATTENTION_INFO_MAGIC, PROTOCOL_VERSION, int(p.variant[1])]) + b"".join(
        (value - 1).to_bytes(2, "little") for value in (p.tokens, p.channels, p.heads)) + \
        bytes([p.timesteps]) + (p.lanes - 1).to_bytes(2, "little")


class AttentionBoardTop(Elaboratable):
    """An :class:`~spikeforge.hdl.attention.unit.AttentionUnit` and its host link on the board's UART.

    The ``sync`` domain is the board's default clock; pins and frequency come from the platform.

    Parameters
    ----------
    params : AttentionParams
    baud : int
        UART bit rate; checked against the board clock at elaboration.
    """

    def __init__(self, params, *, baud=115200):
        if not isinstance(params, AttentionParams):
            raise TypeError(f"params must be an AttentionParams, not {params!r}")
        if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
            raise TypeError(f"Baud rate must be a positive integer, not {baud!r}")
        self._params = params
        self._baud = baud

    @property
    def params(self):
        return self._params

    def elaborate(self, platform):
        m = Module()
        clk_freq = platform.default_clk_frequency
        uart = platform.request("uart", dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)

        m.submodules.unit = unit = AttentionUnit(self._params)
        m.submodules.host = host = HostBridge(
            commands={"qkv": unit.row_layout}, replies={"o": unit.out_layout}, status=_STATUS,
            info=attention_info(self._params), timeout=int(clk_freq // 10))
        m.submodules.uart_rx = uart_rx = UartRx(clk_freq=clk_freq, baud=self._baud)
        m.submodules.uart_tx = uart_tx = UartTx(clk_freq=clk_freq, baud=self._baud)
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=_RX_FIFO_DEPTH)

        m.d.comb += [uart_rx.rx.eq(rx_buf.i), tx_buf.o.eq(uart_tx.tx)]
        wiring.connect(m, uart_rx.data, rx_fifo.w_stream)
        wiring.connect(m, rx_fifo.r_stream, host.rx)
        wiring.connect(m, host.tx, uart_tx.data)
        wiring.connect(m, host.qkv, unit.qkv)
        wiring.connect(m, unit.o, host.o)
        m.d.comb += [host.status.bad_frames.eq(host.bad_frames), host.status.link_errors.eq(uart_rx.errors)]
        return m
