"""The UART side of every board top-level: pins, receiver and transmitter, the receive FIFO and the link LED.

:func:`add_uart_link` makes the board top-level's clock (:func:`spikeforge.boards.clocking.add_board_clock`) and
puts a :class:`UartLink` on the board's UART pins, its bit time counted in that clock; a board top-level attaches its host bridge's byte streams (``rx``, ``tx``, as
:class:`spikeforge.hdl.host_bridge.HostBridge` has them) to the link's. The protocol is docs/host_protocol.md.
"""

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import fifo, io, stream, wiring
from amaranth.lib.wiring import In, Out

from spikeforge.hdl.uart import UartRx, UartTx

from .clocking import add_board_clock
from .platforms import DEFAULT_BAUD


__all__ = ["HostTop", "UartLink", "add_uart_link", "check_baud", "check_clock"]


# Bytes from the host wait here while the block is busy; the host protocol keeps the backlog under this.
RX_FIFO_DEPTH = 32
# Clock cycles per step of the link LED's hold time.
_LED_STEP = 1 << 10


def check_baud(baud):
    """``baud``, or TypeError when it is not a positive integer."""
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise TypeError(f"Baud rate must be a positive integer, not {baud!r}")
    return baud


def check_clock(clock_mhz):
    """``clock_mhz`` (a board top-level's clock), or TypeError when it is neither None nor a positive number."""
    if clock_mhz is not None and (isinstance(clock_mhz, bool) or not isinstance(clock_mhz, (int, float))
                                  or not clock_mhz > 0):
        raise TypeError(f"Clock must be None or a positive number of MHz, not {clock_mhz!r}")
    return clock_mhz


class UartLink(wiring.Component):
    """A UART receiver with its receive FIFO and a transmitter: serial lines on one side, byte streams on the other.

    A byte that finds the receive FIFO full is lost (the line has no flow control) and counted by the receiver.

    Parameters
    ----------
    clk_freq : int or float
        Frequency of the ``sync`` clock in Hz.
    baud : int
        Bit rate.

    Members
    -------
    rx_line : In(1)
        Serial line from the host, idle high.
    tx_line : Out(1)
        Serial line to the host, idle high.
    rx : Out(stream.Signature(8))
        Bytes from the host.
    tx : In(stream.Signature(8))
        Bytes to the host.
    errors : Out(16)
        Bytes lost: :attr:`spikeforge.hdl.uart.UartRx.errors`.
    activity : Out(1)
        A byte arrived or left in this cycle.
    """

    rx_line: In(1, init=1)
    tx_line: Out(1, init=1)
    rx: Out(stream.Signature(8))
    tx: In(stream.Signature(8))
    errors: Out(16)
    activity: Out(1)

    def __init__(self, *, clk_freq, baud):
        self._clk_freq = clk_freq
        self._baud = check_baud(baud)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = UartRx(clk_freq=self._clk_freq, baud=self._baud)
        m.submodules.uart_tx = uart_tx = UartTx(clk_freq=self._clk_freq, baud=self._baud)
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=RX_FIFO_DEPTH)
        m.d.comb += [uart_rx.rx.eq(self.rx_line), self.tx_line.eq(uart_tx.tx), self.errors.eq(uart_rx.errors),
                     self.activity.eq(uart_rx.data.valid | (uart_tx.data.valid & uart_tx.data.ready))]
        wiring.connect(m, uart_rx.data, rx_fifo.w_stream)
        wiring.connect(m, rx_fifo.r_stream, wiring.flipped(self.rx))
        wiring.connect(m, wiring.flipped(self.tx), uart_tx.data)
        return m


def add_uart_link(m, platform, *, baud, clock_mhz):
    """Make the ``sync`` domain of module ``m`` at ``clock_mhz`` (:func:`~spikeforge.boards.clocking.add_board_clock`:
    None for the board's oscillator), put a :class:`UartLink` counting its bit time in that clock on the board's
    UART pins and return it.

    The first LED, when the board has one, lights for about 50 ms after each byte to or from the host.
    """
    clk_freq = add_board_clock(m, platform, clock_mhz)
    uart = platform.request("uart", dir="-")
    m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
    m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
    m.submodules.link = link = UartLink(clk_freq=clk_freq, baud=baud)
    m.d.comb += [link.rx_line.eq(rx_buf.i), tx_buf.o.eq(link.tx_line)]

    if any(name == "led" for name, _ in platform.resources):
        m.submodules.led_buf = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        # The hold time counts in steps of _LED_STEP cycles, so no counter is wider than 12 bits (a 21-bit
        # count-down with its zero test was the slowest path of a small design at 30 MHz on the iCE40).
        step = Signal(range(_LED_STEP))
        steps = max(1, int(clk_freq // 20) // _LED_STEP)
        hold = Signal(range(steps + 1))
        m.d.sync += step.eq(step + 1)
        with m.If(link.activity):
            m.d.sync += hold.eq(steps)
        with m.Elif((step == _LED_STEP - 1) & (hold != 0)):
            m.d.sync += hold.eq(hold - 1)
        m.d.comb += led.o.eq(hold != 0)
    return link


class HostTop(Elaboratable):
    """What every board top-level shares: a block's validated parameters, the UART bit rate and the clock, and an
    elaboration that makes the UART link (:func:`add_uart_link`) and hands it to :meth:`attach`, which adds the
    block and its host bridge behind it. A subclass checks the type of ``params``, builds its block, and
    defines ``block`` and ``attach``; :class:`~spikeforge.boards.simulated.SimulatedBoard` calls ``attach``
    with a link of its own.

    Parameters
    ----------
    params
        The block's parameters (checked by the subclass).
    baud : int
        UART bit rate; checked against the board clock at elaboration.
    clock_mhz : int, float or None
        The clock the top runs at, from the board's oscillator through a PLL
        (:func:`~spikeforge.boards.clocking.add_board_clock`); None for the oscillator itself.
    """

    def __init__(self, params, *, baud=DEFAULT_BAUD, clock_mhz=None):
        self._params = params
        self._baud = check_baud(baud)
        self._clock_mhz = check_clock(clock_mhz)

    @property
    def params(self):
        return self._params

    @property
    def baud(self):
        return self._baud

    @property
    def clock_mhz(self):
        """The clock asked for in MHz (:func:`~spikeforge.boards.clocking.add_board_clock`), None for the
        board's oscillator."""
        return self._clock_mhz

    def attach(self, m, link):
        """Add the block and its host bridge to module ``m`` behind ``link``: its ``rx`` (bytes from the host),
        ``tx`` (bytes to the host) and ``errors`` (bytes the link lost), as :class:`UartLink` has them."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        self.attach(m, add_uart_link(m, platform, baud=self._baud, clock_mhz=self._clock_mhz))
        return m
