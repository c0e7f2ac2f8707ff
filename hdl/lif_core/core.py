"""The time-multiplexed LIF neuron core generator, with an optional STDP learning engine.

N neurons are kept in ``lanes`` (P) parallel lanes: neuron n lives in group g = n // P, lane n % P. A group's
state (accumulator, voltage, current, refractory counter and, when per neuron, threshold and bias; with STDP the
postsynaptic trace and the plastic bit: :meth:`LifParams.neuron_fields`) is one word of the state memory; the
weights of one axon to one group are one word of the weight memory, at address a * G + g. All memories are
:class:`amaranth.lib.memory.Memory`, so they map to iCE40 EBR/SPRAM and ECP5 DP16KD.

Phases (one at a time; the core is idle between them), each built by one piece of :class:`LifCore`:

- integrate (:meth:`LifCore._integrate`): an accepted axon event visits the G groups one per cycle: read
  W[a, g] and acc[g], add, write acc[g] back. Events are accepted back to back, so a stream of events costs G
  cycles each with no bubbles. With STDP the same pass depresses W[a, g] (or its eligibility) and writes it
  back: a read-modify-write of P weights per cycle.
- tick: :class:`NeuronPass` reads the G groups one per cycle through a pipeline (read; current and decays;
  voltage; compare, reset, write back; spike vector) and pushes each group's spike vector to the
  :class:`SpikeEmitter`, which sends one neuron per beat, in neuron order. With STDP the engine's passes follow
  (:mod:`spikeforge.hdl.stdp.engine`): the presynaptic traces (A cycles), the eligibility decay (reward only,
  A * G cycles) and potentiation (for every group with a learning spike, A cycles of P weight updates).
  ``done`` pulses when all passes are over and the last spike has been taken.
- reward (reward-modulated STDP only): one command visits all A * G weight words (the engine's REWARD pass).
- configuration (:meth:`LifCore._configuration`): one command reads or writes one weight or one neuron's field
  (a read-modify-write of the word), see :class:`CfgField`. Out-of-range addresses, absent fields and values
  that do not fit are counted in ``bad_config`` and change nothing (a read of them answers 0).

The control FSM (:meth:`LifCore._control`) starts each phase; the order of the learning updates is specified by
:mod:`spikeforge.sim.stdp.model`.
"""

import dataclasses

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.vendor import SiliconBluePlatform

from ..arith import saturate
from ..cfg import CfgOp
from ..memory_roles import memory_attrs
from ..stdp.engine import StdpEngine, SynapsePorts, synapse_memory_attrs, synapse_ports
from ..stdp.params import StdpParams
from .params import LifParams


__all__ = ["LifCore", "CfgOp", "CfgField", "neuron_layout", "NeuronPass", "SpikeEmitter", "StateRead", "StateWrite"]


class CfgField(enum.Enum, shape=4):
    """What a configuration command addresses. ``WEIGHT`` and ``ELIGIBILITY`` use ``axon`` and ``neuron``,
    ``X_TRACE`` and ``FIRED`` use ``axon``, ``LEARNING`` neither, the rest ``neuron`` (``LFSR``: the LFSR of the
    neuron's lane). Fields 7..13 exist only with an STDP engine."""
    WEIGHT = 0
    V = 1
    U = 2
    ACC = 3
    REFRACTORY = 4
    THRESHOLD = 5
    BIAS = 6
    X_TRACE = 7
    Y_TRACE = 8
    PLASTIC = 9
    LEARNING = 10
    ELIGIBILITY = 11
    FIRED = 12
    LFSR = 13


# Neuron-record fields reachable through the configuration port.
_RECORD_FIELDS = {CfgField.V: "v", CfgField.U: "u", CfgField.ACC: "acc", CfgField.REFRACTORY: "refractory",
                  CfgField.THRESHOLD: "threshold", CfgField.BIAS: "bias", CfgField.Y_TRACE: "y",
                  CfgField.PLASTIC: "plastic"}


def neuron_layout(params, stdp=None):
    """The layout of one neuron's record in the state memory (a state word holds ``params.lanes`` of them): the
    fields of :meth:`LifParams.neuron_fields`.

    ``stdp`` (a :class:`StdpParams`, or None) adds the postsynaptic trace and the plasticity flag when enabled.
    """
    return data.StructLayout({name: signed(width) if is_signed else unsigned(width)
                              for name, (width, is_signed) in params.neuron_fields(stdp).items()})


def _spike_layout(params):
    return data.StructLayout({"neuron": unsigned(params.neuron_bits)})


def _vector_layout(params):
    """The spikes of one group: which lanes fired, and the group."""
    return data.StructLayout({"spikes": unsigned(params.lanes), "group": unsigned(params.group_bits)})


# Arithmetic of the neuron update; each mirrors a line of the golden models.

def _decay(params, x, k):
    if params.decay == "shift":
        return x - (x >> k)
    if params.decay == "mult":
        magnitude = Mux(x < 0, -x, x)
        scaled = (magnitude * (4096 - k)) >> 12
        return Mux(x < 0, -scaled, scaled)
    return Mux(x > k, x - k, Mux(x < -k, x + k, 0))


def _overflow(params, value, bits, lo, hi):
    if params.saturate:
        return saturate(value, lo, hi)
    return value[:bits].as_signed()


def _lava_wrap(params, value):
    half = 1 << (params.state_bits - 1)
    return Mux(value > half, value - 2 * half, Mux(value <= -half, value + 2 * half, value))


@dataclasses.dataclass(frozen=True)
class StateRead:
    """The state memory's read port when the accumulators have a memory of their own: ``data`` (the group's P
    records, a cycle after ``addr``) is put together from both memories."""
    addr: Signal
    data: Signal


@dataclasses.dataclass(frozen=True)
class StateWrite:
    """The state memory's write port when the accumulators have a memory of their own: ``en`` writes the whole
    word, ``acc_en`` its accumulators alone."""
    addr: Signal
    en: Signal
    acc_en: Signal
    data: Signal


@dataclasses.dataclass(frozen=True)
class RegisteredWrite:
    """The state memory's write port behind registers: what is set here is written a cycle later."""
    addr: Signal
    en: Signal
    data: Signal


class NeuronPass(wiring.Component):
    """The neuron update of a tick (docs/lif_core.md, Semantics): the G state words pass, one per cycle, through a
    pipeline that writes each back updated and sends out its spike vector.

    Stage 0 issues group g (``read``); stage 1 takes its word (``record``), updates u (with the bias when
    ``bias_into = "current"``) and decays v; stage 2 adds the drive (and the bias when ``bias_into =
    "membrane"``); stage 3 applies refractoriness, compares, resets and writes the word back
    (``write``); stage 4 sends the spike vector of a group in which a neuron spiked (``vectors``). With
    ``register_write`` stage 3 registers the word and its spikes, and stage 4 writes it back as it sends the
    vector.

    Parameters
    ----------
    params : LifParams
    record_layout : data.StructLayout
        A neuron's record (:func:`neuron_layout`); the fields the update does not know (the learning engine's)
        are written back as they were read.
    early_drive : bool
        Without a current (models lif and if), add the accumulated input to the decayed voltage in stage 1
        rather than in stage 2: two adders in stage 1, but no copy of the accumulators in stage 2's registers
        (on the iCE40 each of those takes a logic cell of its own).
    register_write : bool
        Write the word back a cycle later, from registers, so the compare is not in front of the state
        memory's write data and of what a learning engine adds to it (the trace bump of the spiking neurons).
        The pass takes as many cycles.

    Members
    -------
    start : In(1)
        Start a pass over the G groups.
    busy : Out(1)
        A pass is under way.
    read : Out(data.StructLayout({"en": 1, "group": group_bits}))
        The state word to read in this cycle.
    record : In(data.ArrayLayout(record_layout, lanes))
        Its data, a cycle later.
    write : Out(data.StructLayout({"en": 1, "group": ..., "word": ..., "spikes": lanes}))
        The state word to write in this cycle, and which of its neurons spiked.
    vectors : Out(stream.Signature(vector_layout, always_ready=True))
        The spike vectors, ``spikes`` (one bit per lane) and ``group``.
    """

    def __init__(self, params, record_layout, *, early_drive=False, register_write=False):
        self._p = params
        self._early = early_drive and not params.has_current
        self._register_write = register_write
        self._word = data.ArrayLayout(record_layout, params.lanes)
        group = unsigned(params.group_bits)
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "read": Out(data.StructLayout({"en": unsigned(1), "group": group})),
            "record": In(self._word),
            "write": Out(data.StructLayout({"en": unsigned(1), "group": group, "word": self._word,
                                            "spikes": unsigned(params.lanes)})),
            "vectors": Out(stream.Signature(_vector_layout(params), always_ready=True)),
        })

    def elaborate(self, platform):
        p = self._p
        m = Module()
        issue = Signal()
        g = Signal(p.group_bits)
        valid = [issue] + [Signal(name=f"t{stage}_valid") for stage in range(1, 5)]
        group = [g] + [Signal(p.group_bits, name=f"t{stage}_g") for stage in range(1, 5)]
        m.d.sync += [valid[i + 1].eq(valid[i]) for i in range(4)] + [group[i + 1].eq(group[i]) for i in range(4)]
        m.d.comb += self.busy.eq(Cat(valid).any())

        with m.If(issue):
            m.d.comb += [self.read.en.eq(1), self.read.group.eq(g)]
            m.d.sync += g.eq(g + 1)
            with m.If(g == p.groups - 1):
                m.d.sync += issue.eq(0)
        with m.If(self.start):
            m.d.sync += [issue.eq(1), g.eq(0)]

        currents = data.ArrayLayout(signed(p.u_bits), p.lanes)
        voltages = data.ArrayLayout(signed(p.state_bits), p.lanes)
        # Stage 1's voltages: decayed, and with the early drive their sums with the accumulators, unsaturated.
        early = data.ArrayLayout(signed(max(p.state_bits, p.acc_bits) + 1), p.lanes) if self._early else voltages
        t2_word, t2_u, t2_vdec = Signal(self._word), Signal(currents), Signal(early)
        t3_word, t3_u, t3_v = Signal(self._word), Signal(currents), Signal(voltages)
        with m.If(valid[1]):
            m.d.sync += t2_word.eq(self.record)
            m.d.sync += [t2_u[lane].eq(u) for lane, u in enumerate(self._new_currents(self.record))]
            m.d.sync += [t2_vdec[lane].eq(v) for lane, v in enumerate(self._decayed_voltages(self.record))]
        with m.If(valid[2]):
            m.d.sync += [t3_word.eq(t2_word), t3_u.eq(t2_u)]
            m.d.sync += [t3_v[lane].eq(v) for lane, v in enumerate(self._new_voltages(t2_word, t2_u, t2_vdec))]

        # Stage 3: the word goes back (or to stage 4's registers), the spike vector to stage 4. (Driven only while
        # valid, so no output is a constant: Icarus never evaluates an `always @*` without inputs.)
        updated = Signal(self.write.shape()) if self._register_write else self.write
        with m.If(valid[3]):
            m.d.comb += [updated.en.eq(1), updated.group.eq(group[3])]
            self._fire_and_reset(m, updated, t3_word, t3_u, t3_v)
        t4_spikes = Signal(p.lanes)
        if self._register_write:
            # Taken only in a cycle with a word, and used only under valid[4]: no reset, so the enable is the
            # registers' only control.
            t4_write = Signal(self.write.shape(), reset_less=True)
            with m.If(valid[3]):
                m.d.sync += t4_write.eq(updated)
            with m.If(valid[4]):
                m.d.comb += self.write.eq(t4_write)
            m.d.comb += t4_spikes.eq(t4_write.spikes)
        else:
            m.d.sync += t4_spikes.eq(self.write.spikes)
        m.d.comb += [
            self.vectors.valid.eq(valid[4] & (t4_spikes != 0)),
            self.vectors.payload.spikes.eq(t4_spikes),
            self.vectors.payload.group.eq(group[4]),
        ]
        return m

    def _bias(self, rec):
        """The bias of the neuron of record ``rec``."""
        return rec.bias if self._p.per_neuron_bias else self._p.bias

    def _new_currents(self, word):
        """Stage 1: u' = decay(u) + (acc << input_shift) (+ bias when it goes into the current), with Lava's wrap
        (Loihi) or the overflow rule."""
        p = self._p
        if not p.has_current:
            return []
        currents = []
        for rec in word:
            u = _decay(p, rec.u, p.decay_u) + (rec.acc << p.input_shift)
            if p.bias_into_current:
                u += self._bias(rec)
            currents.append(_lava_wrap(p, u) if p.loihi else _overflow(p, u, p.state_bits, *p.u_range))
        return currents

    def _decayed_voltages(self, word):
        """Stage 1: the voltages' leak (none for model "if"), plus the accumulated input with the early drive."""
        p = self._p
        voltages = [rec.v if p.model == "if" else _decay(p, rec.v, p.decay_v) for rec in word]
        if self._early:
            return [v + rec.acc for v, rec in zip(voltages, word)]
        return voltages

    def _new_voltages(self, word, u, vdec):
        """Stage 2: the new voltage, before refractoriness, compare and reset."""
        p = self._p
        voltages = []
        for lane, rec in enumerate(word):
            if self._early:
                v = vdec[lane]
            else:
                v = vdec[lane] + (u[lane] if p.has_current else rec.acc)
            if not p.bias_into_current:
                v += self._bias(rec)
            voltages.append(_overflow(p, v, p.state_bits, *p.v_range))
        return voltages

    def _fire_and_reset(self, m, updated, word, u, v):
        """Stage 3: refractoriness, compare and reset of each lane into ``updated`` (``write``'s layout)."""
        p = self._p
        out_word = updated.word
        m.d.comb += out_word.eq(word)
        for lane in range(p.lanes):
            rec, out = word[lane], out_word[lane]
            threshold = rec.threshold if p.per_neuron_threshold else Const(p.threshold, signed(p.state_bits))
            active = (rec.refractory == 0) if p.refractory else Const(1)
            fire = (v[lane] > threshold) if p.compare == "gt" else (v[lane] >= threshold)
            spike = active & fire
            m.d.comb += updated.spikes[lane].eq(spike)
            if p.has_current:
                m.d.comb += out.u.eq(u[lane])
            m.d.comb += out.acc.eq(0)
            # A refractory neuron keeps the v it was read with (the default write data).
            with m.If(spike):
                if p.reset == "zero":
                    m.d.comb += out.v.eq(p.v_reset)
                elif p.reset == "subtract":
                    m.d.comb += out.v.eq(_overflow(p, v[lane] - threshold, p.state_bits, *p.v_range))
                else:
                    m.d.comb += out.v.eq(v[lane])
                if p.refractory:
                    m.d.comb += out.refractory.eq(p.refractory)
            with m.Elif(active):
                m.d.comb += out.v.eq(v[lane])
            if p.refractory:
                with m.If(~active):
                    m.d.comb += out.refractory.eq(rec.refractory - 1)


class SpikeEmitter(wiring.Component):
    """Sends a tick's spike vectors out one spike per beat, lowest lane first, so spikes leave in neuron order,
    through output registers (:meth:`_output_registers`).

    Parameters
    ----------
    params : LifParams

    Members
    -------
    vectors : In(stream.Signature(vector_layout, always_ready=True))
        Spike vectors (``spikes``, ``group``). The FIFO holds a tick's G vectors, so it is always ready.
    spikes : Out(stream.Signature(spike_layout))
        The spikes, one ``neuron`` per beat.
    empty : Out(1)
        No vector waits and no spike is left to send.
    """

    def __init__(self, params):
        self._p = params
        super().__init__({
            "vectors": In(stream.Signature(_vector_layout(params), always_ready=True)),
            "spikes": Out(stream.Signature(_spike_layout(params))),
            "empty": Out(1),
        })

    def elaborate(self, platform):
        p = self._p
        P, G = p.lanes, p.groups
        m = Module()
        # SyncFIFOBuffered keeps one of its `depth` entries in its output register, which fills a cycle late, so
        # G back-to-back pushes need depth G + 1.
        layout = _vector_layout(p)
        m.submodules.spike_fifo = spike_fifo = fifo.SyncFIFOBuffered(width=layout.size, depth=G + 1)
        m.d.comb += [spike_fifo.w_data.eq(self.vectors.payload), spike_fifo.w_en.eq(self.vectors.valid)]

        # The vector being sent: its spikes (`bits`), and the same without the lowest (`rest`), which the next
        # spike leaves; with a flag each for whether any is left, so no carry chain or wide OR decides the next
        # cycle's load (at P = 32 that loop was the core's worst path on the ECP5).
        bits, rest = Signal(P), Signal(P)
        any_bits, any_rest = Signal(), Signal()
        g = Signal(p.group_bits)
        lowest = Signal(range(P))
        for lane in reversed(range(P)):
            with m.If(bits[lane]):
                m.d.comb += lowest.eq(lane)
        spike = stream.Signature(_spike_layout(p)).create()      # the next spike, into the output registers
        m.d.comb += [
            spike.valid.eq(any_bits),
            spike.payload.neuron.eq(Cat(lowest, g) if P > 1 else g),
        ]
        held = self._output_registers(m, spike)
        sent = spike.valid & spike.ready
        following = rest & (rest - 1)
        with m.If(sent):
            m.d.sync += [bits.eq(rest), any_bits.eq(any_rest), rest.eq(following), any_rest.eq(following != 0)]
        head = data.View(layout, spike_fifo.r_data)
        with m.If(Mux(sent, ~any_rest, ~any_bits) & spike_fifo.r_rdy):
            m.d.comb += spike_fifo.r_en.eq(1)
            head_rest = head.spikes & (head.spikes - 1)     # (the neuron pass sends no empty vector)
            m.d.sync += [bits.eq(head.spikes), any_bits.eq(1), rest.eq(head_rest),
                         any_rest.eq(head_rest != 0), g.eq(head.group)]
        # Spike vectors pushed but not yet taken (the FIFO's own flags lag by a cycle).
        pending = Signal(range(G + 3))
        m.d.sync += pending.eq(pending + spike_fifo.w_en - spike_fifo.r_en)
        m.d.comb += self.empty.eq(~any_bits & (pending == 0) & ~held)
        return m

    def _output_registers(self, m, spike):
        """The ``spikes`` port from registers, with a second (skid) register for the spike that arrives while
        the port is stalled, so the port's ``ready`` reaches no logic behind it. Returns whether a spike is
        held."""
        out_valid, skid_valid = Signal(), Signal()
        out, skid = Signal.like(spike.payload), Signal.like(spike.payload)
        m.d.comb += [self.spikes.valid.eq(out_valid), self.spikes.payload.eq(out), spike.ready.eq(~skid_valid)]
        with m.If(self.spikes.ready | ~out_valid):
            with m.If(skid_valid):
                m.d.sync += [out.eq(skid), out_valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [out.eq(spike.payload), out_valid.eq(spike.valid)]
        with m.Elif(spike.valid & ~skid_valid):
            m.d.sync += [skid.eq(spike.payload), skid_valid.eq(1)]
        return out_valid | skid_valid


class LifCore(wiring.Component):
    """A core of ``params.neurons`` LIF neurons behind a dense weight crossbar.

    Parameters
    ----------
    params : LifParams
        Validated parameters (see :class:`spikeforge.hdl.lif_core.params.LifParams`).
    stdp : StdpParams or None
        Build the STDP learning engine with these parameters (when ``stdp.enabled``).
    register_reads : bool or None
        Register the memories' read data before the integrate pass and the configuration port use it
        (docs/lif_core.md, Pipelining; with a learning engine the engine's depression too, docs/stdp.md).
        Otherwise (False) the accumulators of a core without a learning engine have a memory of their own: the
        integrate pass adds the weights to the accumulators as they are read and registers the sums, and the
        next cycle saturates them and writes the accumulators alone, so it keeps no copy of the rest of the word;
        the neuron pass then adds the accumulators in its first stage (``early_drive`` of :class:`NeuronPass`). A
        learning core without registered reads adds the words as they are read and writes the sums back in the
        same cycle. None: registered reads, except on an iCE40, where every register fed straight from a block
        RAM takes a logic cell of its own.

    Members
    -------
    events : In(stream.Signature(AxonEvent))
        Input axon events of the current timestep.
    tick : In(stream.Signature(1))
        End of the timestep; accepted when every accepted event has been integrated. Payload unused.
    done : Out(1)
        One-cycle pulse when the tick's update is complete and all its spikes have left on ``spikes``.
    spikes : Out(stream.Signature(Spike))
        Output neuron spikes of the last tick, in neuron order.
    cfg : In(stream.Signature(CfgCommand))
        Configuration commands, accepted while the core is idle.
    cfg_rsp : Out(stream.Signature(CfgResponse))
        One response per read command.
    reward : In(stream.Signature(signed(reward_bits)))
        Reward commands (reward-modulated STDP only), accepted while the core is idle.
    timestep : Out(32)
        Ticks completed.
    bad_events, bad_config : Out(16)
        Saturating counts of dropped out-of-range events and of refused configuration commands.
    """

    def __init__(self, params, *, stdp=None, register_reads=None):
        if not isinstance(params, LifParams):
            raise TypeError(f"params must be a LifParams, not {params!r}")
        if stdp is not None and not isinstance(stdp, StdpParams):
            raise TypeError(f"stdp must be a StdpParams or None, not {stdp!r}")
        if register_reads not in (None, True, False):
            raise TypeError(f"register_reads must be None, True or False, not {register_reads!r}")
        self._register_reads = register_reads
        self._p = p = params
        self._s = s = stdp if stdp is not None and stdp.enabled else None
        self._neuron_layout = neuron_layout(p, s)
        self._axon_event_layout = data.StructLayout({"axon": unsigned(p.axon_bits)})
        self._spike_layout = _spike_layout(p)
        self._cfg_layout = data.StructLayout({
            "op": CfgOp,
            "field": CfgField,
            "axon": unsigned(p.axon_bits),
            "neuron": unsigned(p.neuron_bits),
            "data": signed(self.data_bits),
        })
        self._cfg_rsp_layout = data.StructLayout({"data": signed(self.data_bits)})
        members = {
            "events": In(stream.Signature(self._axon_event_layout)),
            "tick": In(stream.Signature(1)),
            "done": Out(1),
            "spikes": Out(stream.Signature(self._spike_layout)),
            "cfg": In(stream.Signature(self._cfg_layout)),
            "cfg_rsp": Out(stream.Signature(self._cfg_rsp_layout)),
            "timestep": Out(32),
            "bad_events": Out(16),
            "bad_config": Out(16),
        }
        if s and s.reward:
            members["reward"] = In(stream.Signature(signed(s.reward_bits)))
        super().__init__(members)

    @property
    def params(self):
        return self._p

    @property
    def stdp(self):
        return self._s

    # Widths and layouts (the widths are the parameters', see LifParams).

    @property
    def axon_bits(self):
        return self._p.axon_bits

    @property
    def neuron_bits(self):
        return self._p.neuron_bits

    @property
    def group_bits(self):
        return self._p.group_bits

    @property
    def lane_bits(self):
        return self._p.lane_bits

    @property
    def data_bits(self):
        """Width of the configuration port's ``data`` (:meth:`LifParams.cfg_data_bits`)."""
        return self._p.cfg_data_bits(self._s)

    @property
    def neuron_layout(self):
        return self._neuron_layout

    @property
    def axon_event_layout(self):
        return self._axon_event_layout

    @property
    def spike_layout(self):
        return self._spike_layout

    @property
    def cfg_layout(self):
        return self._cfg_layout

    @property
    def cfg_rsp_layout(self):
        return self._cfg_rsp_layout

    def field_widths(self):
        """{CfgField: (width, signed)} of the fields this core stores."""
        s = self._s
        widths = {CfgField.WEIGHT: (self._p.weight_bits, True)}
        record = self._p.neuron_fields(s)
        widths.update((fld, record[name]) for fld, name in _RECORD_FIELDS.items() if name in record)
        if s:
            widths[CfgField.X_TRACE] = (s.trace_bits, False)
            widths[CfgField.LEARNING] = (1, False)
            if s.reward:
                widths[CfgField.ELIGIBILITY] = (s.eligibility_bits, True)
            widths[CfgField.FIRED] = (1, False)
            if s.has_lfsr:
                widths[CfgField.LFSR] = (16, False)
        return widths

    def elaborate(self, platform):
        m = Module()
        # Without a learning engine the memories' read data is registered before any logic uses it (a block
        # RAM's output is slow), for the integrate pass and the configuration port alike.
        register = self._register_reads
        if register is None:
            register = not isinstance(platform, SiliconBluePlatform)
        split = not register and not self._s
        st_rd, st_wr = self._state_memory(m, write_delay=2 if register or split else 1, split=split,
                                          register_write=register)
        engine = StdpEngine(self._p, self._s, registered_reads=register) if self._s else None
        weights = self._weight_memory(m, engine)
        held = self._registered_reads(m, st_rd, weights) if register else None
        if engine:
            engine.elaborate_into(m, weights=weights, state=st_rd, held=held)
        # The first weight word of an axon: an event's, or a configuration command's.
        base = Signal.like(weights.read_addr)
        accept_events, integrate_idle = self._integrate(m, weights, st_rd, st_wr, base, engine, held, split)
        neurons, emitter = self._neuron_pass(m, st_rd, st_wr, engine, early_drive=split,
                                             register_write=bool(engine) and register)

        idle = integrate_idle & ~neurons.busy & (~engine.pending if engine else 1)
        cmd = Signal(self._cfg_layout)      # the configuration command being carried out
        with m.FSM(name="control"):
            self._control(m, idle=idle, accept_events=accept_events, cmd=cmd, neurons=neurons, emitter=emitter,
                          engine=engine)
            self._configuration(m, cmd, weights, st_rd, st_wr, base, engine, held)
        return m

    def _state_memory(self, m, *, write_delay, split, register_write=False):
        """The state memory (one word of P neuron records per group); returns its read and write ports. With
        ``split`` the accumulators are a memory of their own (``acc_mem``) beside the rest of the records, and the
        ports are a :class:`StateRead` and a :class:`StateWrite` over both.

        A read meets the write of its own word only in the integrate pass with G <= ``write_delay``: the pass
        writes a group back ``write_delay`` cycles after reading it and the next event reads it G cycles after
        the last, and every other phase starts once the last write is done. Then the read port is transparent;
        with more groups it is not (a read that met a write would return the old word, and the tests would see
        it) and the memory is marked collision-free, so that synthesis builds no forwarding logic for either
        (:mod:`spikeforge.hdl.memory_roles`).

        With ``register_write`` and G >= 3 the write port takes its address, enable and data from registers (a
        :class:`RegisteredWrite`), so the multiplexer of the word's writers (the integrate pass, the neuron pass,
        the configuration port) ends at flip-flops rather than at the memory: every write lands a cycle later,
        ``write_delay`` + 1 cycles after its read, which the integrate pass meets as above; every other phase
        reads a word two cycles after its last write was set at the earliest, when it has landed. With G <= 2 the
        next event would read a word before its write lands, so those cores write directly.
        """
        p = self._p
        register_write = register_write and not split and p.groups >= 3
        write_delay += register_write
        # A learning core's neurons start plastic.
        init = [[{"plastic": 1} for _ in range(p.lanes)] for _ in range(p.groups)] if self._s else []
        collision_free = p.groups > write_delay

        def memory(name, layout, init):
            m.submodules[name] = mem = Memory(shape=data.ArrayLayout(layout, p.lanes), depth=p.groups, init=init,
                                              attrs=memory_attrs(collision_free=collision_free))
            wr = mem.write_port()
            return mem.read_port(transparent_for=() if collision_free else (wr,)), wr

        if not split:
            rd, wr = memory("state_mem", self._neuron_layout, init)
            if not register_write:
                return rd, wr
            st_wr = RegisteredWrite(addr=Signal.like(wr.addr), en=Signal(), data=Signal.like(wr.data))
            m.d.sync += [wr.addr.eq(st_wr.addr), wr.en.eq(st_wr.en), wr.data.eq(st_wr.data)]
            return rd, st_wr
        rest = [name for name, _ in self._neuron_layout if name != "acc"]
        acc_rd, acc_wr = memory("acc_mem", self._neuron_layout["acc"].shape, [])
        rest_rd, rest_wr = memory("state_mem", data.StructLayout(
            {name: self._neuron_layout[name].shape for name in rest}), [])
        word = data.ArrayLayout(self._neuron_layout, p.lanes)
        st_rd = StateRead(addr=Signal.like(acc_rd.addr), data=Signal(word))
        st_wr = StateWrite(addr=Signal.like(acc_wr.addr), en=Signal(), acc_en=Signal(), data=Signal(word))
        m.d.comb += [acc_rd.addr.eq(st_rd.addr), rest_rd.addr.eq(st_rd.addr), acc_wr.addr.eq(st_wr.addr),
                     rest_wr.addr.eq(st_wr.addr), acc_wr.en.eq(st_wr.en | st_wr.acc_en), rest_wr.en.eq(st_wr.en)]
        for lane in range(p.lanes):
            m.d.comb += [st_rd.data[lane].acc.eq(acc_rd.data[lane]), acc_wr.data[lane].eq(st_wr.data[lane].acc)]
            for name in rest:
                m.d.comb += [getattr(st_rd.data[lane], name).eq(getattr(rest_rd.data[lane], name)),
                             getattr(rest_wr.data[lane], name).eq(getattr(st_wr.data[lane], name))]
        return st_rd, st_wr

    def _weight_memory(self, m, engine):
        """The weight memory (one word of P weights per axon and group), as :class:`SynapsePorts`."""
        p, s = self._p, self._s
        single = s is None or s.weight_port == "single"
        m.submodules.weight_mem = weight_mem = Memory(
            shape=data.ArrayLayout(signed(p.weight_bits), p.lanes), depth=p.axons * p.groups, init=[],
            attrs=synapse_memory_attrs(p, single=single, host_loaded=True, write_delay=engine.write_delay)
            if engine else memory_attrs(host_loaded=True, single_port=True))
        read_addr = Signal(range(p.axons * p.groups))
        if s:
            return synapse_ports(m, weight_mem, read_addr, single=single)
        # Inference: one address for reads and writes and no read during a write, so Yosys can map the weights
        # to single-port SPRAM (SB_SPRAM256KA, "rdwr no_change"). Only the configuration port writes here, and it
        # has used the word it read by then.
        w_wr = weight_mem.write_port()
        w_rd = weight_mem.read_port()
        m.d.comb += [w_rd.addr.eq(read_addr), w_wr.addr.eq(read_addr), w_rd.en.eq(~w_wr.en)]
        return SynapsePorts(read=w_rd, write=w_wr, read_addr=read_addr, write_addr=Signal.like(read_addr),
                            last_read_addr=Signal.like(read_addr))

    def _neuron_pass(self, m, st_rd, st_wr, engine, *, early_drive, register_write):
        """The tick's neuron pass on the state memory, its spike vectors to the emitter and the emitter's spikes
        out of the core. Returns the :class:`NeuronPass` and the :class:`SpikeEmitter`."""
        m.submodules.neurons = neurons = NeuronPass(self._p, self._neuron_layout, early_drive=early_drive,
                                                    register_write=register_write)
        m.submodules.emitter = emitter = SpikeEmitter(self._p)
        wiring.connect(m, neurons.vectors, emitter.vectors)
        wiring.connect(m, emitter.spikes, wiring.flipped(self.spikes))
        m.d.comb += neurons.record.eq(st_rd.data)
        with m.If(neurons.read.en):
            m.d.comb += st_rd.addr.eq(neurons.read.group)
        with m.If(neurons.write.en):
            m.d.comb += [st_wr.addr.eq(neurons.write.group), st_wr.en.eq(1), st_wr.data.eq(neurons.write.word)]
            if engine:
                engine.spiked(m, neurons.write.group, neurons.write.word, neurons.write.spikes, st_wr.data)
        return neurons, emitter

    @staticmethod
    def _registered_reads(m, st_rd, weights):
        """(state word, weight word): the read data of the state and weight memories a cycle later."""
        word, weight_word = Signal.like(st_rd.data), Signal.like(weights.read.data)
        m.d.sync += [word.eq(st_rd.data), weight_word.eq(weights.read.data)]
        return word, weight_word

    def _integrate(self, m, weights, st_rd, st_wr, base, engine, held, split):
        """The integrate pass: stage 0 issues (base + g, g); stage 1 adds the weights to the accumulators and
        writes them back (and stages the depression), or with ``held`` (the read data registered) stage 1
        registers the read data and stage 2 adds and writes (and stages the depression), or with ``split`` (the
        accumulators a memory of their own, no learning engine) stage 1 adds and registers the sums and stage 2
        saturates and writes the accumulators.
        Returns (whether an event may be accepted while the core is idle, whether no event is in flight)."""
        p = self._p
        G = p.groups
        stall = engine.stall if engine else Const(0)
        busy = Signal()          # stage 0 holds an event
        g = Signal(p.group_bits)
        last = g == G - 1
        s1_valid = Signal()
        s1_g = Signal(p.group_bits)
        s1_addr = Signal.like(weights.read_addr)
        with m.If(busy & ~stall):
            m.d.comb += [weights.read_addr.eq(base + g), st_rd.addr.eq(g)]
            m.d.sync += [s1_valid.eq(1), s1_g.eq(g), s1_addr.eq(base + g), g.eq(g + 1)]
            with m.If(last):
                m.d.sync += busy.eq(0)
        with m.Else():
            m.d.sync += s1_valid.eq(0)

        axon = self.events.payload.axon
        with m.If(self.events.valid & self.events.ready):
            with m.If(axon < p.axons):
                m.d.sync += [busy.eq(1), base.eq(axon * G), g.eq(0)]
                if engine:
                    engine.fire(m, axon)
            with m.Else():
                with m.If(self.bad_events != 0xFFFF):
                    m.d.sync += self.bad_events.eq(self.bad_events + 1)

        if split:
            self._accumulate_split(m, st_rd, st_wr, weights, s1_valid, s1_g)
            # Idle once stage 1 is empty, as with registered reads below.
            return ~busy | last, ~busy & ~s1_valid
        # A learning core with one group takes an event every other cycle: a repeated axon then reads its word in
        # the cycle of the last update's write-back (without registered reads) or in the cycle before (with them,
        # forwarded below).
        accept = ~busy if engine and G == 1 else ~busy | (last & ~stall)
        if not held:
            # Stage 1 adds and writes back and, with a learning engine, stages the depression of the word just
            # read with the trace the last tick left (the engine's read-modify-write of the weights is timed to
            # this stage; the weight is written back two cycles after its read).
            with m.If(s1_valid):
                self._accumulate(m, st_wr, s1_g, st_rd.data, weights.read.data)
                if engine:
                    engine.depress(m, s1_addr, st_rd.data)
            return accept, ~busy & ~s1_valid

        # Registered reads: stage 1 registers the memories' read data (no adder behind a block RAM's output),
        # stage 2 adds and writes back and, with a learning engine, stages the depression from the same registers
        # (the weight is written back three cycles after its read). A state word read in stage 0 sees the write
        # of the same cycle (with G <= 2 the read port is transparent) but not the one of the next: with one
        # group, back-to-back events read the word that stage 2 is writing, so stage 1 takes that instead
        # (forwarding). Likewise a weight word read in the cycle before its write-back (an event of the same axon
        # G <= 2 cycles after the last) takes the data written back; one read in the cycle of the write (G = 3)
        # sees it through the transparent read port.
        s2_valid = Signal()
        s2_g = Signal(p.group_bits)
        s2_addr = Signal.like(s1_addr)
        s2_word, s2_weights = held
        m.d.sync += [s2_valid.eq(s1_valid), s2_g.eq(s1_g), s2_addr.eq(s1_addr)]
        with m.If(s2_valid):
            self._accumulate(m, st_wr, s2_g, s2_word, s2_weights)
            if engine:
                engine.depress(m, s2_addr, s2_word)
            if G == 1:
                with m.If(s1_valid):
                    m.d.sync += s2_word.eq(st_wr.data)
        if engine and G <= 2:
            with m.If(s1_valid):
                engine.forward(m, s1_addr)
        # Idle once stage 1 is empty: what follows (a tick, a configuration command) reads the state a cycle later
        # at the earliest, when stage 2's last write is done or (transparently) under way; a learning core also
        # waits for the engine's write-backs (`pending`).
        return accept, ~busy & ~s1_valid

    def _accumulate_split(self, m, st_rd, st_wr, weights, s1_valid, s1_g):
        """Stage 1 adds the weights to the accumulators read and registers the sums (full width); stage 2
        saturates them and writes the accumulators of its group alone. With G <= 2 the read port is transparent,
        so a word read in the cycle of its write sees it; with one group, back-to-back events read the word in
        the cycle before stage 2 writes it, so stage 1 takes the accumulators being written instead
        (forwarding)."""
        p = self._p
        s2_valid = Signal()
        s2_g = Signal(p.group_bits)
        sums = Signal(data.ArrayLayout(signed(max(p.acc_bits, p.weight_bits) + 1), p.lanes))
        m.d.sync += [s2_valid.eq(s1_valid), s2_g.eq(s1_g)]
        with m.If(s1_valid):
            for lane in range(p.lanes):
                acc = st_rd.data[lane].acc
                if p.groups == 1:
                    acc = Mux(s2_valid, st_wr.data[lane].acc, acc)
                m.d.sync += sums[lane].eq(acc + weights.read.data[lane])
        with m.If(s2_valid):
            m.d.comb += [st_wr.addr.eq(s2_g), st_wr.acc_en.eq(1)]
            m.d.comb += [st_wr.data[lane].acc.eq(_overflow(p, sums[lane], p.acc_bits, *p.acc_range))
                         for lane in range(p.lanes)]

    def _accumulate(self, m, st_wr, group, word, weights):
        """Write back state ``word`` of ``group`` with each lane's ``weights`` added to its accumulator."""
        p = self._p
        m.d.comb += [st_wr.addr.eq(group), st_wr.en.eq(1), st_wr.data.eq(word)]
        for lane in range(p.lanes):
            total = word[lane].acc + weights[lane]
            m.d.comb += st_wr.data[lane].acc.eq(_overflow(p, total, p.acc_bits, *p.acc_range))

    def _control(self, m, *, idle, accept_events, cmd, neurons, emitter, engine):
        """The control FSM's states but configuration: accept events, or while idle a configuration command, a
        reward or a tick, and run the tick's passes."""
        reward = engine and self._s.reward
        with m.State("IDLE"):
            m.d.comb += self.events.ready.eq(accept_events)
            with m.If(idle & ~self.events.valid):
                with m.If(self.cfg.valid):
                    m.d.comb += self.cfg.ready.eq(1)
                    m.d.sync += cmd.eq(self.cfg.payload)
                    m.next = "CFG-CHECK"
                if reward:
                    with m.Elif(self.reward.valid):
                        m.d.comb += self.reward.ready.eq(1)
                        engine.start_reward(m, self.reward.payload)
                        m.next = "REWARD"
                with m.Elif(self.tick.valid):
                    m.d.comb += [self.tick.ready.eq(1), neurons.start.eq(1)]
                    m.next = "TICK"

        def finish():
            with m.If(emitter.empty):
                m.d.comb += self.done.eq(1)
                m.d.sync += self.timestep.eq(self.timestep + 1)
                m.next = "IDLE"

        with m.State("TICK"):
            with m.If(~neurons.busy):
                if engine:
                    engine.start_tick(m)
                    m.next = "LEARN"
                else:
                    finish()
        if engine:
            with m.State("LEARN"):
                with m.If(engine.done):
                    m.next = "FINISH"
            with m.State("FINISH"):
                finish()
        if reward:
            with m.State("REWARD"):
                with m.If(engine.done):
                    m.next = "IDLE"

    def _configuration(self, m, cmd, weights, st_rd, st_wr, base, engine, held):
        """The control FSM's configuration states: check the command, read the word it addresses (``held``: its
        registered read data, a cycle later, :meth:`_registered_reads`), answer and (a write) write the word
        back."""
        p = self._p
        cmd_ok = Signal()
        lane = cmd.neuron[:p.lane_bits] if p.lanes > 1 else Const(0, 1)
        group = cmd.neuron[p.lane_bits:]
        rsp_data = self.cfg_rsp.payload.data
        write = cmd.op == CfgOp.WRITE

        with m.State("CFG-CHECK"):
            with m.Switch(cmd.field):
                for fld, ok in self._cfg_checks(cmd).items():
                    with m.Case(fld):
                        m.d.sync += cmd_ok.eq(ok)
                with m.Default():
                    m.d.sync += cmd_ok.eq(0)
            m.d.sync += base.eq(cmd.axon * p.groups)
            m.next = "CFG-READ"
        with m.State("CFG-READ"):
            m.d.comb += [weights.read_addr.eq(base + group), st_rd.addr.eq(group)]
            if engine:
                engine.address_axon(m, cmd.axon)
            with m.If(~cmd_ok):
                with m.If(self.bad_config != 0xFFFF):
                    m.d.sync += self.bad_config.eq(self.bad_config + 1)
                m.d.sync += rsp_data.eq(0)
                with m.If(write):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "CFG-RSP"
            with m.Else():
                m.next = "CFG-HOLD" if held else "CFG-MODIFY"
        if held:
            with m.State("CFG-HOLD"):
                m.d.comb += weights.read_addr.eq(base + group)
                if engine:
                    engine.address_axon(m, cmd.axon)
                m.next = "CFG-MODIFY"
        with m.State("CFG-MODIFY"):
            # The read data of the memories is valid in this cycle; a write goes back to the same word.
            m.d.comb += weights.read_addr.eq(base + group)
            with m.Switch(cmd.field):
                for fld in self.field_widths():
                    with m.Case(fld):
                        value = self._cfg_access(m, fld, cmd, lane, group, write, weights, st_rd, st_wr, engine,
                                                 held)
                        m.d.sync += rsp_data.eq(value)
            with m.If(write):
                m.next = "IDLE"
            with m.Else():
                m.next = "CFG-RSP"
        with m.State("CFG-RSP"):
            m.d.comb += self.cfg_rsp.valid.eq(1)
            with m.If(self.cfg_rsp.ready):
                m.next = "IDLE"

    def _cfg_checks(self, cmd):
        """{CfgField: whether ``cmd`` may address it}: addresses in range, and a write value that fits."""
        def fits(value, width, is_signed):
            if is_signed:
                return (value >= -(1 << (width - 1))) & (value < (1 << (width - 1)))
            return (value >= 0) & (value < (1 << width))

        checks = {}
        for fld, (width, is_signed) in self.field_widths().items():
            ok = Const(1)
            if fld not in (CfgField.X_TRACE, CfgField.FIRED, CfgField.LEARNING):
                ok &= cmd.neuron < self._p.neurons
            if fld in (CfgField.WEIGHT, CfgField.ELIGIBILITY, CfgField.X_TRACE, CfgField.FIRED):
                ok &= cmd.axon < self._p.axons
            checks[fld] = ok & ((cmd.op == CfgOp.READ) | fits(cmd.data, width, is_signed))
        return checks

    def _cfg_access(self, m, fld, cmd, lane, group, write, weights, st_rd, st_wr, engine, held):
        """Answer field ``fld`` of the command's item, read a cycle ago (or held, two cycles ago), and when
        ``write`` set it to the command's data. Returns the answer."""
        word, weight_word = held or (st_rd.data, None)
        if fld == CfgField.WEIGHT:
            return weights.configure(m, lane, cmd.data, write, word=weight_word)
        if fld == CfgField.ELIGIBILITY:
            return engine.configure_eligibility(m, lane, cmd.data, write)
        if fld == CfgField.X_TRACE:
            return engine.configure_x_trace(m, cmd.axon, cmd.data, write)
        if fld == CfgField.FIRED:
            return engine.configure_fired(m, cmd.axon, cmd.data, write)
        if fld == CfgField.LFSR:
            return engine.configure_lfsr(m, lane, cmd.data, write)
        if fld == CfgField.LEARNING:
            return engine.configure_learning(m, cmd.data, write)
        name = _RECORD_FIELDS[fld]
        m.d.comb += [st_wr.addr.eq(group), st_wr.data.eq(word), st_wr.en.eq(write)]
        m.d.comb += getattr(st_wr.data[lane], name).eq(cmd.data)
        return getattr(word[lane], name)
