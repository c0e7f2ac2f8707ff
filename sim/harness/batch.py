"""Running a block's Verilog in Verilator in one go: stimulus arrays in, every output beat with its cycle out.

The fast RTL path (issue 14): no Python per cycle. A :class:`Stimulus` is, per input stream of the block's
manifest, a sequence of beats (payload words, :mod:`spikeforge.sim.harness.batch_words`), each beat possibly
guarded by :class:`After` conditions on other channels: "not before stream S has moved N beats (and D cycles
more)". A channel is a stream port (input or output) or a watched one-bit output signal such as ``done``, whose
beats are the cycles it is high. Guards express every block's ordering: a LIF core's events after the previous
step's ``done``, its tick after the step's events, a packet not before its injection cycle.

:meth:`BatchModel.run` hands the stimulus to the compiled harness (:mod:`spikeforge.sim.harness.batch_build`,
``batch_harness.cpp``), which drives the inputs with valid/ready, takes every output beat (outputs always
ready) and records the cycle of every handshake; the run ends when every input beat is accepted, the
``finish`` counts are reached and nothing moved for ``drain`` cycles. A run that stops moving first (a guard
that is never met, a beat never accepted) or reaches the cycle limit raises :class:`BatchStuck`, saying in
words which stream waited on what.

The same compiled model answers :meth:`~BatchModel.poke`, :meth:`~BatchModel.peek` and :meth:`~BatchModel.step`
by signal name, for debugging (cycle by cycle from Python, through the same small C ABI).

Typical use::

    model = BatchModel(compile_model(verilog, manifest, build_dir=build_dir))
    stimulus = Stimulus(model, watch=("done",))
    stimulus.send("events", {"axon": [3, 5]})
    stimulus.send("tick", {"": [0]}, after=[After("events", 2)])
    result = model.run(stimulus, finish={"done": 1})
    neurons = result.values("spikes", "neuron")
"""

from __future__ import annotations

import ctypes
import dataclasses
import threading

import numpy as np

from .batch_words import pack, unpack, word_count


__all__ = ["After", "BatchModel", "BatchResult", "BatchStuck", "Beats", "Stimulus"]


_U64 = np.uint64
#: Cycles with the reset high before a run (as the cocotb benches reset).
RESET_CYCLES = 2


def _beats(count):
    return f"{count} beat" + ("" if count == 1 else "s")


class BatchStuck(RuntimeError):
    """A batch run stopped before it finished: nothing moved for ``patience`` cycles, or the cycle limit came;
    the message says which stream waited on what. ``result`` holds what was recorded until then."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


@dataclasses.dataclass(frozen=True)
class After:
    """A guard of an input beat: not before channel ``channel`` has moved ``count`` beats, and ``delay`` cycles
    after the cycle that follows its ``count``-th beat (``count`` 0: ``delay`` cycles after the run's start)."""

    channel: str
    count: int
    delay: int = 0

    def __post_init__(self):
        for name in ("count", "delay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"The {name} of a guard on '{self.channel}' must be a non-negative integer, "
                                 f"not {value!r}")


@dataclasses.dataclass(frozen=True)
class Beats:
    """What moved on one channel: ``cycles`` (uint64) of every beat, the payload ``words`` (beats, words) of a
    stream, and for an input stream the cycle each beat was first ``offered``."""

    cycles: np.ndarray
    words: np.ndarray | None = None
    offered: np.ndarray | None = None

    def __len__(self):
        return len(self.cycles)


class Stimulus:
    """The input beats of one batch run, per input stream, with their guards.

    Parameters
    ----------
    model : BatchModel
        The compiled block (its streams and signals).
    watch : iterable of str
        One-bit output signals to record as channels (the cycles they are high), e.g. ``("done",)``.

    Raises
    ------
    KeyError
        If a watched signal is not a one-bit output of the block.
    """

    def __init__(self, model, *, watch=()):
        self._compiled = model.compiled
        self.watch = tuple(watch)
        for name in self.watch:
            signal = self._compiled.signals.get(name)
            if signal is None or signal.input or signal.width != 1:
                raise KeyError(f"Only a one-bit output can be watched; '{name}' is not one of "
                               f"'{self._compiled.manifest.toplevel}'")
        self._chunks = {name: [] for name, s in self._compiled.streams.items() if s.input}
        self._beats = dict.fromkeys(self._chunks, 0)
        self._guards = {name: [] for name in self._chunks}

    @property
    def channels(self):
        """Every channel's name, in the harness's numbering: the streams, then the watched signals."""
        return tuple(self._compiled.streams) + self.watch

    def channel(self, name):
        try:
            return self.channels.index(name)
        except ValueError:
            raise KeyError(f"'{name}' is not a channel of the batch run of '{self._compiled.manifest.toplevel}'; "
                           f"its channels are {', '.join(self.channels)}") from None

    def beats(self, stream):
        """Beats queued on input stream ``stream`` so far."""
        return self._beats[self._input(stream)]

    def _input(self, stream):
        if stream not in self._chunks:
            inputs = ", ".join(self._chunks)
            raise KeyError(f"'{stream}' is not an input stream of '{self._compiled.manifest.toplevel}'; its input "
                           f"streams are {inputs}")
        return stream

    def send(self, stream, payloads, *, after=()):
        """Queue beats on input stream ``stream``; the first of them waits for the guards ``after`` (the rest
        follow it in order). Returns the range of the beats' indices in the stream.

        ``payloads`` is an array of words (beats, words), or what :func:`~spikeforge.sim.harness.batch_words.pack`
        takes (columns of field values, or a sequence of payloads)."""
        stream = self._input(stream)
        layout = self._compiled.manifest.stream_layout(stream)
        if isinstance(payloads, np.ndarray) and payloads.dtype == np.uint32 and payloads.ndim == 2:
            words = payloads
            if words.shape[1] != word_count(layout.width):
                raise ValueError(f"Payloads of '{stream}' are {word_count(layout.width)} words a beat, not "
                                 f"{words.shape[1]}")
        else:
            words = pack(layout, payloads)
        first = self._beats[stream]
        if len(words):
            for guard in after:
                self.channel(guard.channel)
                self._guards[stream].append((first, guard))
            self._chunks[stream].append(words)
            self._beats[stream] += len(words)
        return range(first, self._beats[stream])

    def arrays(self, stream):
        """(words, guard_start, guard_channel, guard_count, guard_delay) of ``stream`` for the harness."""
        words = self._chunks[stream]
        stream_words = word_count(self._compiled.manifest.stream_layout(stream).width)
        words = np.ascontiguousarray(np.concatenate(words) if words else np.zeros((0, stream_words), np.uint32))
        guards = self._guards[stream]
        beats = self._beats[stream]
        per_beat = np.bincount(np.array([beat for beat, _ in guards], dtype=np.int64), minlength=beats)[:beats]
        start = np.zeros(beats + 1, dtype=_U64)
        np.cumsum(per_beat, out=start[1:])
        return (words, start,
                np.array([self.channel(g.channel) for _, g in guards], dtype=np.int32),
                np.array([g.count for _, g in guards], dtype=_U64),
                np.array([g.delay for _, g in guards], dtype=_U64))

    def guards(self, stream, beat):
        """The guards of beat ``beat`` of ``stream``."""
        return [guard for b, guard in self._guards[stream] if b == beat]


class Sequence:
    """Beats queued one action after another, as a sequential bench sends them: each action's first beat waits
    until the action before it is complete.

    An action is complete when all its beats are accepted, or, when it names ``until=(channel, beats)``, when
    ``channel`` has moved ``beats`` more beats (a read's responses, a tick's ``done``).

    Parameters
    ----------
    stimulus : Stimulus
    """

    def __init__(self, stimulus):
        self.stimulus = stimulus
        self._after = []
        self._expected = {}

    def then(self, stream, payloads, *, until=None):
        """Queue ``payloads`` on ``stream`` (see :meth:`Stimulus.send`) after the previous action; returns the
        range of their beat indices. An empty action changes nothing."""
        beats = self.stimulus.send(stream, payloads, after=self._after)
        if len(beats):
            self._expected[stream] = beats.stop
            if until is None:
                self._after = [After(stream, beats.stop)]
            else:
                self.wait(*until)
        return beats

    def wait(self, channel, beats):
        """An action that sends nothing: complete when ``channel`` has moved ``beats`` more beats."""
        self.stimulus.channel(channel)
        self._expected[channel] = self._expected.get(channel, 0) + beats
        self._after = [After(channel, self._expected[channel])]

    def expected(self, channel):
        """The beats ``channel`` moves by the end of the actions queued so far (as far as they say)."""
        return self._expected.get(channel, 0)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """What a batch run recorded.

    Attributes
    ----------
    channels : dict
        ``{channel: Beats}`` for every stream and watched signal.
    cycles : int
        Cycles of the run (after reset).
    outputs : dict
        ``{name: int}``: every plain output port's value at the end.
    pending : dict
        ``{stream: cycle}``: the input beats offered since that cycle and not accepted when the run stopped.
    layouts : dict
        ``{stream: Layout}`` of the payloads.
    """

    channels: dict
    cycles: int
    outputs: dict
    pending: dict
    layouts: dict

    def beats(self, channel):
        return self.channels[channel]

    def values(self, stream, field=None):
        """The values of ``field`` (the whole payload of a plain one when omitted) of every beat of ``stream``."""
        return unpack(self.layouts[stream], self.channels[stream].words, field)


class BatchModel:
    """One instance of a compiled block (:func:`spikeforge.sim.harness.batch_build.compile_model`), loaded
    through ctypes: batch runs, and cycle-by-cycle poke, peek and step.

    Parameters
    ----------
    compiled : CompiledModel
    """

    def __init__(self, compiled):
        self.compiled = compiled
        self._lib = lib = ctypes.CDLL(str(compiled.library))
        pointer, u64, i32 = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int
        lib.sf_open.restype = pointer
        lib.sf_close.argtypes = [pointer]
        lib.sf_poke.argtypes = [pointer, i32, pointer]
        lib.sf_peek.argtypes = [pointer, i32, pointer]
        lib.sf_step.argtypes = [pointer, u64]
        lib.sf_step.restype = u64
        lib.sf_cycle.argtypes = [pointer]
        lib.sf_cycle.restype = u64
        lib.sf_run.argtypes = [pointer, i32] + [pointer] * 6 + [i32, pointer, pointer, u64, u64, u64]
        lib.sf_run.restype = i32
        lib.sf_stop.argtypes = [pointer]
        lib.sf_beats.argtypes = [pointer, i32]
        lib.sf_beats.restype = u64
        lib.sf_offers.argtypes = [pointer, i32]
        lib.sf_offers.restype = u64
        lib.sf_copy_beats.argtypes = [pointer, i32, pointer, pointer, pointer]
        if lib.sf_signal_count() != len(compiled.signals) or lib.sf_stream_count() != len(compiled.streams):
            raise RuntimeError(f"{compiled.library} does not match its signal table")
        self._handle = lib.sf_open()
        self._words = (ctypes.c_uint32 * max(s.words for s in compiled.signals.values()))()

    def close(self):
        if self._handle:
            self._lib.sf_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- cycle by cycle ------------------------------------------------------------------------------------

    def _signal(self, name):
        signal = self.compiled.signals.get(name)
        if signal is None:
            raise KeyError(f"'{self.compiled.manifest.toplevel}' has no signal '{name}'; its signals are "
                           f"{', '.join(self.compiled.signals)}")
        return signal

    def poke(self, name, value):
        """Set input signal ``name`` (e.g. ``"events__valid"``) to the unsigned integer ``value``."""
        signal = self._signal(name)
        if not signal.input:
            raise ValueError(f"'{name}' is an output of '{self.compiled.manifest.toplevel}'; only inputs are poked")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 1 << signal.width:
            raise ValueError(f"A value of '{name}' must be an integer in 0..{(1 << signal.width) - 1}, "
                             f"not {value!r}")
        value = int(value)
        for k in range(signal.words):
            self._words[k] = (value >> (32 * k)) & 0xFFFFFFFF
        self._lib.sf_poke(self._handle, signal.index, self._words)

    def peek(self, name):
        """The value of signal ``name`` (unsigned), settled with the inputs as poked."""
        signal = self._signal(name)
        self._lib.sf_peek(self._handle, signal.index, self._words)
        if signal.words == 1:
            return self._words[0]
        return sum(self._words[k] << (32 * k) for k in range(signal.words))

    def step(self, cycles=1):
        """Run ``cycles`` clock cycles with the inputs as poked; returns the cycle count."""
        return self._lib.sf_step(self._handle, cycles)

    def reset(self, cycles=RESET_CYCLES):
        """Hold the reset high for ``cycles`` cycles (memories keep their contents)."""
        self.poke(self.compiled.manifest.reset, 1)
        self.step(cycles)
        self.poke(self.compiled.manifest.reset, 0)

    # --- batch runs ----------------------------------------------------------------------------------------

    def run(self, stimulus, *, finish=None, drain=0, patience=100_000, limit=None):
        """Reset the design and run ``stimulus``.

        Parameters
        ----------
        stimulus : Stimulus
        finish : dict, optional
            ``{channel: beats}``: the run is not over before these channels have moved that many beats.
        drain : int
            Cycles without any beat on any channel that end the run once every input beat is accepted and the
            ``finish`` counts are reached.
        patience : int
            Cycles without any beat after which a run that is not over is stuck.
        limit : int, optional
            The most cycles the run may take.

        Returns
        -------
        BatchResult

        Raises
        ------
        BatchStuck
            If the run got stuck or reached ``limit``.
        """
        streams = self.compiled.streams
        channels = stimulus.channels
        finish = dict(finish or {})
        counts = np.zeros(len(channels), dtype=_U64)
        for name, beats in finish.items():
            counts[stimulus.channel(name)] = beats
        arrays = {name: stimulus.arrays(name) for name, s in streams.items() if s.input}

        def table(position):
            return (ctypes.c_void_p * len(streams))(*[arrays[name][position].ctypes.data if name in arrays else None
                                                      for name in streams])

        words = table(0)
        beats = np.array([len(arrays[name][0]) if name in arrays else 0 for name in streams], dtype=_U64)
        watch = np.array([self.compiled.signals[name].index for name in stimulus.watch] or [0], dtype=np.int32)
        status = []

        def run():
            status.append(self._lib.sf_run(self._handle, RESET_CYCLES, words, beats.ctypes.data, table(1),
                                           table(2), table(3), table(4), len(stimulus.watch), watch.ctypes.data,
                                           counts.ctypes.data, drain, patience, limit or 0))

        # The run goes on in a thread (ctypes lets go of the interpreter), so that Ctrl-C or SIGTERM, which
        # Python handles in the main thread, can stop it.
        worker = threading.Thread(target=run, name="batch run")
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.1)
        except BaseException:
            self._lib.sf_stop(self._handle)
            worker.join()
            raise
        status = status[0]
        result = self._result(stimulus, arrays)
        if status:
            raise BatchStuck(self._stuck_message(status, stimulus, result, finish, patience, limit), result)
        return result

    def _result(self, stimulus, arrays):
        streams = self.compiled.streams
        recorded, pending = {}, {}
        for channel, name in enumerate(stimulus.channels):
            count = self._lib.sf_beats(self._handle, channel)
            cycles = np.zeros(count, dtype=_U64)
            stream = streams.get(name)
            if stream is None:
                self._lib.sf_copy_beats(self._handle, channel, cycles.ctypes.data, None, None)
                recorded[name] = Beats(cycles=cycles)
            elif stream.input:
                offered = np.zeros(self._lib.sf_offers(self._handle, channel), dtype=_U64)
                self._lib.sf_copy_beats(self._handle, channel, cycles.ctypes.data, offered.ctypes.data, None)
                if len(offered) > count:
                    pending[name] = int(offered[count])
                recorded[name] = Beats(cycles=cycles, words=arrays[name][0][:count], offered=offered[:count])
            else:
                words = np.zeros((count, word_count(stream.width)), dtype=np.uint32)
                self._lib.sf_copy_beats(self._handle, channel, cycles.ctypes.data, None, words.ctypes.data)
                recorded[name] = Beats(cycles=cycles, words=words)
        manifest = self.compiled.manifest
        # A port of 0 bits (e.g. a router's counters with ``counter_bits = 0``) is not in the Verilog: it reads 0.
        outputs = {name: self.peek(name) if manifest.port(name).get("width", 1) else 0 for name in manifest.ports
                   if manifest.port(name)["kind"] != "stream" and manifest.port(name)["flow"] == "out"}
        return BatchResult(channels=recorded, cycles=int(self._lib.sf_cycle(self._handle)), outputs=outputs,
                           pending=pending, layouts={name: manifest.stream_layout(name) for name in streams})

    def _stuck_message(self, status, stimulus, result, finish, patience, limit):
        top = self.compiled.manifest.toplevel
        if status == 2:
            head = f"The batch run of '{top}' reached its limit of {limit} cycles"
        else:
            head = (f"The batch run of '{top}' is stuck: nothing moved for {patience} cycles, until cycle "
                    f"{result.cycles}")
        waits = []
        pending = result.pending
        for name, stream in self.compiled.streams.items():
            if not stream.input:
                continue
            total, moved = stimulus.beats(name), len(result.channels[name])
            if moved >= total:
                continue
            if name in pending:
                waits.append(f"'{name}' beat {moved} of {total} was offered in cycle {pending[name]} and never "
                             f"accepted")
                continue
            for guard in stimulus.guards(name, moved):
                have = len(result.channels[guard.channel])
                if have < guard.count:
                    waits.append(f"'{name}' beat {moved} of {total} waits for '{guard.channel}' to move "
                                 f"{_beats(guard.count)}; it moved {have}")
                    break
            else:
                waits.append(f"'{name}' beat {moved} of {total} waits for its delay")
        for name, count in finish.items():
            have = len(result.channels[name])
            if have < count:
                waits.append(f"the run waits for '{name}' to move {_beats(count)}; it moved {have}")
        return head + (": " + "; ".join(waits) if waits else "")
