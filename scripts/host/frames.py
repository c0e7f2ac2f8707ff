"""The host's side of the link framing, protocol version 2 (docs/host_protocol.md; the gateware's side is
:mod:`spikeforge.hdl.link_frames`).

A frame's body is its sequence number, its code, its payload and a CRC-16/CCITT-FALSE of those (polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR), most significant byte first. On the link the body is
byte-stuffed (``0x7E`` and ``0x7D`` become ``0x7D``, byte XOR ``0x20``); the host sends the flag ``0x7E`` before
each frame, the device after each. Pure Python.
"""

from __future__ import annotations

import dataclasses


__all__ = ["FLAG", "ESCAPE", "Frame", "FrameReader", "crc16", "encode"]


FLAG = 0x7E
ESCAPE = 0x7D
_ESCAPE_XOR = 0x20
_MIN_BODY = 4           # sequence number, code, CRC


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of ``data`` (``crc16(b"123456789") == 0x29B1``)."""
    for byte in data:
        x = ((crc >> 8) ^ byte) & 0xFF
        x ^= x >> 4
        crc = ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x) & 0xFFFF
    return crc


def _stuff(body):
    out = bytearray()
    for byte in body:
        if byte in (FLAG, ESCAPE):
            out += bytes([ESCAPE, byte ^ _ESCAPE_XOR])
        else:
            out.append(byte)
    return bytes(out)


def encode(seq, code, payload=b""):
    """The link bytes of a host frame: the flag, then the stuffed body and CRC."""
    body = bytes([seq & 0xFF, code]) + bytes(payload)
    return bytes([FLAG]) + _stuff(body + crc16(body).to_bytes(2, "big"))


@dataclasses.dataclass(frozen=True)
class Frame:
    """A frame received whole, its CRC checked."""

    seq: int
    code: int
    payload: bytes


class FrameReader:
    """Splits the device's bytes into frames at the flags; a body whose CRC fails (or too short to hold one) is
    counted in ``bad`` and dropped.

    Attributes
    ----------
    bad : int
        Frames dropped so far.
    """

    def __init__(self):
        self._body = bytearray()
        self._escaped = False
        self.bad = 0

    def feed(self, data):
        """The frames completed by ``data``, in order."""
        frames = []
        for byte in data:
            if byte == FLAG:
                frame = self._finish()
                if frame is not None:
                    frames.append(frame)
            elif byte == ESCAPE and not self._escaped:
                self._escaped = True
            else:
                self._body.append(byte ^ (_ESCAPE_XOR if self._escaped else 0))
                self._escaped = False
        return frames

    def _finish(self):
        body, self._body, self._escaped = bytes(self._body), bytearray(), False
        if not body:
            return None
        if len(body) < _MIN_BODY or crc16(body) != 0:
            self.bad += 1
            return None
        return Frame(seq=body[0], code=body[1], payload=body[2:-2])
