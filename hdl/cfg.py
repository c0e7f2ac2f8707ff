"""The operation of a configuration command, shared by the blocks with a configuration port (the LIF core's
:mod:`~spikeforge.hdl.lif_core.core`, the AER router's :mod:`~spikeforge.hdl.aer.packet`)."""

from amaranth.lib import enum


__all__ = ["CfgOp"]


class CfgOp(enum.Enum, shape=1):
    """Read the addressed item (the answer comes on the response stream) or write it."""
    READ = 0
    WRITE = 1
