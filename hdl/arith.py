"""Saturating arithmetic shared by the generators."""

from amaranth.hdl import Mux


__all__ = ["saturate"]


def saturate(value, lo, hi):
    """``value`` clipped to ``lo``..``hi``."""
    return Mux(value > hi, hi, Mux(value < lo, lo, value))
