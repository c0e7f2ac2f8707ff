"""The UART side of every board top-level: pins, receiver and transmitter, the receive FIFO and the link LED.

:func:`add_uart_link` connects a host bridge's byte streams (``rx``, ``tx``, as
:class:`spikeforge.hdl.host_bridge.HostBridge` has them) to the board's UART, whose pins and clock come from
the platform; the protocol is docs/host_protocol.md.
"""

from amaranth.hdl import Signal
from amaranth.lib import fifo, io, wiring

from spikeforge.hdl.uart import UartRx, UartTx


__all__ = ["add_uart_link", "check_baud"]


# Bytes from the host wait here while the block is busy; the host protocol keeps the backlog under this.
_RX_FIFO_DEPTH = 32


def check_baud(baud):
    """``baud``, or TypeError when it is not a positive integer."""
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise TypeError(f"Baud rate must be a positive integer, not {baud!r}")
    return baud


def add_uart_link(m, platform, bridge, *, baud):
    """Connect ``bridge.rx`` and ``bridge.tx`` to the board's UART in module ``m``; return the
    :class:`~spikeforge.hdl.uart.UartRx`, whose ``errors`` count the bytes the link lost.

    The ``sync`` domain is the board's default clock. A byte that finds the receive FIFO full is lost (the line
    has no flow control) and counted by the receiver. The first LED, when the board has one, lights for about
    50 ms after each byte to or from the host.
    """
    clk_freq = platform.default_clk_frequency
    uart = platform.request("uart", dir="-")
    m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
    m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
    m.submodules.uart_rx = uart_rx = UartRx(clk_freq=clk_freq, baud=baud)
    m.submodules.uart_tx = uart_tx = UartTx(clk_freq=clk_freq, baud=baud)
    m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=_RX_FIFO_DEPTH)
    m.d.comb += [uart_rx.rx.eq(rx_buf.i), tx_buf.o.eq(uart_tx.tx)]
    wiring.connect(m, uart_rx.data, rx_fifo.w_stream)
    wiring.connect(m, rx_fifo.r_stream, bridge.rx)
    wiring.connect(m, bridge.tx, uart_tx.data)

    if any(name == "led" for name, _ in platform.resources):
        m.submodules.led_buf = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        hold = Signal(range(int(clk_freq // 20) + 1))
        with m.If(uart_rx.data.valid | (uart_tx.data.valid & uart_tx.data.ready)):
            m.d.sync += hold.eq(int(clk_freq // 20))
        with m.Elif(hold != 0):
            m.d.sync += hold.eq(hold - 1)
        m.d.comb += led.o.eq(hold != 0)
    return uart_rx
