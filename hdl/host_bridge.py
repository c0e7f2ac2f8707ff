"""A framed byte protocol between a host PC and on-chip streams, and its binding to the LIF core.

:class:`HostBridge` is generic: it is given the payload shapes of the command streams it drives (host to
device) and of the reply streams it collects (device to host), and numbers their frames in that order. Protocol
version 2 (docs/host_protocol.md): every frame is a sequence number, a code, the payload's bits little-endian in
whole bytes and a CRC-16, byte-stuffed between flags (:mod:`spikeforge.hdl.link_frames`). Commands are executed
in sequence order, once each, and acknowledged; replies are sent one at a time and held until the host
acknowledges them. :class:`LifHostBridge` binds a :class:`~spikeforge.hdl.lif_core.core.LifCore` to it: axon
events, ticks and configuration commands in; spikes, configuration read data, done markers and the core's
counters out.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .lif_core.manifest import lif_core_manifest
from .link_frames import CRC_INIT, BodyByte, FrameDecoder, FrameEncoder, crc16_update
from .manifest import manifest_digest


__all__ = ["HostBridge", "LifHostBridge", "hold_pulse", "info_header", "payload_bytes", "INFO", "STATUS", "ACK",
           "NAK", "FIRST_USER_OPCODE", "LIF_INFO_MAGIC", "PROTOCOL_VERSION"]


INFO = 0x00
STATUS = 0x01
ACK = 0x02
NAK = 0x03
FIRST_USER_OPCODE = 0x04
PROTOCOL_VERSION = 2
LIF_INFO_MAGIC = 0x4C   # "L"

_RESERVED_NAMES = ("rx", "tx", "status", "bad_frames")
_CRC_BYTES = 2


def payload_bytes(shape):
    """Bytes of a payload of ``shape`` on the link: its bits, little-endian, in whole bytes."""
    return (Shape.cast(shape).width + 7) // 8


def info_header(magic, manifest):
    """The first bytes of every INFO payload: the block's ``magic`` letter, the protocol version and the digest
    of its ``manifest`` (:func:`spikeforge.hdl.manifest.manifest_digest`)."""
    return bytes([magic, PROTOCOL_VERSION]) + manifest_digest(manifest)


def hold_pulse(m, pulse, reply):
    """Make each one-cycle ``pulse`` a beat of the payload-less ``reply`` stream, held until it is sent. Two
    can wait: when the host's ACK of one is lost, the host (which has it) goes on, and the block may pulse
    again before the first is released (a tick without spikes); the host takes no third step before it has the
    second."""
    pending = Signal(2)
    m.d.comb += reply.valid.eq(pending != 0)
    m.d.sync += pending.eq(pending + pulse - (reply.valid & reply.ready))


def _check_streams(what, streams):
    if not isinstance(streams, dict):
        raise TypeError(f"{what} must be a dict of name to payload shape, not {streams!r}")
    for name, shape in streams.items():
        if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED_NAMES:
            raise ValueError(f"{what} name {name!r} must be an identifier other than "
                             f"{', '.join(_RESERVED_NAMES)}")
        Shape.cast(shape)


def _payload_byte_values(payload, shape):
    """The bytes of a payload value, least significant first."""
    raw = Cat(payload, Const(0, 8 * payload_bytes(shape) - Shape.cast(shape).width))
    return [raw[i:i + 8] for i in range(0, len(raw), 8)]


class HostBridge(wiring.Component):
    """Turns host frames into command stream beats and reply stream beats into host frames (protocol 2).

    Codes 0x00 (INFO), 0x01 (STATUS), 0x02 (ACK) and 0x03 (NAK) are built in; the commands take codes 0x04,
    0x05, ... in the order given, and the replies the same codes in theirs. A command whose sequence number is
    the one expected is executed and acknowledged; the one before it is acknowledged again and not executed;
    any other, and a frame with a bad CRC, an unknown code or cut short by a flag, is answered by a NAK with the
    expected number (bad frames are counted too). Replies go out one at a time, numbered, and each is held until
    the host's ACK of its number; a NAK from the host sends the held one again.

    Parameters
    ----------
    commands : dict of str to shape
        Command streams (host to device) and their payload shapes.
    replies : dict of str to shape
        Reply streams (device to host) and their payload shapes.
    status : shape
        Payload of the STATUS reply, read from the ``status`` port as the frame is sent.
    info : bytes
        Payload of the INFO reply (starting with :func:`info_header`); at most 255 bytes.

    Members
    -------
    rx : In(stream.Signature(8))
        Bytes from the host.
    tx : Out(stream.Signature(8))
        Bytes to the host.
    <command> : Out(stream.Signature(shape))
        One per command.
    <reply> : In(stream.Signature(shape))
        One per reply; a beat is accepted when the host acknowledges its frame. When several are pending, the
        first declared goes first.
    status : In(status)
        Values reported by STATUS.
    bad_frames : Out(16)
        Saturating count of frames dropped for a bad CRC, an unknown code or a flag before their end.

    Raises
    ------
    TypeError, ValueError
        If a parameter has the wrong type, a stream name is not an identifier or collides with a port, or
        there are more streams than codes.
    """

    def __init__(self, *, commands, replies, status, info):
        _check_streams("Command", commands)
        _check_streams("Reply", replies)
        both = set(commands) & set(replies)
        if both:
            raise ValueError(f"Stream name {sorted(both)[0]!r} is both a command and a reply")
        for what, streams in (("commands", commands), ("replies", replies)):
            if FIRST_USER_OPCODE + len(streams) > 0x100:
                raise ValueError(f"There can be at most {0x100 - FIRST_USER_OPCODE} {what}, not {len(streams)}")
        Shape.cast(status)
        if not isinstance(info, (bytes, bytearray)) or len(info) > 255:
            raise TypeError(f"Info must be a bytes object of at most 255 bytes, not {info!r}")
        self._commands = dict(commands)
        self._replies = dict(replies)
        self._status = status
        self._info = bytes(info)
        members = {
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "status": In(status),
            "bad_frames": Out(16),
        }
        members.update({name: Out(stream.Signature(shape)) for name, shape in commands.items()})
        members.update({name: In(stream.Signature(shape)) for name, shape in replies.items()})
        super().__init__(members)

    @property
    def commands(self):
        """{name: (code, shape)} of the command streams."""
        return {name: (FIRST_USER_OPCODE + i, shape) for i, (name, shape) in enumerate(self._commands.items())}

    @property
    def replies(self):
        """{name: (code, shape)} of the reply streams."""
        return {name: (FIRST_USER_OPCODE + i, shape) for i, (name, shape) in enumerate(self._replies.items())}

    def elaborate(self, platform):
        m = Module()
        m.submodules.decoder = decoder = FrameDecoder()
        m.submodules.encoder = encoder = FrameEncoder()
        wiring.connect(m, wiring.flipped(self.rx), decoder.link)
        wiring.connect(m, encoder.link, wiring.flipped(self.tx))
        # From the frame parser to the frame sender: one-cycle requests, and the acknowledgement to send.
        link = {name: Signal(name=name) for name in ("info_request", "status_request", "host_ack", "host_nak",
                                                     "send_ack", "send_nak", "reply_held", "dropped")}
        seq = Signal(8)             # of the frame received
        expected = Signal(8)        # of the next command to execute
        self._elaborate_rx(m, decoder.body, link, seq, expected)
        self._elaborate_tx(m, encoder.body, link, seq, expected)
        return m

    def _elaborate_rx(self, m, body, link, seq, expected):
        commands = self.commands
        # The payload bytes shift in from the top (the CRC bytes go to the CRC register only): a frame of n
        # payload bytes ends in the top n.
        max_bytes = max([payload_bytes(shape) for _, shape in commands.values()] + [0])
        buf = Signal(8 * max_bytes)
        code = Signal(8)
        crc = Signal(16)
        bytes_left = Signal(range(max_bytes + _CRC_BYTES + 1))
        bad = Signal()
        byte, mark = body.payload.data, body.payload.mark

        with m.If(bad & (self.bad_frames != 0xFFFF)):
            m.d.sync += self.bad_frames.eq(self.bad_frames + 1)
        with m.If(body.valid & body.ready):
            m.d.sync += crc.eq(crc16_update(Mux(mark, CRC_INIT, crc), byte))

        for name, (number, shape) in commands.items():
            base = 8 * (max_bytes - payload_bytes(shape))
            m.d.comb += getattr(self, name).payload.eq(buf[base:base + Shape.cast(shape).width])

        def restart():
            """A marked byte starts a frame: it is its sequence number."""
            with m.If(body.valid & mark):
                m.d.sync += seq.eq(byte)
                m.next = "CODE"

        with m.FSM(name="rx"):
            with m.State("HUNT"):
                m.d.comb += body.ready.eq(1)
                restart()
            with m.State("CODE"):
                m.d.comb += [body.ready.eq(1), bad.eq(body.valid & mark)]
                with m.If(body.valid & ~mark):
                    m.d.sync += code.eq(byte)
                    m.next = "HUNT"
                    with m.Switch(byte):
                        with m.Case(INFO, STATUS, ACK, NAK):
                            m.d.sync += bytes_left.eq(_CRC_BYTES)
                            m.next = "BODY"
                        for number, shape in commands.values():
                            with m.Case(number):
                                m.d.sync += bytes_left.eq(payload_bytes(shape) + _CRC_BYTES)
                                m.next = "BODY"
                        with m.Default():
                            m.d.comb += [bad.eq(1), link["send_nak"].eq(1)]
                restart()
            with m.State("BODY"):
                m.d.comb += [body.ready.eq(1), bad.eq(body.valid & mark)]
                with m.If(body.valid & ~mark):
                    m.d.sync += bytes_left.eq(bytes_left - 1)
                    with m.If(bytes_left > _CRC_BYTES):
                        m.d.sync += buf.eq(Cat(buf[8:], byte))
                    with m.If(bytes_left == 1):
                        m.next = "CHECK"
                restart()
            with m.State("CHECK"):
                m.next = "HUNT"
                with m.If(crc != 0):
                    m.d.comb += [bad.eq(1), link["send_nak"].eq(1)]
                with m.Else():
                    with m.Switch(code):
                        for number, name in ((INFO, "info_request"), (STATUS, "status_request"),
                                             (ACK, "host_ack"), (NAK, "host_nak")):
                            with m.Case(number):
                                m.d.comb += link[name].eq(1)
                        with m.Default():
                            with m.If(seq == expected):
                                m.next = "ISSUE"
                            with m.Elif(seq == (expected - 1)[:8]):
                                m.d.comb += link["send_ack"].eq(1)     # a repeat: acknowledged, not executed
                            with m.Else():
                                m.d.comb += link["send_nak"].eq(1)
            with m.State("ISSUE"):
                # A block that cannot take the command while one of its replies is held may be waiting for that
                # reply's ACK, which is behind this command in the link: the command is dropped (neither executed
                # nor acknowledged, so the host sends it again) and the held reply is sent again, so that the
                # host acknowledges it once more.
                for name, (number, _) in commands.items():
                    port = getattr(self, name)
                    m.d.comb += port.valid.eq(code == number)
                    with m.If(port.valid & port.ready):
                        m.d.comb += link["send_ack"].eq(1)
                        m.d.sync += expected.eq(expected + 1)
                        m.next = "HUNT"
                    with m.Elif(port.valid & link["reply_held"]):
                        m.d.comb += link["dropped"].eq(1)
                        m.next = "HUNT"

    def _elaborate_tx(self, m, body, link, seq, expected):
        # Frames are sent from their sources one byte at a time without a copy: a reply stream holds its payload
        # until it is acknowledged, STATUS reads the live status, INFO is constant. Only the acknowledgement to
        # send, which the parser may overwrite with a newer one, is copied when its frame starts.
        ack_pending = Signal()
        ack_code = Signal(8)
        ack_seq = Signal(8)
        ack_frame = Signal(16)          # the sequence number and code of the acknowledgement being sent
        tx_seq = Signal(8)              # of the reply held until the host's ACK
        status_pending = Signal()
        info_pending = Signal()
        resend = Signal()

        replies = list(self.replies.items())
        # (pending, body bytes, reply stream or None) in priority order: the acknowledgement, the replies as
        # declared, then STATUS, then INFO.
        sources = [(ack_pending, [ack_frame[0:8], ack_frame[8:16]], None)]
        for name, (number, shape) in replies:
            port = getattr(self, name)
            sources.append((port.valid, [tx_seq, Const(number, 8), *_payload_byte_values(port.payload, shape)],
                            port))
        sources.append((status_pending, [expected, Const(STATUS, 8),
                                         *_payload_byte_values(self.status, self._status)], None))
        sources.append((info_pending, [expected, Const(INFO, 8), *(Const(b, 8) for b in self._info)], None))
        first_reply = 1

        busy = Signal()
        selected = Signal(len(sources))         # one-hot: the source whose frame is being sent
        held = Signal(len(sources))             # one-hot: the reply sent and not yet acknowledged
        # The host's ACK of the held reply releases it, unless that frame is being sent again (then the host's
        # next ACK, of the copy, does); it cancels a copy still to send, which would go out with the next number.
        release = Signal()
        m.d.comb += release.eq(link["host_ack"] & (seq == tx_seq) & held.any() & ~(busy & (selected == held)))
        index = Signal(range(max(len(frame) for _, frame, _ in sources)))
        byte = 0
        last = 0
        for i, (_, frame, _) in enumerate(sources):
            byte |= Mux(selected[i], Cat(*frame).word_select(index, 8), 0)
            last |= selected[i] & (index == len(frame) - 1)
        # The frame encoder takes the bytes from a register, filled only while it is empty (a byte every other
        # cycle at most, far above the line's rate), so neither the frame's byte multiplexer nor the encoder's
        # ready is behind the other in one cycle.
        staged = Signal(BodyByte)
        staged_valid = Signal()
        m.d.comb += [body.valid.eq(staged_valid), body.payload.eq(staged)]
        with m.If(body.ready):
            m.d.sync += staged_valid.eq(0)

        with m.If(busy):
            with m.If(~staged_valid):
                m.d.sync += [staged.data.eq(byte), staged.mark.eq(last), staged_valid.eq(1), index.eq(index + 1)]
                with m.If(last):
                    m.d.sync += [busy.eq(0), index.eq(0)]
        with m.Elif(ack_pending):
            m.d.sync += [busy.eq(1), selected.eq(1), ack_frame.eq(Cat(ack_seq, ack_code)), ack_pending.eq(0)]
        with m.Elif(held.any()):
            with m.If(resend & ~release):
                m.d.sync += [busy.eq(1), selected.eq(held), resend.eq(0)]
        with m.Else():
            for i, (pending, _, port) in enumerate(sources[first_reply:], first_reply):
                with (m.Elif if i > first_reply else m.If)(pending):
                    m.d.sync += [busy.eq(1), selected.eq(1 << i)]
                    if port is None:
                        m.d.sync += pending.eq(0)
                    else:
                        m.d.sync += held.eq(1 << i)

        with m.If(release):
            for i, (_, _, port) in enumerate(sources):
                if port is not None:
                    m.d.comb += port.ready.eq(held[i])
            m.d.sync += [held.eq(0), tx_seq.eq(tx_seq + 1), resend.eq(0)]
        m.d.comb += link["reply_held"].eq(held.any())
        with m.If((link["host_nak"] | link["dropped"]) & held.any()):
            m.d.sync += resend.eq(1)
        # After the sender, so that a request in the cycle its previous frame starts is not lost.
        with m.If(link["status_request"]):
            m.d.sync += status_pending.eq(1)
        with m.If(link["info_request"]):
            m.d.sync += info_pending.eq(1)
        with m.If(link["send_ack"]):
            m.d.sync += [ack_pending.eq(1), ack_code.eq(ACK), ack_seq.eq(seq)]
        with m.If(link["send_nak"]):
            m.d.sync += [ack_pending.eq(1), ack_code.eq(NAK), ack_seq.eq(expected)]


_LIF_STATUS = data.StructLayout({
    "timestep": unsigned(32), "bad_events": unsigned(16), "bad_config": unsigned(16),
    "bad_frames": unsigned(16), "link_errors": unsigned(16),
})


def _lif_info(core):
    p = core.params
    return info_header(LIF_INFO_MAGIC, lif_core_manifest(core)) + \
        bytes([core.axon_bits, core.neuron_bits, core.data_bits, p.lanes, p.weight_bits]) + \
        (p.neurons - 1).to_bytes(2, "little") + (p.axons - 1).to_bytes(2, "little")


class LifHostBridge(wiring.Component):
    """The host link of a :class:`~spikeforge.hdl.lif_core.core.LifCore`.

    Commands: EVENT (0x04, the axon), TICK (0x05, no payload), CFG (0x06, the core's configuration command)
    and, when the core learns from a reward, REWARD (0x07, the reward).
    Replies: SPIKE (0x04, the neuron), CFG_DATA (0x05, read data), DONE (0x06, no payload, after the spikes of
    a tick). STATUS reports ``timestep``, ``bad_events``, ``bad_config``, ``bad_frames`` and ``link_errors``.

    Parameters
    ----------
    core : LifCore
        The core to serve; only its widths and parameters are used here.

    Members
    -------
    rx : In(stream.Signature(8))
        Bytes from the host.
    tx : Out(stream.Signature(8))
        Bytes to the host.
    core : In(core.signature)
        Connects to the core with :func:`amaranth.lib.wiring.connect`.
    link_errors : In(16)
        Bytes the link lost (e.g. :attr:`spikeforge.hdl.uart.UartRx.errors`), reported by STATUS.
    bad_frames : Out(16)
        Saturating count of the frames the bridge dropped.
    """

    def __init__(self, core):
        commands = {"event": core.axon_event_layout, "tick": unsigned(0), "cfg": core.cfg_layout}
        if "reward" in core.signature.members:
            commands["reward"] = core.signature.members["reward"].signature.members["payload"].shape
        self._bridge = HostBridge(
            commands=commands,
            replies={"spike": core.spike_layout, "cfg_data": core.cfg_rsp_layout, "done": unsigned(0)},
            status=_LIF_STATUS, info=_lif_info(core))
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "core": In(core.signature),
            "link_errors": In(16),
            "bad_frames": Out(16),
        })

    @property
    def bridge(self):
        """The generic :class:`HostBridge` inside."""
        return self._bridge

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = self._bridge
        core = self.core
        wiring.connect(m, wiring.flipped(self.rx), bridge.rx)
        wiring.connect(m, bridge.tx, wiring.flipped(self.tx))
        wiring.connect(m, bridge.event, wiring.flipped(core.events))
        wiring.connect(m, bridge.cfg, wiring.flipped(core.cfg))
        if "reward" in core.signature.members:
            wiring.connect(m, bridge.reward, wiring.flipped(core.reward))
        wiring.connect(m, wiring.flipped(core.spikes), bridge.spike)
        wiring.connect(m, wiring.flipped(core.cfg_rsp), bridge.cfg_data)
        m.d.comb += [
            core.tick.valid.eq(bridge.tick.valid),
            bridge.tick.ready.eq(core.tick.ready),
            self.bad_frames.eq(bridge.bad_frames),
            bridge.status.timestep.eq(core.timestep),
            bridge.status.bad_events.eq(core.bad_events),
            bridge.status.bad_config.eq(core.bad_config),
            bridge.status.bad_frames.eq(bridge.bad_frames),
            bridge.status.link_errors.eq(self.link_errors),
        ]
        # `done` is a pulse; hold it until its frame is sent. The core is idle until the next tick.
        hold_pulse(m, core.done, bridge.done)
        return m
