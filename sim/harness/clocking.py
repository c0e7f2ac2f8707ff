"""Clock, reset and cycle-level waits for cocotb benches of Amaranth blocks.

Like :mod:`spikeforge.sim.harness.streams`, every coroutine here returns right after a rising edge.
"""

from __future__ import annotations

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout


__all__ = ["CLOCK_PERIOD_NS", "start_clock", "reset", "wait_high", "Timeout"]


CLOCK_PERIOD_NS = 10


class Timeout(AssertionError):
    """A signal the bench waited for never came."""


def start_clock(clock):
    """Start a free-running clock of period :data:`CLOCK_PERIOD_NS` on ``clock``."""
    Clock(clock, CLOCK_PERIOD_NS, unit="ns").start()


async def reset(clock, rst, *, cycles=2):
    """Hold the synchronous reset ``rst`` high for ``cycles`` rising edges of ``clock``."""
    rst.value = 1
    await ClockCycles(clock, cycles)
    rst.value = 0
    await RisingEdge(clock)


async def wait_high(signal, *, clock, timeout, what):
    """Wait until ``signal`` is high in a cycle (sampled when settled, so a one-cycle pulse is not missed) and
    return after the rising edge of ``clock`` that ends that cycle. Sleeps until ``signal`` rises rather than
    waking every cycle.

    Raises
    ------
    Timeout
        After ``timeout`` clock cycles: "<what>: still waiting after <timeout> cycles".
    """
    settled, rises = ReadOnly(), RisingEdge(signal)

    async def high():
        await settled
        while not signal.value:
            await rises
            await settled

    try:
        await with_timeout(high(), timeout * CLOCK_PERIOD_NS, "ns")
    except SimTimeoutError:
        raise Timeout(f"{what}: still waiting after {timeout} cycles") from None
    await RisingEdge(clock)
