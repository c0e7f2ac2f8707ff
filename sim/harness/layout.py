"""Packing and unpacking of stream payloads from a layout description, in pure Python.

A layout description is what :mod:`spikeforge.hdl.export` writes into the build manifest for each
stream payload: the payload width and, for a struct, ``{field: (offset, width, signed)}`` with the bit offsets
Amaranth chose (LSB first). An enumeration field also lists its members, so a bench can write ``"WRITE"``
instead of a magic number. Nothing here imports Amaranth, so a cocotb test can use it inside the simulator.
"""

from __future__ import annotations

import dataclasses
import numbers


__all__ = ["Field", "Layout", "flat_fields"]


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a payload: ``width`` bits at bit ``offset``, two's complement when ``signed``."""

    offset: int
    width: int
    signed: bool

    @property
    def range(self):
        """Inclusive (min, max) of the values the field holds."""
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1

    def fits(self, value):
        lo, hi = self.range
        return lo <= value <= hi

    def encode(self, value):
        """``value`` as the field's raw bits (an unsigned integer below ``1 << width``)."""
        return value & ((1 << self.width) - 1)

    def decode(self, bits):
        """The value of the field's raw bits."""
        if self.signed and bits >> (self.width - 1):
            return bits - (1 << self.width)
        return bits


class Layout:
    """The bit layout of one payload.

    Parameters
    ----------
    name : str
        What the payload belongs to (the port name), used in error messages.
    width : int
        Total payload width in bits.
    fields : dict or None
        ``{field: (offset, width, signed)}`` for a struct payload; ``None`` for a plain value whose signedness is
        ``signed``.
    signed : bool
        Signedness of a plain (non-struct) payload.
    enums : dict, optional
        ``{field: {member: value}}`` for the enumeration fields.

    Raises
    ------
    ValueError
        If a field does not lie inside the payload.
    """

    def __init__(self, *, name, width, fields=None, signed=False, enums=None):
        self._name = name
        self._width = width
        self._whole = Field(0, width, bool(signed))
        self._fields = None
        if fields is not None:
            self._fields = {}
            for field_name, (offset, field_width, field_signed) in fields.items():
                if offset < 0 or field_width < 1 or offset + field_width > width:
                    raise ValueError(f"Field '{field_name}' of '{name}' at bits {offset}..{offset + field_width - 1}"
                                     f" does not lie inside the {width}-bit payload")
                self._fields[field_name] = Field(offset, field_width, bool(field_signed))
        self._enums = {field_name: dict(members) for field_name, members in (enums or {}).items()}

    @classmethod
    def from_description(cls, name, description):
        """Build from the JSON description of a payload (see :mod:`spikeforge.hdl.export`)."""
        fields = description.get("fields")
        if fields is not None:
            fields = {field_name: tuple(spec) for field_name, spec in fields.items()}
        return cls(name=name, width=description["width"], fields=fields, signed=description.get("signed", False),
                   enums=description.get("enums"))

    @property
    def name(self):
        return self._name

    @property
    def width(self):
        return self._width

    @property
    def fields(self):
        """``{field: Field}``, or ``None`` for a plain payload."""
        return None if self._fields is None else dict(self._fields)

    def field(self, name):
        """The :class:`Field` called ``name``; raises KeyError naming the known fields."""
        try:
            return self._fields[name]
        except (KeyError, TypeError):
            known = ", ".join(self._fields or ()) or "none, it is a plain value"
            raise KeyError(f"Payload '{self._name}' has no field '{name}'; its fields are {known}") from None

    def enum_members(self, field):
        """``{member: value}`` of enumeration ``field`` (empty when it is not an enumeration)."""
        return dict(self._enums.get(field, {}))

    def enum_value(self, field, member):
        """The value of enumeration member ``member`` (a name) of ``field``."""
        members = self._enums.get(field)
        if members is None:
            raise KeyError(f"Field '{field}' of '{self._name}' is not an enumeration")
        if member not in members:
            raise KeyError(f"Field '{field}' of '{self._name}' has no member '{member}'; "
                           f"its members are {', '.join(members)}")
        return members[member]

    def enum_name(self, field, value):
        """The name of the member of enumeration ``field`` with ``value``, or None when there is none."""
        for member, member_value in self._enums.get(field, {}).items():
            if member_value == value:
                return member
        return None

    def pack(self, value):
        """The payload bits (an unsigned integer) for ``value``.

        ``value`` is an integer for a plain payload, or a mapping ``{field: value}`` for a struct; missing fields
        are 0 and an enumeration field also takes a member name.

        Raises
        ------
        ValueError
            If a value does not fit its field.
        KeyError
            If a field or an enumeration member is unknown.
        """
        if self._fields is None:
            return self._encode(self._whole, self._name, value)
        if not hasattr(value, "items"):
            raise TypeError(f"Payload '{self._name}' is a struct; pass a mapping of its fields, not {value!r}")
        bits = 0
        for field_name, field_value in value.items():
            field = self.field(field_name)
            if isinstance(field_value, str):
                field_value = self.enum_value(field_name, field_value)
            bits |= self._encode(field, f"{self._name}.{field_name}", field_value) << field.offset
        return bits

    def unpack(self, bits):
        """The value of payload ``bits``: an integer, or ``{field: integer}`` for a struct."""
        if not 0 <= bits < (1 << self._width):
            raise ValueError(f"Payload '{self._name}' is {self._width} bits wide; {bits:#x} does not fit")
        if self._fields is None:
            return self._whole.decode(bits)
        return {field_name: field.decode((bits >> field.offset) & ((1 << field.width) - 1))
                for field_name, field in self._fields.items()}

    @staticmethod
    def _encode(field, what, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"Value of '{what}' must be an integer, not {value!r}")
        value = int(value)
        if not field.fits(value):
            lo, hi = field.range
            kind = "signed" if field.signed else "unsigned"
            raise ValueError(f"Value of '{what}' must fit {field.width} bits {kind} ({lo}..{hi}); "
                             f"{value} does not")
        return field.encode(value)

    def __repr__(self):
        if self._fields is None:
            return f"Layout({self._name!r}, width={self._width})"
        fields = ", ".join(f"{name}@{f.offset}:{f.width}{'s' if f.signed else 'u'}"
                           for name, f in self._fields.items())
        return f"Layout({self._name!r}, width={self._width}, {fields})"


def flat_fields(fields, prefix=""):
    """``{"entry": {"enable": 1}}`` -> ``{"entry.enable": 1}``: nested field values by the manifest's field
    names, as :meth:`Layout.pack` takes them."""
    flat = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            flat.update(flat_fields(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat
