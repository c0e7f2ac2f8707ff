"""The attention unit's part of its manifest (:mod:`spikeforge.hdl.manifest`), see docs/attention.md."""

from ..manifest import describe_block
from .unit import AttentionUnit


__all__ = ["attention_manifest"]


def attention_manifest(unit):
    """Describe an :class:`~spikeforge.hdl.attention.unit.AttentionUnit`: its ``[attention]`` parameters and
    the rows its streams carry (``derived``: tokens, channels and the calls' row counts)."""
    if not isinstance(unit, AttentionUnit):
        raise TypeError(f"unit must be an AttentionUnit, not {unit!r}")
    p = unit.params
    derived = {"rows_per_call": p.tokens * p.timesteps, "row_bits": p.channels}
    return describe_block("attention", {"attention": p.to_dict()}, derived=derived)
