"""The clock of a board top-level: the board's oscillator, or a PLL from it at a chosen frequency.

:func:`add_board_clock` makes the ``sync`` domain of a board top-level and returns its frequency, which the UART
divisor follows. The PLL's divider settings are found by the same search as the vendor tools' calculators,
Project IceStorm's ``icepll`` (:func:`ice40_pll`, an iCE40 SB_PLL40 in SIMPLE feedback mode) and Project
Trellis' ``ecppll`` (:func:`ecp5_pll`, an ECP5 EHXPLLL fed back from CLKOP); both ship with the YoWASP packages
as ``yowasp-icepll`` and ``yowasp-ecppll``, and the tests compare the two searches with them.

Without a platform (a simulation, :class:`spikeforge.boards.simulated.SimulatedBoard`) no PLL is built: the
simulator drives ``sync`` and the frequency is the chosen one, so the UART's divisor is the board's.

The ``sync`` domain of a PLL clock stays in reset until the PLL has locked and then for 15 us more (the iCE40's
block RAMs read as zeros for about 3 us after configuration; the margin is Amaranth's own power-on reset's).
"""

from dataclasses import dataclass
from functools import cache

import numpy as np
from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, ResetSignal, Signal
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer
from amaranth.vendor import SiliconBluePlatform


__all__ = ["CLOCKS_MHZ", "FASTEST", "Ice40Pll", "Ecp5Pll", "ice40_pll", "ecp5_pll", "pll_for", "clock_hz",
           "add_board_clock"]


#: The clocks a build tries when none is chosen, highest first, per FPGA family: multiples of 3 MHz from the
#: iCEBreaker's 12 MHz (so 3,000,000 baud divides them exactly), steps the ECP5 PLL makes exactly from 25 MHz.
CLOCKS_MHZ = {
    "ice40": (42.0, 39.0, 36.0, 33.0, 30.0, 27.0, 24.0, 21.0, 18.0, 12.0),
    "ecp5": (125.0, 112.5, 100.0, 90.0, 80.0, 75.0, 62.5, 50.0, 25.0),
}

#: ``clock_mhz`` of a build that tries :data:`CLOCKS_MHZ` and keeps the highest that meets timing.
FASTEST = "fastest"

_SETTLE_SECONDS = 15e-6


@dataclass(frozen=True)
class Ice40Pll:
    """Settings of an iCE40 SB_PLL40 in SIMPLE feedback mode: f_out = f_in / (divr + 1) * (divf + 1) / 2**divq."""
    divr: int
    divf: int
    divq: int
    filter_range: int
    f_out_mhz: float


@dataclass(frozen=True)
class Ecp5Pll:
    """Settings of an ECP5 EHXPLLL fed back from CLKOP: f_out = f_in / clki_div * clkfb_div, the VCO at
    f_out * clkop_div, CLKOP shifted 180 degrees (``clkop_cphase``) as Lattice's tools do."""
    clki_div: int
    clkfb_div: int
    clkop_div: int
    clkop_cphase: int
    f_out_mhz: float
    f_vco_mhz: float


def _check_mhz(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of MHz, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be within {lo:g}..{hi:g} MHz, not {value:g}")


@cache
def ice40_pll(f_in_mhz, f_out_mhz):
    """The SB_PLL40 settings closest to ``f_out_mhz`` from ``f_in_mhz``, as ``icepll -i F_IN -o F_OUT`` finds
    them: the PFD within 10..133 MHz, the VCO within 533..1066 MHz, the first of equally close settings.

    Raises
    ------
    TypeError, ValueError
        If a frequency is not a number within the PLL's range (input 10..133 MHz, output 16..275 MHz).
    """
    _check_mhz("PLL input frequency", f_in_mhz, 10, 133)
    _check_mhz("PLL output frequency", f_out_mhz, 16, 275)
    best = None
    for divr in range(16):
        f_pfd = f_in_mhz / (divr + 1)
        if not 10 <= f_pfd <= 133:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533 <= f_vco <= 1066:
                continue
            for divq in range(1, 7):
                f_out = f_vco * 2.0 ** -divq
                if best is None or abs(f_out - f_out_mhz) < abs(best[0] - f_out_mhz):
                    best = (f_out, divr, divf, divq)
    f_out, divr, divf, divq = best
    f_pfd = f_in_mhz / (divr + 1)
    filter_range = 1 + sum(f_pfd >= edge for edge in (17, 26, 44, 66, 101))
    return Ice40Pll(divr=divr, divf=divf, divq=divq, filter_range=filter_range, f_out_mhz=f_out)


@cache
def ecp5_pll(f_in_mhz, f_out_mhz):
    """The EHXPLLL settings closest to ``f_out_mhz`` from ``f_in_mhz``, as ``ecppll -i F_IN -o F_OUT`` finds
    them (in single precision, as it computes): the PFD at least 3.125 MHz, the VCO within 400..800 MHz, of
    equally close settings the one whose VCO is nearest 600 MHz.

    Raises
    ------
    TypeError, ValueError
        If a frequency is not a number within the PLL's range (input 8..400 MHz, output 10..400 MHz).
    """
    _check_mhz("PLL input frequency", f_in_mhz, 8, 400)
    _check_mhz("PLL output frequency", f_out_mhz, 10, 400)
    f32 = np.float32
    f_in, wanted = f32(f_in_mhz), f32(f_out_mhz)
    error, best = f32(np.inf), None
    for clki_div in range(1, 129):
        f_pfd = f_in / f32(clki_div)
        if f_pfd < f32(3.125) or f_pfd > f32(400):
            continue
        for clkfb_div in range(1, 81):
            for clkop_div in range(1, 129):
                f_vco = f_pfd * f32(clkfb_div) * f32(clkop_div)
                if f_vco < f32(400) or f_vco > f32(800):
                    continue
                f_out = f_vco / f32(clkop_div)
                off = abs(f_out - wanted)
                if off < error or (off == error and abs(f_vco - f32(600)) < abs(best[4] - f32(600))):
                    error, best = off, (clki_div, clkfb_div, clkop_div, f_out, f_vco)
    clki_div, clkfb_div, clkop_div, f_out, f_vco = best
    # ecppll: half a period of the output (held in single precision) in VCO cycles, truncated to an integer.
    half_period = f32(1 / (float(f_out) * 1e6) * 0.5)
    cphase = int(float(half_period) * (float(f_vco) * 1e6))
    return Ecp5Pll(clki_div=clki_div, clkfb_div=clkfb_div, clkop_div=clkop_div, clkop_cphase=cphase,
                   f_out_mhz=float(f_out), f_vco_mhz=float(f_vco))


def pll_for(family, f_in_mhz, f_out_mhz):
    """:func:`ice40_pll` or :func:`ecp5_pll` for ``family`` (``"ice40"`` or ``"ecp5"``)."""
    return {"ice40": ice40_pll, "ecp5": ecp5_pll}[family](f_in_mhz, f_out_mhz)


def clock_hz(family, oscillator_hz, clock_mhz):
    """The frequency in Hz a board top-level runs at: the oscillator's when ``clock_mhz`` is None or equals it,
    else what the PLL makes of ``clock_mhz`` (a close frequency, :func:`pll_for`)."""
    if clock_mhz is None or clock_mhz * 1e6 == oscillator_hz:
        return oscillator_hz
    return round(pll_for(family, oscillator_hz / 1e6, clock_mhz).f_out_mhz * 1e6)


def _family(platform):
    return "ice40" if isinstance(platform, SiliconBluePlatform) else "ecp5"


def add_board_clock(m, platform, clock_mhz, *, sim_hz=None):
    """Make module ``m``'s ``sync`` domain run at ``clock_mhz`` and return its frequency in Hz.

    On a board (``platform`` given): None, or the oscillator's frequency, leaves ``sync`` to the platform (its
    oscillator, with Amaranth's power-on reset); any other frequency puts the platform's oscillator through a
    PLL (SB_PLL40_PAD on the iCE40, EHXPLLL on the ECP5) set as :func:`pll_for` says. In a simulation
    (``platform`` None) the simulator drives ``sync``; the frequency is ``clock_mhz``, or ``sim_hz`` when it is
    None.
    """
    if platform is None:
        return sim_hz if clock_mhz is None else round(clock_mhz * 1e6)
    oscillator_hz = platform.default_clk_frequency
    family = _family(platform)
    hz = clock_hz(family, oscillator_hz, clock_mhz)
    if clock_mhz is None or hz == oscillator_hz:
        return oscillator_hz
    pad = platform.request(platform.default_clk, dir="-")
    pll_out, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
    settings = pll_for(family, oscillator_hz / 1e6, clock_mhz)
    if family == "ice40":
        m.submodules.pll = Instance(
            "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=settings.divr, p_DIVF=settings.divf,
            p_DIVQ=settings.divq, p_FILTER_RANGE=settings.filter_range,
            i_PACKAGEPIN=pad.io, i_RESETB=Const(1), i_BYPASS=Const(0), o_PLLOUTGLOBAL=pll_out, o_LOCK=lock)
    else:
        m.submodules.clk_buf = clk_buf = io.Buffer("i", pad)
        m.submodules.pll = Instance(
            "EHXPLLL", a_FREQUENCY_PIN_CLKI=f"{oscillator_hz / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{hz / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
            p_CLKI_DIV=settings.clki_div, p_CLKFB_DIV=settings.clkfb_div, p_CLKOP_DIV=settings.clkop_div,
            p_CLKOP_CPHASE=settings.clkop_cphase, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            i_CLKI=clk_buf.i, i_CLKFB=pll_out, i_RST=Const(0), i_STDBY=Const(0), i_PHASESEL0=Const(0),
            i_PHASESEL1=Const(0), i_PHASEDIR=Const(1), i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1),
            i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0), o_CLKOP=pll_out, o_LOCK=lock)
    platform.add_clock_constraint(pll_out, hz)

    # `sync` leaves reset _SETTLE_SECONDS after the PLL locks; the counter runs on the PLL's clock.
    m.domains.pll = ClockDomain("pll", reset_less=True, local=True)
    m.domains.sync = ClockDomain("sync")
    m.d.comb += [ClockSignal("pll").eq(pll_out), ClockSignal("sync").eq(pll_out)]
    locked = Signal()
    m.submodules.lock_sync = FFSynchronizer(lock, locked, o_domain="pll")
    settle = int(_SETTLE_SECONDS * hz)
    timer = Signal(range(settle + 1))
    with m.If(~locked):
        m.d.pll += timer.eq(0)
    with m.Elif(timer != settle):
        m.d.pll += timer.eq(timer + 1)
    m.d.comb += ResetSignal("sync").eq(timer != settle)
    return hz
