"""A board top-level for a simulator: the block and its host link with the link's ends as top-level ports.

:class:`SimulatedBoard` puts a board top-level's block and host bridge (its ``attach``) behind either the real
UART gateware, whose serial lines become the ports ``uart_rx`` and ``uart_tx``, or directly behind the byte
streams ``rx`` and ``tx``, which a simulation drives a byte per cycle. The simulated board of the host runtime
(:mod:`spikeforge.sim.board`) runs it.
"""

import types

from amaranth.hdl import Const, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .clocking import add_board_clock
from .host_link import UartLink


__all__ = ["SimulatedBoard"]


class SimulatedBoard(wiring.Component):
    """A board top-level with the ends of its host link as ports.

    Parameters
    ----------
    top : LifTop or ChipTop
        The board top-level (anything with ``attach(m, link)``, ``baud`` and ``clock_mhz``).
    clk_freq : int or float
        The frequency of the simulated board's oscillator in Hz: the clock when the top's ``clock_mhz`` is None.
    uart : bool
        Serial lines through the UART gateware (``uart_rx``, ``uart_tx``), or byte streams (``rx``, ``tx``).

    Attributes
    ----------
    clk_freq : int or float
        The clock the UART's bit time is counted in: the top's ``clock_mhz`` (no PLL: the simulator drives
        ``sync``, :func:`~spikeforge.boards.clocking.add_board_clock`), or the oscillator's.
    """

    def __init__(self, top, *, clk_freq, uart):
        self._top = top
        top._MustUse__silence = True        # it is elaborated here, through attach(), never on its own
        self._clk_freq = add_board_clock(None, None, top.clock_mhz, sim_hz=clk_freq)
        self._uart = uart
        if uart:
            super().__init__({"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1)})
        else:
            super().__init__({"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8))})

    @property
    def clk_freq(self):
        return self._clk_freq

    def elaborate(self, platform):
        m = Module()
        if self._uart:
            m.submodules.link = link = UartLink(clk_freq=self._clk_freq, baud=self._top.baud)
            m.d.comb += [link.rx_line.eq(self.uart_rx), self.uart_tx.eq(link.tx_line)]
        else:
            link = types.SimpleNamespace(rx=wiring.flipped(self.rx), tx=wiring.flipped(self.tx), errors=Const(0, 16))
        self._top.attach(m, link)
        return m
