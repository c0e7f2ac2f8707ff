"""Saturating arithmetic shared by the generators."""

from amaranth.hdl import Mux, Value


__all__ = ["saturate"]


def saturate(value, lo, hi):
    """``value`` clipped to ``lo``..``hi``.

    When the bounds are the whole range of a narrower width (k-bit signed: -2**(k - 1)..2**(k - 1) - 1, or k-bit
    unsigned: 0..2**k - 1), the bits of ``value`` above that width tell whether it fits, so no comparator (a carry
    chain each) sits between an adder and what it feeds. The result is the same."""
    value = Value.cast(value)
    width, is_signed = len(value), value.shape().signed
    for k in range(1, width):
        if is_signed and (lo, hi) == (-(1 << (k - 1)), (1 << (k - 1)) - 1):
            top = value[k - 1:]
            return Mux(top.all() | ~top.any(), value[:k].as_signed(), Mux(value[-1], lo, hi))
        if (lo, hi) == (0, (1 << k) - 1):
            return Mux(value[k:].any(), Mux(value[-1] if is_signed else 0, lo, hi), value[:k])
    return Mux(value > hi, hi, Mux(value < lo, lo, value))
