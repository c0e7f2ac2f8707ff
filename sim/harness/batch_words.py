"""Stream payloads as arrays of 32-bit words, the form the batch harness takes and gives them in.

A payload of ``width`` bits is ``(width + 31) // 32`` words, least significant first; ``n`` beats are an array
of shape (n, words). :func:`pack` builds it from columns of field values (vectorized, checked like
:meth:`~spikeforge.sim.harness.layout.Layout.pack`) or from a sequence of values :meth:`Layout.pack` takes
(any width); :func:`unpack` gives one field's values back as an int64 array, :func:`as_ints` whole payloads as
Python integers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .layout import Field


__all__ = ["pack", "unpack", "as_ints", "word_count"]


def word_count(width):
    """32-bit words of a ``width``-bit payload (at least one)."""
    return max(1, (width + 31) // 32)


def pack(layout, values):
    """``values`` as an array (beats, words) of uint32.

    Parameters
    ----------
    layout : Layout
        The payload's layout.
    values : mapping or sequence
        ``{field: array of values}`` for a struct (a field may also be given by enumeration member names;
        missing fields are 0), or a sequence of payloads as :meth:`Layout.pack` takes them (integers, or
        ``{field: value}`` mappings).

    Raises
    ------
    ValueError
        If a value does not fit its field (naming the field, the first value that does not and its beat), or
        the columns differ in length.
    """
    words = word_count(layout.width)
    if not isinstance(values, Mapping):
        out = np.zeros((len(values), words), dtype=np.uint32)
        for beat, value in enumerate(values):
            bits = layout.pack(value)
            for k in range(words):
                out[beat, k] = (bits >> (32 * k)) & 0xFFFFFFFF
        return out
    lengths = {len(column) for column in values.values()}
    if len(lengths) > 1:
        raise ValueError(f"The field columns of '{layout.name}' differ in length: "
                         + ", ".join(f"{name} {len(column)}" for name, column in values.items()))
    out = np.zeros((lengths.pop() if lengths else 0, words), dtype=np.uint32)
    for name, column in values.items():
        field, what = layout.field(name), f"{layout.name}.{name}"
        if field.width > 64:
            raise ValueError(f"Field '{what}' is {field.width} bits wide; give the payloads as a sequence")
        column = np.asarray(column)
        if column.dtype.kind in "UO":
            column = np.array([layout.enum_value(name, v) if isinstance(v, str) else v for v in column.tolist()],
                              dtype=np.int64)
        _check_fits(column, field, what)
        _or_into(out, column.astype(np.int64).view(np.uint64) if column.dtype != np.uint64 else column, field)
    return out


def _check_fits(column, field, what):
    lo, hi = field.range
    if not column.size:
        return
    if column.dtype.kind not in "iu":
        raise TypeError(f"Values of '{what}' must be integers, not {column.dtype}")
    bad = np.flatnonzero((column < lo) | (column > hi)) if column.dtype != np.uint64 else np.flatnonzero(column > hi)
    if bad.size:
        kind = "signed" if field.signed else "unsigned"
        raise ValueError(f"Value of '{what}' must fit {field.width} bits {kind} ({lo}..{hi}); "
                         f"{int(column[bad[0]])} (beat {int(bad[0])}) does not")


def _or_into(out, bits, field):
    """OR the field's raw ``bits`` (uint64, already in range) into the words ``out``."""
    bits = bits & np.uint64((1 << field.width) - 1)
    for k in range(field.offset // 32, (field.offset + field.width - 1) // 32 + 1):
        shift = 32 * k - field.offset
        part = bits >> np.uint64(shift) if shift >= 0 else bits << np.uint64(-shift)
        out[:, k] |= (part & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def unpack(layout, words, name=None):
    """The values of field ``name`` in ``words`` (beats, words), as int64 (a field of at most 64 bits; an unsigned
    64-bit field as uint64); with ``name`` omitted, the raw bits of the whole payload (at most 64)."""
    field = Field(0, layout.width, False) if name is None else layout.field(name)
    if field.width > 64:
        raise ValueError(f"Field '{name}' of '{layout.name}' is {field.width} bits wide; use as_ints")
    words = np.asarray(words, dtype=np.uint32).reshape(len(words), word_count(layout.width)).astype(np.uint64)
    bits = np.zeros(len(words), dtype=np.uint64)
    for k in range(field.offset // 32, (field.offset + field.width - 1) // 32 + 1):
        shift = 32 * k - field.offset
        bits |= words[:, k] << np.uint64(shift) if shift >= 0 else words[:, k] >> np.uint64(-shift)
    if field.width < 64:
        bits &= np.uint64((1 << field.width) - 1)
    if not field.signed:
        return bits if field.width == 64 else bits.astype(np.int64)
    values = bits.view(np.int64)
    if field.width < 64:
        values = np.where(values >> (field.width - 1), values - (1 << field.width), values)
    return values


def as_ints(words):
    """Whole payloads of ``words`` (beats, words) as Python integers, any width."""
    return [sum(int(word) << (32 * k) for k, word in enumerate(row)) for row in np.asarray(words)]
