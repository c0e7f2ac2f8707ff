"""Numbered frames over a byte stream, none lost: the host's state machine of protocol version 2
(docs/host_protocol.md).

Commands are numbered and sent ahead of their acknowledgements up to a window (go-back-N): an ACK acknowledges
every command up to its number, a NAK every command before its number and asks for the rest again, and a silence
of ``timeout`` seconds sends every unacknowledged command again. The device's replies are numbered too; each is
acknowledged, a repeat of the last is acknowledged and dropped (and the unacknowledged commands, which the
device drops while it holds a reply, are sent again), and a damaged frame or a silence while a reply is
awaited asks for it again (NAK). After ``retries`` silences in a row the device is taken to be gone
(:class:`LinkError`).
"""

from __future__ import annotations

import collections
import dataclasses
import time

from .frames import FrameReader, encode


__all__ = ["Link", "LinkError", "LinkStats", "INFO", "STATUS", "ACK", "NAK", "FIRST_CODE"]


INFO, STATUS, ACK, NAK = 0x00, 0x01, 0x02, 0x03
FIRST_CODE = 0x04
_HALF = 0x80            # sequence numbers are compared modulo 256 within half the range


class LinkError(Exception):
    """The device did not answer, or not as the protocol says; the message is one line naming the port."""


@dataclasses.dataclass
class LinkStats:
    """What crossed the link.

    Attributes
    ----------
    bytes_out, bytes_in : int
        Link bytes sent and received.
    payload_out, payload_in : int
        Payload bytes of the commands sent (once each) and of the replies received (once each).
    retransmissions : int
        Frames sent again (after a NAK or a silence).
    bad_frames : int
        Damaged frames the host received and dropped.
    naks : int
        NAKs the device sent (for a frame it found damaged or missing).
    timeouts : int
        Silences after which the host sent again.
    """

    bytes_out: int = 0
    bytes_in: int = 0
    payload_out: int = 0
    payload_in: int = 0
    retransmissions: int = 0
    bad_frames: int = 0
    naks: int = 0
    timeouts: int = 0


def _before(a, b):
    """Sequence number ``a`` comes before ``b``."""
    return 0 < ((b - a) & 0xFF) < _HALF


class Link:
    """The host's end of the protocol over ``port`` (``read(size)``, ``write(data)``, a ``timeout`` attribute).

    Parameters
    ----------
    port : serial.Serial or a simulated port
    name : str
        The port's name, for messages.
    timeout : float
        Seconds of silence after which frames are sent again.
    retries : int
        Silences in a row after which the device is taken to be gone.
    window : int
        Commands sent ahead of their acknowledgement.
    window_bytes : int
        Link bytes of the commands sent ahead, at most (the device's receive FIFO holds 32).

    Attributes
    ----------
    stats : LinkStats
    """

    def __init__(self, port, *, name, timeout=0.25, retries=10, window=8, window_bytes=24):
        self._port = port
        self._name = name
        self._timeout = timeout
        self._retries = retries
        self._window = window
        self._window_bytes = window_bytes
        self._reader = FrameReader()
        self._next = 0
        self._unacked = collections.deque()     # (seq, link bytes) of commands sent and not acknowledged
        self._last_reply = None
        self._replies = collections.deque()     # (code, payload) of replies received, oldest first
        self._answers = {}                      # code -> the last INFO or STATUS frame
        self._waiting_reply = False
        self._went_back = None                  # the NAK number the window was last sent again for
        self.stats = LinkStats()
        port.timeout = min(timeout, 0.05)

    # --- sending -------------------------------------------------------------------------------------------

    def _write(self, data):
        self._port.write(data)
        self.stats.bytes_out += len(data)

    def command(self, code, payload=b""):
        """Send a command; returns once it is sent (not necessarily acknowledged)."""
        frame = encode(self._next, code, payload)
        while self._unacked and (len(self._unacked) >= self._window or
                                 sum(len(f) for _, f in self._unacked) + len(frame) > self._window_bytes):
            self._wait("an acknowledgement")
        self._unacked.append((self._next, frame))
        self._next = (self._next + 1) & 0xFF
        self.stats.payload_out += len(payload)
        self._write(frame)

    def flush(self):
        """Wait until every command sent is acknowledged."""
        while self._unacked:
            self._wait("an acknowledgement")

    def reply(self):
        """The next reply ``(code, payload)``, waiting for it; every command is acknowledged first."""
        self.flush()
        self._waiting_reply = True
        try:
            while not self._replies:
                self._wait("a reply")
        finally:
            self._waiting_reply = False
        return self._replies.popleft()

    def ask(self, code):
        """The payload of the device's answer to INFO or STATUS (asked again after each silence). Its sequence
        number is the next command number the device expects, which the link adopts when nothing is in
        flight."""
        self._answers.pop(code, None)
        misses = 0
        while code not in self._answers:
            self._write(encode(0, code))
            deadline = time.monotonic() + self._timeout
            while code not in self._answers and time.monotonic() < deadline:
                self._receive()
            if code not in self._answers:
                misses += 1
                self.stats.timeouts += 1
                if misses > self._retries:
                    raise LinkError(f"{self._name}: no answer from the device after {misses} tries (is it the "
                                    f"board, programmed, at this baud rate?)")
        frame = self._answers.pop(code)
        if not self._unacked:
            self._next = frame.seq
        return frame.payload

    # --- receiving -----------------------------------------------------------------------------------------

    def _wait(self, what):
        """Receive until something changes (a frame arrives); send again after each silence."""
        misses = 0
        while True:
            progress = self._receive()
            if progress:
                return
            misses += 1
            self.stats.timeouts += 1
            if misses > self._retries:
                raise LinkError(f"{self._name}: the device stopped answering (waiting for {what}, {misses - 1} "
                                f"retries)")
            self._went_back = None
            self._resend_all()
            if self._waiting_reply:
                self._write(encode(0, NAK))

    def _resend_all(self):
        for _, frame in self._unacked:
            self._write(frame)
            self.stats.retransmissions += 1

    def _receive(self):
        """Read for up to ``timeout`` seconds, handling every frame; True when a frame arrived."""
        deadline = time.monotonic() + self._timeout
        progress = False
        while not progress and time.monotonic() < deadline:
            data = self._port.read(4096)
            self.stats.bytes_in += len(data)
            bad = self._reader.bad
            for frame in self._reader.feed(data):
                self._handle(frame)
                progress = True
            if self._reader.bad != bad:
                self.stats.bad_frames += self._reader.bad - bad
                if self._waiting_reply:
                    self._write(encode(0, NAK))     # a reply may have been damaged: ask for it again
        return progress

    def _handle(self, frame):
        if frame.code == ACK:
            while self._unacked and not _before(frame.seq, self._unacked[0][0]):
                self._unacked.popleft()
                self._went_back = None
        elif frame.code == NAK:
            # Every command after a lost one is refused with the same NAK: go back once per number.
            self.stats.naks += 1
            while self._unacked and _before(self._unacked[0][0], frame.seq):
                self._unacked.popleft()
            if frame.seq != self._went_back:
                self._went_back = frame.seq
                self._resend_all()
        elif frame.code in (INFO, STATUS):
            self._answers[frame.code] = frame
        else:
            self._write(encode(frame.seq, ACK))
            if frame.seq != self._last_reply:
                self._last_reply = frame.seq
                self._replies.append((frame.code, frame.payload))
                self.stats.payload_in += len(frame.payload)
            else:
                # A repeat: our ACK of it was lost, and the device dropped the commands it could not take while
                # it held the reply; send them again now rather than after a silence.
                self._resend_all()
