"""Token rows as the unit's streams carry them: D spikes packed into an integer, bit c being channel c."""

from __future__ import annotations

import numpy as np


__all__ = ["pack_rows", "unpack_rows"]


def pack_rows(spikes):
    """Pack the last axis of a binary array into Python integers (bit c = element c); returns a list of ints
    of the array's leading shape, flattened."""
    a = np.asarray(spikes, dtype=np.uint8)
    flat = a.reshape(-1, a.shape[-1])
    packed = np.packbits(flat, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def unpack_rows(rows, channels):
    """The inverse of :func:`pack_rows`: a uint8 array of shape (len(rows), channels)."""
    nbytes = (channels + 7) // 8
    raw = np.frombuffer(b"".join(int(row).to_bytes(nbytes, "little") for row in rows), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(rows), nbytes), axis=1, bitorder="little")
    return bits[:, :channels].astype(np.uint8)
