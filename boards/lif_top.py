"""Board top-level of a LIF core: the core behind a UART host link (see docs/host_protocol.md)."""

from amaranth.lib import wiring

from spikeforge.hdl.host_bridge import LifHostBridge
from spikeforge.hdl.lif_core.core import LifCore
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams

from .host_link import HostTop
from .platforms import DEFAULT_BAUD


__all__ = ["LifTop"]


class LifTop(HostTop):
    """A :class:`~spikeforge.hdl.lif_core.core.LifCore` and its host link on the board's UART.

    The ``sync`` domain is the board's oscillator or a PLL from it (``clock_mhz``); pins come from the
    platform. The first LED, when the board has one, lights for about 50 ms after each byte to or from the host.

    Parameters
    ----------
    params : LifParams
        The core's parameters.
    stdp : StdpParams or None
        Build the core with this STDP learning engine (when enabled); its reward commands are the host's REWARD
        frames.
    baud, clock_mhz
        The UART bit rate and the clock, as :class:`~spikeforge.boards.host_link.HostTop` takes them.

    Raises
    ------
    TypeError
        If ``params`` is not a LifParams, ``stdp`` not a StdpParams or None, or ``baud`` not a positive
        integer.
    """

    def __init__(self, params, *, stdp=None, baud=DEFAULT_BAUD, clock_mhz=None):
        if not isinstance(params, LifParams):
            raise TypeError(f"params must be a LifParams, not {params!r}")
        if stdp is not None and not isinstance(stdp, StdpParams):
            raise TypeError(f"stdp must be a StdpParams or None, not {stdp!r}")
        super().__init__(params, baud=baud, clock_mhz=clock_mhz)
        self._stdp = stdp
        self._core = LifCore(params, stdp=stdp)

    @property
    def stdp(self):
        return self._stdp

    @property
    def block(self):
        """The :class:`~spikeforge.hdl.lif_core.core.LifCore` inside."""
        return self._core

    def attach(self, m, link):
        m.submodules.core = core = self._core
        m.submodules.host = host = LifHostBridge(core)
        wiring.connect(m, host.core, core)
        wiring.connect(m, link.rx, host.rx)
        wiring.connect(m, host.tx, link.tx)
        m.d.comb += host.link_errors.eq(link.errors)
