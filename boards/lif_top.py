"""Board top-level of a LIF core: the core behind a UART host link (see docs/host_protocol.md)."""

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import fifo, io, wiring

from spikeforge.hdl.host_bridge import LifHostBridge
from spikeforge.hdl.lif_core.core import LifCore
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.hdl.uart import UartRx, UartTx


__all__ = ["LifTop"]


# Bytes from the host wait here while the core is busy; the host protocol keeps the backlog under this.
_RX_FIFO_DEPTH = 32


class LifTop(Elaboratable):
    """A :class:`~spikeforge.hdl.lif_core.core.LifCore` and its host link on the board's UART.

    The ``sync`` domain is the board's default clock; pins and frequency come from the platform. The first
    LED, when the board has one, lights for about 50 ms after each byte to or from the host.

    Parameters
    ----------
    params : LifParams
        The core's parameters.
    stdp : StdpParams or None
        Build the core with this STDP learning engine (when enabled); its reward commands are the host's REWARD
        frames.
    baud : int
        UART bit rate; checked against the board clock at elaboration.

    Raises
    ------
    TypeError
        If ``params`` is not a LifParams, ``stdp`` not a StdpParams or None, or ``baud`` not a positive
        integer.
    """

    def __init__(self, params, *, stdp=None, baud=115200):
        if not isinstance(params, LifParams):
            raise TypeError(f"params must be a LifParams, not {params!r}")
        if stdp is not None and not isinstance(stdp, StdpParams):
            raise TypeError(f"stdp must be a StdpParams or None, not {stdp!r}")
        if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
            raise TypeError(f"Baud rate must be a positive integer, not {baud!r}")
        self._params = params
        self._stdp = stdp
        self._baud = baud

    @property
    def params(self):
        return self._params

    @property
    def stdp(self):
        return self._stdp

    @property
    def baud(self):
        return self._baud

    def elaborate(self, platform):
        m = Module()
        clk_freq = platform.default_clk_frequency
        uart = platform.request("uart", dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)

        m.submodules.core = core = LifCore(self._params, stdp=self._stdp)
        m.submodules.host = host = LifHostBridge(core, timeout=int(clk_freq // 10))
        m.submodules.uart_rx = uart_rx = UartRx(clk_freq=clk_freq, baud=self._baud)
        m.submodules.uart_tx = uart_tx = UartTx(clk_freq=clk_freq, baud=self._baud)
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=_RX_FIFO_DEPTH)

        wiring.connect(m, host.core, core)
        m.d.comb += [uart_rx.rx.eq(rx_buf.i), tx_buf.o.eq(uart_tx.tx)]
        # A byte that finds the FIFO full is lost (the line has no flow control) and counted by the receiver.
        m.d.comb += host.link_errors.eq(uart_rx.errors)
        wiring.connect(m, uart_rx.data, rx_fifo.w_stream)
        wiring.connect(m, rx_fifo.r_stream, host.rx)
        wiring.connect(m, host.tx, uart_tx.data)

        if any(name == "led" for name, _ in platform.resources):
            m.submodules.led_buf = led = io.Buffer("o", platform.request("led", 0, dir="-"))
            hold = Signal(range(int(clk_freq // 20) + 1))
            with m.If(uart_rx.data.valid | (uart_tx.data.valid & uart_tx.data.ready)):
                m.d.sync += hold.eq(int(clk_freq // 20))
            with m.Elif(hold != 0):
                m.d.sync += hold.eq(hold - 1)
            m.d.comb += led.o.eq(hold != 0)
        return m
