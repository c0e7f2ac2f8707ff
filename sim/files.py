"""Rules every reader of a user's data file follows (events, packets): integers are plain ASCII decimals, and
times are bounded so that no file can ask for unbounded work."""

from __future__ import annotations

import re


__all__ = ["MAX_STEPS", "decimal"]


#: The most timesteps (LIF events) or cycles (packets) a file may reach: work grows with the latest time.
MAX_STEPS = 1_000_000

_DECIMAL = re.compile(r"[+-]?[0-9]+")


def decimal(cell):
    """The integer a CSV cell writes in ASCII decimal digits; ValueError for anything else (Python's ``int``
    would also take ``1_0`` and non-ASCII digits)."""
    text = cell.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a decimal integer: {cell!r}")
    return int(text)
