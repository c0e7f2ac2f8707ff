"""A framed byte protocol between a host PC and on-chip streams, and its binding to the LIF core.

:class:`HostBridge` is generic: it is given the payload shapes of the command streams it drives (host to
device) and of the reply streams it collects (device to host), and numbers their frames in that order. A frame is
one opcode byte followed by the payload's fields, each little-endian in whole bytes (see docs/host_protocol.md).
:class:`LifHostBridge` binds a :class:`~spikeforge.hdl.lif_core.core.LifCore` to it: axon events, ticks and
configuration commands in; spikes, configuration read data, done markers and the core's counters out.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["HostBridge", "LifHostBridge", "frame_fields", "hold_pulse", "INFO", "STATUS", "FIRST_USER_OPCODE",
           "LIF_INFO_MAGIC", "PROTOCOL_VERSION"]


INFO = 0x00
STATUS = 0x01
FIRST_USER_OPCODE = 0x02
PROTOCOL_VERSION = 1
LIF_INFO_MAGIC = 0x4C   # "L"

_RESERVED_NAMES = ("rx", "tx", "status", "bad_frames")


def frame_fields(shape):
    """The fields of a payload as sent on the link: a list of ``(name, bit_offset, width, signed)``.

    A :class:`~amaranth.lib.data.StructLayout` gives one field per member, in offset order; any other shape
    is one field named ``None``. Each field takes ``ceil(width / 8)`` bytes, little-endian; signed fields are
    sign-extended to whole bytes.
    """
    if isinstance(shape, data.StructLayout):
        fields = sorted(((name, field) for name, field in shape), key=lambda item: item[1].offset)
        return [(name, field.offset, field.width, Shape.cast(field.shape).signed) for name, field in fields]
    cast = Shape.cast(shape)
    return [(None, 0, cast.width, cast.signed)]


def hold_pulse(m, pulse, reply):
    """Make the one-cycle ``pulse`` a beat of the payload-less ``reply`` stream, held until it is sent (the
    block that pulses does nothing that needs the host until then)."""
    with m.If(reply.ready):
        m.d.sync += reply.valid.eq(0)
    with m.If(pulse):
        m.d.sync += reply.valid.eq(1)


def _frame_bytes(shape):
    return sum((width + 7) // 8 for _, _, width, _ in frame_fields(shape))


def _check_streams(what, streams):
    if not isinstance(streams, dict):
        raise TypeError(f"{what} must be a dict of name to payload shape, not {streams!r}")
    for name, shape in streams.items():
        if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED_NAMES:
            raise ValueError(f"{what} name {name!r} must be an identifier other than "
                             f"{', '.join(_RESERVED_NAMES)}")
        Shape.cast(shape)


class HostBridge(wiring.Component):
    """Turns host frames into command stream beats and reply stream beats into host frames.

    Opcodes 0x00 (INFO) and 0x01 (STATUS) are built in; the commands take opcodes 0x02, 0x03, ... in the order
    given, and the replies the same codes in theirs. A byte that is not a known opcode is dropped and counted;
    so is a frame whose payload stops arriving for ``timeout`` cycles.

    Parameters
    ----------
    commands : dict of str to shape
        Command streams (host to device) and their payload shapes.
    replies : dict of str to shape
        Reply streams (device to host) and their payload shapes.
    status : shape
        Payload of the STATUS reply, read from the ``status`` port as the frame is sent.
    info : bytes
        Payload of the INFO reply, after a length byte; at most 255 bytes.
    timeout : int
        Cycles without a byte after which a partial frame is abandoned.

    Members
    -------
    rx : In(stream.Signature(8))
        Bytes from the host.
    tx : Out(stream.Signature(8))
        Bytes to the host.
    <command> : Out(stream.Signature(shape))
        One per command.
    <reply> : In(stream.Signature(shape))
        One per reply; a beat is accepted with the last byte of its frame. When several are pending, the
        first declared goes first; STATUS and INFO come after every reply.
    status : In(status)
        Values reported by STATUS.
    bad_frames : Out(16)
        Saturating count of unknown opcodes and abandoned frames.

    Raises
    ------
    TypeError, ValueError
        If a parameter has the wrong type, a stream name is not an identifier or collides with a port, or
        there are more streams than opcodes.
    """

    def __init__(self, *, commands, replies, status, info, timeout):
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
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
            raise TypeError(f"Timeout must be a positive integer number of cycles, not {timeout!r}")
        self._commands = dict(commands)
        self._replies = dict(replies)
        self._status = status
        self._info = bytes(info)
        self._timeout = timeout
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
        """{name: (opcode, shape)} of the command streams."""
        return {name: (FIRST_USER_OPCODE + i, shape) for i, (name, shape) in enumerate(self._commands.items())}

    @property
    def replies(self):
        """{name: (code, shape)} of the reply streams."""
        return {name: (FIRST_USER_OPCODE + i, shape) for i, (name, shape) in enumerate(self._replies.items())}

    def elaborate(self, platform):
        m = Module()
        # One-cycle pulses from the frame parser to the frame sender.
        info_request = Signal()
        status_request = Signal()
        self._elaborate_rx(m, info_request, status_request)
        self._elaborate_tx(m, info_request, status_request)
        return m

    def _elaborate_rx(self, m, info_request, status_request):
        commands = self.commands
        max_bytes = max([_frame_bytes(shape) for _, shape in commands.values()] + [1])
        # Payload bytes shift in from the top, so a frame of n bytes ends in the top n bytes of `buf`.
        buf = Signal(8 * max_bytes)
        opcode = Signal(8)
        bytes_left = Signal(range(max_bytes + 1))
        idle_cycles = Signal(range(self._timeout + 1))
        bad = Signal()

        with m.If(bad & (self.bad_frames != 0xFFFF)):
            m.d.sync += self.bad_frames.eq(self.bad_frames + 1)

        for name, (code, shape) in commands.items():
            base = 8 * (max_bytes - _frame_bytes(shape))
            port = getattr(self, name)
            raw = Value.cast(port.payload)
            for _, offset, width, _ in frame_fields(shape):
                if width:
                    m.d.comb += raw[offset:offset + width].eq(buf[base:base + width])
                base += 8 * ((width + 7) // 8)

        with m.FSM(name="rx"):
            with m.State("OPCODE"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    m.d.sync += [opcode.eq(self.rx.payload), idle_cycles.eq(0)]
                    with m.Switch(self.rx.payload):
                        with m.Case(INFO):
                            m.d.comb += info_request.eq(1)
                        with m.Case(STATUS):
                            m.d.comb += status_request.eq(1)
                        for code, shape in commands.values():
                            with m.Case(code):
                                n = _frame_bytes(shape)
                                m.d.sync += bytes_left.eq(n)
                                m.next = "PAYLOAD" if n else "ISSUE"
                        with m.Default():
                            m.d.comb += bad.eq(1)
            with m.State("PAYLOAD"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    m.d.sync += [buf.eq(Cat(buf[8:], self.rx.payload)), bytes_left.eq(bytes_left - 1),
                                 idle_cycles.eq(0)]
                    with m.If(bytes_left == 1):
                        m.next = "ISSUE"
                with m.Elif(idle_cycles == self._timeout):
                    m.d.comb += bad.eq(1)
                    m.next = "OPCODE"
                with m.Else():
                    m.d.sync += idle_cycles.eq(idle_cycles + 1)
            with m.State("ISSUE"):
                for name, (code, _) in commands.items():
                    port = getattr(self, name)
                    m.d.comb += port.valid.eq(opcode == code)
                    with m.If(port.valid & port.ready):
                        m.next = "OPCODE"

    def _elaborate_tx(self, m, info_request, status_request):
        # Frames are sent straight from their sources, one byte at a time, without a copy: a reply stream
        # holds its payload until the beat is taken (after the frame's last byte), STATUS reads the live
        # status, INFO is constant.
        info_pending = Signal()
        status_pending = Signal()

        def frame_bytes(code, shape, value):
            result = [Const(code, 8)]
            raw = Value.cast(value)
            for _, offset, width, is_signed in frame_fields(shape):
                if width:
                    bits = raw[offset:offset + width]
                    field = Signal(8 * ((width + 7) // 8))
                    m.d.comb += field.eq(bits.as_signed() if is_signed else bits)
                    result += [field[i:i + 8] for i in range(0, len(field), 8)]
            return result

        # (pending, bytes, stream or None) in priority order: the replies as declared, then STATUS, then INFO.
        sources = []
        for name, (code, shape) in self.replies.items():
            port = getattr(self, name)
            sources.append((port.valid, frame_bytes(code, shape, port.payload), port))
        sources.append((status_pending, frame_bytes(STATUS, self._status, self.status), None))
        info = [INFO, len(self._info), *self._info]
        sources.append((info_pending, [Const(byte, 8) for byte in info], None))

        busy = Signal()
        selected = Signal(len(sources))     # one-hot: the source whose frame is being sent
        index = Signal(range(max(len(frame) for _, frame, _ in sources)))
        # `selected` is one-hot, so the byte and the end of frame are ORs of the sources' own.
        byte = 0
        last = 0
        for i, (_, frame, _) in enumerate(sources):
            byte |= Mux(selected[i], Cat(*frame).word_select(index, 8), 0)
            last |= selected[i] & (index == len(frame) - 1)
        m.d.comb += [self.tx.valid.eq(busy), self.tx.payload.eq(byte)]

        with m.If(busy):
            with m.If(self.tx.ready):
                m.d.sync += index.eq(index + 1)
                with m.If(last):
                    m.d.sync += [busy.eq(0), index.eq(0)]
                    for i, (_, _, port) in enumerate(sources):
                        if port is not None:
                            m.d.comb += port.ready.eq(selected[i])
        with m.Else():
            for i, (pending, _, port) in enumerate(sources):
                with (m.Elif if i else m.If)(pending):
                    m.d.sync += [busy.eq(1), selected.eq(1 << i)]
                    if port is None:
                        m.d.sync += pending.eq(0)
        # After the sender, so that a request in the cycle its previous frame starts is not lost.
        with m.If(status_request):
            m.d.sync += status_pending.eq(1)
        with m.If(info_request):
            m.d.sync += info_pending.eq(1)


_LIF_STATUS = data.StructLayout({
    "timestep": unsigned(32), "bad_events": unsigned(16), "bad_config": unsigned(16),
    "bad_frames": unsigned(16), "link_errors": unsigned(16),
})


def _lif_info(core):
    p = core.params
    return bytes([LIF_INFO_MAGIC, PROTOCOL_VERSION, core.axon_bits, core.neuron_bits, core.data_bits,
                  p.lanes, p.weight_bits]) + (p.neurons - 1).to_bytes(2, "little") + \
        (p.axons - 1).to_bytes(2, "little")


class LifHostBridge(wiring.Component):
    """The host link of a :class:`~spikeforge.hdl.lif_core.core.LifCore`.

    Commands: EVENT (0x02, the axon), TICK (0x03, no payload), CFG (0x04, the core's configuration command)
    and, when the core learns from a reward, REWARD (0x05, the reward).
    Replies: SPIKE (0x02, the neuron), CFG_DATA (0x03, read data), DONE (0x04, no payload, after the spikes of
    a tick). STATUS reports ``timestep``, ``bad_events``, ``bad_config``, ``bad_frames`` and ``link_errors``.

    Parameters
    ----------
    core : LifCore
        The core to serve; only its widths and parameters are used here.
    timeout : int
        Cycles without a byte after which a partial frame is abandoned.

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
        Saturating count of unknown opcodes and abandoned frames.
    """

    def __init__(self, core, *, timeout):
        commands = {"event": core.axon_event_layout, "tick": unsigned(0), "cfg": core.cfg_layout}
        if "reward" in core.signature.members:
            commands["reward"] = core.signature.members["reward"].signature.members["payload"].shape
        self._bridge = HostBridge(
            commands=commands,
            replies={"spike": core.spike_layout, "cfg_data": core.cfg_rsp_layout, "done": unsigned(0)},
            status=_LIF_STATUS, info=_lif_info(core), timeout=timeout)
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
