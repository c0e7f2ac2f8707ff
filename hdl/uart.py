"""An 8N1 UART transmitter and receiver with byte streams, for the host link of a board.

One start bit, eight data bits (least significant first), one stop bit, no parity. The bit time is a whole
number of clock cycles, the divisor ``round(clk_freq / baud)``, checked at construction.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


__all__ = ["UartTx", "UartRx", "uart_divisor"]


# The receiver samples the middle of a bit; below 4 cycles per bit that middle is not well defined.
_MIN_DIVISOR = 4
# Both ends of the link together tolerate about 4% of bit time drift over a 10-bit frame; keep our half.
_MAX_BAUD_ERROR = 0.02


def uart_divisor(clk_freq, baud):
    """Clock cycles per bit for ``baud`` from a ``clk_freq`` Hz clock.

    Raises
    ------
    TypeError
        If ``clk_freq`` is not a positive number or ``baud`` not a positive integer.
    ValueError
        If the divisor is below 4 or the rate it gives is more than 2% off ``baud``.
    """
    if isinstance(clk_freq, bool) or not isinstance(clk_freq, (int, float)) or not clk_freq > 0:
        raise TypeError(f"Clock frequency must be a positive number of Hz, not {clk_freq!r}")
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise TypeError(f"Baud rate must be a positive integer, not {baud!r}")
    divisor = round(clk_freq / baud)
    if divisor < _MIN_DIVISOR:
        raise ValueError(f"Baud rate {baud} needs at least {_MIN_DIVISOR} clock cycles per bit; a "
                         f"{clk_freq:g} Hz clock gives {clk_freq / baud:.2f}")
    error = abs(clk_freq / divisor - baud) / baud
    if error > _MAX_BAUD_ERROR:
        raise ValueError(f"Baud rate {baud} must be reachable within {_MAX_BAUD_ERROR:.0%} from a "
                         f"{clk_freq:g} Hz clock; the divisor {divisor} is {error:.2%} off")
    return divisor


class UartTx(wiring.Component):
    """8N1 UART transmitter.

    Parameters
    ----------
    clk_freq : int or float
        Frequency of the ``sync`` clock in Hz.
    baud : int
        Bit rate.

    Members
    -------
    data : In(stream.Signature(8))
        Bytes to send; a byte is accepted when the previous one's stop bit has ended.
    tx : Out(1)
        Serial line, idle high.

    Raises
    ------
    TypeError, ValueError
        See :func:`uart_divisor`.
    """

    data: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, *, clk_freq, baud):
        self._divisor = uart_divisor(clk_freq, baud)
        super().__init__()

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(9)                   # start bit and data bits still to send, LSB first
        bits_left = Signal(range(11))
        timer = Signal(range(self._divisor))

        with m.If((bits_left == 0) & (timer == 0)):
            m.d.comb += self.data.ready.eq(1)
            with m.If(self.data.valid):
                m.d.sync += [shreg.eq(Cat(0, self.data.payload)), bits_left.eq(10)]
        with m.Elif(timer == 0):
            # Put the next bit on the line; the stop bit is the 1 shifted in from the top.
            m.d.sync += [
                self.tx.eq(shreg[0]),
                shreg.eq(Cat(shreg[1:], 1)),
                bits_left.eq(bits_left - 1),
                timer.eq(self._divisor - 1),
            ]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(wiring.Component):
    """8N1 UART receiver.

    Parameters
    ----------
    clk_freq : int or float
        Frequency of the ``sync`` clock in Hz.
    baud : int
        Bit rate.

    Members
    -------
    rx : In(1)
        Serial line, idle high; synchronized to ``sync`` here.
    data : Out(stream.Signature(8))
        Received bytes. A byte not taken before the next one's stop bit is replaced by it.
    errors : Out(16)
        Saturating count of lost bytes: frames whose stop bit was low, and bytes that overwrote one that had
        not been taken.

    Raises
    ------
    TypeError, ValueError
        See :func:`uart_divisor`.
    """

    rx: In(1, init=1)
    data: Out(stream.Signature(8))
    errors: Out(16)

    def __init__(self, *, clk_freq, baud):
        self._divisor = uart_divisor(clk_freq, baud)
        super().__init__()

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self._divisor))
        shreg = Signal(8)
        bits_left = Signal(range(9))
        count_error = Signal()

        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.If(count_error & (self.errors != 0xFFFF)):
            m.d.sync += self.errors.eq(self.errors + 1)

        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM(name="rx"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self._divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"         # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self._divisor - 1), bits_left.eq(8)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), timer.eq(self._divisor - 1)]
                    m.d.sync += bits_left.eq(bits_left - 1)
                    with m.If(bits_left == 1):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.data.payload.eq(shreg), self.data.valid.eq(1)]
                        m.d.comb += count_error.eq(self.data.valid & ~self.data.ready)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += count_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                # After a framing error wait for the line to go idle before looking for a start bit.
                with m.If(line):
                    m.next = "IDLE"
        return m
