"""The byte framing of the host link, protocol version 2 (docs/host_protocol.md): flags, byte stuffing, CRC-16.

A frame's body (its sequence number, code and payload) travels byte-stuffed as in HDLC's asynchronous framing
(RFC 1662, section 4.2): the flag ``0x7E`` marks a frame boundary and never occurs inside a frame; a body byte
``0x7E`` or ``0x7D`` is sent as ``0x7D`` followed by the byte XOR ``0x20``. The body ends with its CRC-16/CCITT-FALSE
(polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR), most significant byte first, so that the
CRC of a whole body, CRC included, is 0.

:class:`FrameDecoder` turns link bytes into body bytes, marking the first of each frame; :class:`FrameEncoder`
turns body bytes into a stuffed frame with its CRC and the closing flag. The host side of the same rules is
:mod:`spikeforge.scripts.host.frames`.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["FLAG", "ESCAPE", "CRC_INIT", "crc16_update", "FrameDecoder", "FrameEncoder", "BodyByte"]


FLAG = 0x7E
ESCAPE = 0x7D
_ESCAPE_XOR = 0x20
CRC_INIT = 0xFFFF

#: A body byte, and whether it is the first of its frame (decoder) or the last before the CRC (encoder).
BodyByte = data.StructLayout({"data": 8, "mark": 1})


def crc16_update(crc, byte):
    """The CRC-16/CCITT-FALSE register after ``byte``: the byte-wise form of the bit-serial CRC (as in
    Peter Ekstrom's table-free CRC-CCITT), a few XORs deep."""
    x = crc[8:16] ^ byte
    x = (x ^ (x >> 4))[:8]
    return ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x)[:16]


class FrameDecoder(wiring.Component):
    """Link bytes to body bytes: flags and escapes removed, the first body byte of a frame marked.

    Members
    -------
    link : In(stream.Signature(8))
        Bytes as they arrive.
    body : Out(stream.Signature(BodyByte))
        Unstuffed body bytes; ``mark`` is set on the first byte after a flag. Bytes before the first flag, or
        after a flag until the next, are passed on unmarked: the receiver ignores them until a marked byte.
    """

    link: In(stream.Signature(8))
    body: Out(stream.Signature(BodyByte))

    def elaborate(self, platform):
        m = Module()
        escaped = Signal()
        first = Signal()
        byte = self.link.payload
        control = (byte == FLAG) | ((byte == ESCAPE) & ~escaped)
        m.d.comb += [
            self.link.ready.eq(self.body.ready | control),
            self.body.valid.eq(self.link.valid & ~control),
            self.body.payload.data.eq(byte ^ Cat(0, 0, 0, 0, 0, escaped)),
            self.body.payload.mark.eq(first),
        ]
        with m.If(self.link.valid & self.link.ready):
            m.d.sync += escaped.eq((byte == ESCAPE) & ~escaped)
            with m.If(byte == FLAG):
                m.d.sync += [first.eq(1), escaped.eq(0)]
            with m.Elif(~control):
                m.d.sync += first.eq(0)
        return m


class FrameEncoder(wiring.Component):
    """Body bytes to a frame on the link: stuffed body, its CRC (most significant byte first), a closing flag.

    Members
    -------
    body : In(stream.Signature(BodyByte))
        The frame's body bytes; ``mark`` on the last.
    link : Out(stream.Signature(8))
        Bytes to send.
    """

    body: In(stream.Signature(BodyByte))
    link: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        crc = Signal(16, init=CRC_INIT)
        escaped = Signal()          # the escape of the current byte was sent
        # The byte to send now: a body byte, a CRC byte, or the flag.
        byte = Signal(8)
        valid = Signal()
        done = Signal()             # the current byte was sent whole (its escape too)

        needs_escape = (byte == FLAG) | (byte == ESCAPE)
        m.d.comb += [
            self.link.valid.eq(valid),
            self.link.payload.eq(byte),
            done.eq(self.link.ready & ~needs_escape | escaped & self.link.ready),
        ]
        with m.FSM(name="encoder") as fsm:
            with m.State("BODY"):
                m.d.comb += [byte.eq(self.body.payload.data), valid.eq(self.body.valid),
                             self.body.ready.eq(done)]
                with m.If(self.body.valid & done):
                    m.d.sync += crc.eq(crc16_update(crc, self.body.payload.data))
                    with m.If(self.body.payload.mark):
                        m.next = "CRC_HIGH"
            with m.State("CRC_HIGH"):
                m.d.comb += [byte.eq(crc[8:16]), valid.eq(1)]
                with m.If(done):
                    m.next = "CRC_LOW"
            with m.State("CRC_LOW"):
                m.d.comb += [byte.eq(crc[0:8]), valid.eq(1)]
                with m.If(done):
                    m.next = "FLAG"
            with m.State("FLAG"):
                m.d.comb += [valid.eq(1), self.link.payload.eq(FLAG)]
                with m.If(self.link.ready):
                    m.d.sync += crc.eq(CRC_INIT)
                    m.next = "BODY"
        # A byte to escape goes out as ESCAPE, then as itself XOR 0x20 (the flag is never escaped).
        with m.If(valid & needs_escape & ~fsm.ongoing("FLAG")):
            with m.If(~escaped):
                m.d.comb += self.link.payload.eq(ESCAPE)
            with m.Else():
                m.d.comb += self.link.payload.eq(byte ^ _ESCAPE_XOR)
            with m.If(self.link.ready):
                m.d.sync += escaped.eq(~escaped)
        return m
