"""The STDP learning engine of the LIF core: traces, learning memories, LFSRs, the plastic write-back stage and
the learning passes (docs/stdp.md).

The engine changes the core's own weights, so it shares the core's weight and state memories and is built into
the core's module rather than beside it: :class:`~spikeforge.hdl.lif_core.core.LifCore` creates a
:class:`StdpEngine`, adds it to its module (:meth:`StdpEngine.elaborate_into`) and calls its hooks where the
core's phases meet learning:

- integrate: :meth:`~StdpEngine.fire` marks an event's axon as having fired; :meth:`~StdpEngine.depress` stages
  the depression of the weights just read;
- the tick's neuron pass: :meth:`~StdpEngine.spiked` bumps the postsynaptic traces of the word written back and
  records which neurons learn from their spike;
- after the neuron pass :meth:`~StdpEngine.start_tick`, and for a reward command :meth:`~StdpEngine.start_reward`,
  run the engine's passes; ``done`` is high in the cycle they end;
- configuration: :meth:`~StdpEngine.address_axon` and the ``configure_*`` methods read and write its state
  (traces, fired bits, learning switch, eligibilities, LFSRs).

The passes, run by the engine's own FSM, issue one address per cycle and write the updated word back a cycle
later (two with the core's registered reads, which register the words read first):

- X-PASS: the presynaptic traces, x <- bump(x, fired), fired <- 0 (A cycles);
- E-PASS (reward only): the eligibility decay, E <- E - (E >> eligibility_shift), over every synapse word
  (A * G cycles);
- POT-SCAN, POT-CHECK, POT-PASS: potentiation; for every group with a learning spike, the P weights of every axon
  (A cycles per group);
- REWARD: W <- clip(W + ((reward * E + r) >> lr_shift)) over every synapse word.

The order of the updates is specified by :mod:`spikeforge.sim.stdp.model`.
"""

import dataclasses

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory, ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from ..arith import saturate
from ..lif_core.params import LifParams
from ..memory_roles import COLLISION_FREE, memory_attrs
from .lfsr import LFSR_TAPS, lfsr_seeds
from .params import StdpParams


__all__ = ["StdpEngine", "SynapsePorts", "synapse_ports", "synapse_memory_attrs", "LfsrBank", "PlasticWriteBack"]


@dataclasses.dataclass(frozen=True)
class SynapsePorts:
    """The ports of a synapse memory (weights or eligibilities): P lanes per word, word ``a * G + g``.

    Attributes
    ----------
    read : ReadPort
    write : WritePort
    read_addr : Signal
        The word read; its data is on ``read.data`` a cycle later.
    write_addr : Signal
        The word written (unused by a memory with one address, whose writes go to ``read_addr``).
    last_read_addr : Signal
        ``read_addr`` a cycle ago, from a register: the word whose data is on ``read.data`` (unused, as
        ``write_addr``, by a memory with one address).
    """

    read: ReadPort
    write: WritePort
    read_addr: Signal
    write_addr: Signal
    last_read_addr: Signal

    def configure(self, m, lane, value, write, *, word=None):
        """Answer lane ``lane`` of the word read a cycle ago (or of ``word``, that word registered) and, when
        ``write``, write the word back with that lane set to ``value``. Returns the lane's value. The caller holds
        ``read_addr`` on the word, so it is written back at the registered address: the write port's address
        mux starts at flip-flops, not at the control logic that forms ``read_addr``."""
        word = self.read.data if word is None else word
        m.d.comb += [self.write_addr.eq(self.last_read_addr), self.write.data.eq(word),
                     self.write.en.eq(write), self.write.data[lane].eq(value)]
        return word[lane]


def synapse_ports(m, memory, read_addr, *, single):
    """The ports of a synapse memory of a learning core, read at ``read_addr``, as :class:`SynapsePorts`.

    ``single``: one access per cycle, so the memory maps to single-port RAM: a write takes the cycle and its
    address, and the read waits (the engine's ``stall``). Otherwise a simple dual-port memory: a word is written
    while the next one is read, and the read port is transparent unless the memory is marked collision-free
    (:func:`synapse_memory_attrs`).
    """
    write = memory.write_port()
    write_addr = Signal.like(write.addr)
    last_read_addr = Signal.like(read_addr)
    m.d.sync += last_read_addr.eq(read_addr)
    if single:
        read = memory.read_port()
        addr = Mux(write.en, write_addr, read_addr)
        m.d.comb += [read.addr.eq(addr), write.addr.eq(addr), read.en.eq(~write.en)]
    else:
        read = memory.read_port(transparent_for=() if COLLISION_FREE in memory.attrs else (write,))
        m.d.comb += [read.addr.eq(read_addr), write.addr.eq(write_addr)]
    return SynapsePorts(read=read, write=write, read_addr=read_addr, write_addr=write_addr,
                        last_read_addr=last_read_addr)


def synapse_memory_attrs(params, *, single, host_loaded, write_delay=2):
    """The roles of a synapse memory (:mod:`spikeforge.hdl.memory_roles`). A word is written back
    ``write_delay`` cycles after its read (two: :class:`PlasticWriteBack`; three when the core's integrate pass
    registers its reads), and every pass reads a word once; only an event of the same axon G cycles later reads
    it again, so with G > ``write_delay`` no read meets the write of its word: the dual-port memory is
    collision-free."""
    return memory_attrs(host_loaded=host_loaded, single_port=single,
                        collision_free=not single and params.groups > write_delay)


def _times(factor, value):
    """``factor * value`` for a constant ``factor`` >= 0, as a tree of adders of ``value`` shifted (synthesis
    maps a ``*`` to a DSP block, whose delay on the ECP5 is that of several adders)."""
    terms = [value << bit for bit in range(factor.bit_length()) if factor >> bit & 1]
    if not terms:
        return Const(0)
    while len(terms) > 1:
        terms = [a + b for a, b in zip(terms[::2], terms[1::2])] + terms[len(terms) & ~1:]
    return terms[0]


class LfsrBank(wiring.Component):
    """The per-lane LFSRs of stochastic rounding (taps and seeds: :mod:`spikeforge.hdl.stdp.lfsr`).

    Members
    -------
    step : In(lanes)
        The lanes whose LFSR steps at the end of this cycle.
    load : In(lanes)
        The lanes whose LFSR takes ``value`` at the end of this cycle instead (the configuration port).
    value : In(16)
    state : Out(data.ArrayLayout(16, lanes))
        The LFSRs' states.
    """

    def __init__(self, *, lanes, seed):
        self._lanes = lanes
        super().__init__({
            "step": In(lanes),
            "load": In(lanes),
            "value": In(16),
            "state": Out(data.ArrayLayout(16, lanes), init=list(lfsr_seeds(seed, lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        for lane in range(self._lanes):
            state = self.state[lane]
            with m.If(self.load[lane]):
                m.d.sync += state.eq(self.value)
            with m.Elif(self.step[lane]):
                m.d.sync += state.eq((state >> 1) ^ Mux(state[0], LFSR_TAPS, 0))
        return m


class PlasticWriteBack(wiring.Component):
    """The write-back stage of the plastic updates.

    The cycle the memories return a word, the engine computes each lane's change from the traces (the
    multiplications) and offers it with the word on ``update``; this stage registers them, and the next cycle
    adds, clips and writes the word back: weights clip to ``w_min..w_max``, eligibilities (reward mode, unless the
    update is a reward's, which changes the weights) saturate. A weight is thus written two cycles after the
    cycle its word is offered in: two after its read, three with registered reads. The only address read again
    within that window is a repeated axon's in an integrate pass of G <= 2 groups (G = 1 takes an event every
    other cycle), G <= 3 with registered reads (:meth:`StdpEngine.forward`). An update no lane takes (learning
    off, no plastic neuron in the group) is not written.

    Members
    -------
    update : In(stream.Signature(update_layout, always_ready=True))
        ``addr``, ``lanes`` (those that change), ``delta`` (per lane), the word's ``weights`` and, in reward mode,
        its ``eligibilities`` and ``to_weight``.
    weight, eligibility : Out(write_layout)
        ``en``, ``addr`` and ``data`` of the weight word and (reward mode) the eligibility word written back.
    pending : Out(1)
        A word is written back in this cycle.
    """

    def __init__(self, params, stdp, *, addr_bits):
        self._p, self._s = params, stdp
        P = params.lanes
        self._weight_word = data.ArrayLayout(signed(params.weight_bits), P)
        self._e_word = data.ArrayLayout(signed(stdp.eligibility_bits), P)
        update = {"addr": unsigned(addr_bits), "lanes": unsigned(P),
                  "delta": data.ArrayLayout(signed(stdp.delta_bits), P), "weights": self._weight_word}
        if stdp.reward:
            update.update({"eligibilities": self._e_word, "to_weight": unsigned(1)})
        self._update_layout = data.StructLayout(update)

        def write_layout(word):
            return data.StructLayout({"en": unsigned(1), "addr": unsigned(addr_bits), "data": word})

        members = {
            "update": In(stream.Signature(self._update_layout, always_ready=True)),
            "weight": Out(write_layout(self._weight_word)),
            "pending": Out(1),
        }
        if stdp.reward:
            members["eligibility"] = Out(write_layout(self._e_word))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        s, P = self._s, self._p.lanes
        staged = Signal(self._update_layout)
        m.d.sync += self.pending.eq(self.update.valid & self.update.payload.lanes.any())
        with m.If(self.update.valid):
            m.d.sync += staged.eq(self.update.payload)

        to_weight = staged.to_weight if s.reward else Const(1)
        m.d.comb += [self.weight.en.eq(self.pending & to_weight), self.weight.addr.eq(staged.addr)]
        for lane in range(P):
            w, delta = staged.weights[lane], staged.delta[lane]
            m.d.comb += self.weight.data[lane].eq(Mux(staged.lanes[lane], saturate(w + delta, s.w_min, s.w_max), w))
        if s.reward:
            e_lo, e_hi = s.eligibility_range
            m.d.comb += [self.eligibility.en.eq(self.pending & ~to_weight), self.eligibility.addr.eq(staged.addr)]
            for lane in range(P):
                e, delta = staged.eligibilities[lane], staged.delta[lane]
                m.d.comb += self.eligibility.data[lane].eq(Mux(staged.lanes[lane], saturate(e + delta, e_lo, e_hi),
                                                               e))
        return m


class StdpEngine:
    """The learning engine of a LIF core, built into the core's module (see the module's description).

    Parameters
    ----------
    params : LifParams
        The core's parameters.
    stdp : StdpParams
        The rule's parameters (enabled).
    registered_reads : bool
        The core registers the words it reads and uses them a cycle later (docs/lif_core.md, Pipelining): so do
        the engine's passes and the depression (the core's registered state and weight words, and the engine's
        own of the traces, fired bits and eligibilities), so a synapse word is written back three cycles after
        its read, and a word read in the cycle before its write takes the write-back's data (:meth:`forward`).

    Attributes
    ----------
    stall : Signal
        Single weight port: a write-back takes this cycle, so the core's synapse reads wait.
    pending : Signal
        A plastic update is written back in this cycle (the core is not idle).
    done : Signal
        The passes started by :meth:`start_tick` or :meth:`start_reward` end in this cycle.
    """

    def __init__(self, params, stdp, *, registered_reads=False):
        if not isinstance(params, LifParams):
            raise TypeError(f"params must be a LifParams, not {params!r}")
        if not isinstance(stdp, StdpParams) or not stdp.enabled:
            raise TypeError(f"stdp must be an enabled StdpParams, not {stdp!r}")
        self._p, self._s = params, stdp
        self._registered = registered_reads
        P, G, A = params.lanes, params.groups, params.axons
        self.stall = Signal()
        self.pending = Signal()
        self.done = Signal()

        self._learning = Signal(init=1)     # the global run-time switch (CfgField.LEARNING)
        self._x_mem = Memory(shape=unsigned(stdp.trace_bits), depth=A, init=[])
        self._fired_mem = Memory(shape=1, depth=A, init=[])
        self._learn_mem = Memory(shape=P, depth=G, init=[])       # per group: the neurons that learn from a spike
        if stdp.reward:
            self._e_mem = Memory(shape=data.ArrayLayout(signed(stdp.eligibility_bits), P), depth=A * G, init=[],
                                 attrs=synapse_memory_attrs(params, single=self._single, host_loaded=self._single,
                                                            write_delay=self.write_delay))

        # The passes' registers: stage 0 issues an address, stage 1 (`_valid`) writes the word back, or with
        # registered reads stage 1 registers the words read and stage 2 (`_late_valid`) writes.
        self._start_tick = Signal()
        self._start_reward = Signal()
        self._count = Signal(range(max(A * G, A, G) + 1))     # the next word of X-PASS, E-PASS, REWARD
        self._valid = Signal()
        self._wb_addr = Signal.like(self._count)                # the word stage 1 writes back
        self._group = Signal(range(G + 1))
        self._axon = Signal(range(A + 1))
        self._addr = Signal.like(self._count)                   # POT-PASS: the weight word of (axon, group)
        self._spikes = Signal(P)                                # POT-PASS: the group's learning spikes
        self._reward = Signal(signed(stdp.reward_bits)) if stdp.reward else None

    @property
    def _single(self):
        return self._s.weight_port == "single"

    @property
    def write_delay(self):
        """Cycles from an integrate pass's read of a synapse word to its write-back."""
        return 3 if self._registered else 2

    def elaborate_into(self, m, *, weights, state, held=None):
        """Add the engine to the core's module ``m``. ``weights``: the :class:`SynapsePorts` of the core's weight
        memory (from :func:`synapse_ports`); ``state``: the read port of its state memory; ``held`` (with
        registered reads): the core's registers of the state and weight words read, a cycle later."""
        s = self._s
        self._weights, self._state = weights, state
        m.submodules.x_mem = self._x_mem
        m.submodules.fired_mem = self._fired_mem
        m.submodules.learn_mem = self._learn_mem
        self._x_wr, self._x_rd = self._x_mem.write_port(), self._x_mem.read_port()
        self._fired_wr, self._fired_rd = self._fired_mem.write_port(), self._fired_mem.read_port()
        self._learn_wr, self._learn_rd = self._learn_mem.write_port(), self._learn_mem.read_port()
        if s.reward:
            m.submodules.e_mem = self._e_mem
            # The eligibilities are read with the weights, at the same address.
            self._e = synapse_ports(m, self._e_mem, weights.read_addr, single=self._single)
        self._reads(m, held)
        self._lfsrs = None
        if s.has_lfsr:
            m.submodules.lfsrs = self._lfsrs = LfsrBank(lanes=self._p.lanes, seed=s.seed)
        m.submodules.write_back = self._write_back = PlasticWriteBack(self._p, s, addr_bits=len(weights.read_addr))
        self._connect_write_back(m)
        self._passes(m)

    # Hooks of the integrate pass.

    def fire(self, m, axon):
        """Mark ``axon`` as having fired in this step (an event of it is accepted in this cycle)."""
        m.d.comb += [self._fired_wr.addr.eq(axon), self._fired_wr.data.eq(1), self._fired_wr.en.eq(1)]

    def depress(self, m, addr, records):
        """Stage the depression of the weight word read at ``addr`` (data in this cycle, or with registered reads
        in its registers), with the trace the last tick left in ``records``, the state word read with it."""
        s, P = self._s, self._p.lanes
        lanes = Cat(self._learning & records[lane].plastic for lane in range(P))
        r = self._rounding(m, lanes)
        deltas = [-((_times(s.a_minus, records[lane].y) + r[lane]) >> s.lr_shift) for lane in range(P)]
        self._stage(m, addr, deltas, lanes)

    def forward(self, m, addr):
        """Registered reads: the synapse word read at ``addr`` is on the read port in this cycle, and its
        registers take it; when the write-back writes that word in this cycle (the read came a cycle before the
        write: an event of the same axon G <= 2 cycles after the last), they take the data written instead, for
        the weights and (reward mode) the eligibilities."""
        wb = self._write_back
        with m.If(wb.weight.en & (wb.weight.addr == addr)):
            m.d.sync += self._rd_weights.eq(wb.weight.data)
        if self._s.reward:
            with m.If(wb.eligibility.en & (wb.eligibility.addr == addr)):
                m.d.sync += self._rd_e.eq(wb.eligibility.data)

    # Hook of the neuron pass.

    def spiked(self, m, group, records, spikes, written):
        """The neuron pass writes back ``group``: ``records`` as it read them, ``spikes`` the lanes that fired.
        Bumps the postsynaptic traces in ``written`` (the word being written) and records which neurons learn."""
        s = self._s
        for lane in range(self._p.lanes):
            m.d.comb += [
                written[lane].y.eq(self._bump(records[lane].y, spikes[lane], s.tau_post_shift)),
                self._learn_wr.data[lane].eq(spikes[lane] & records[lane].plastic & self._learning),
            ]
        m.d.comb += [self._learn_wr.addr.eq(group), self._learn_wr.en.eq(1)]

    # Starting the passes (from the core's control FSM, while the core is otherwise idle).

    def start_tick(self, m):
        """Run the tick's passes, from the next cycle on."""
        m.d.comb += self._start_tick.eq(1)

    def start_reward(self, m, value):
        """Apply a reward command of ``value``, from the next cycle on."""
        m.d.comb += self._start_reward.eq(1)
        m.d.sync += self._reward.eq(value)

    # Configuration of the engine's state (the core decodes the command).

    def address_axon(self, m, axon):
        """Read the state of ``axon`` (its presynaptic trace and fired bit), for :meth:`configure_x_trace` and
        :meth:`configure_fired` in the next cycle."""
        m.d.comb += [self._x_rd.addr.eq(axon), self._fired_rd.addr.eq(axon)]

    def configure_x_trace(self, m, axon, value, write):
        """Answer the trace of ``axon`` (addressed a cycle ago, with registered reads two cycles ago and in the
        last) and, when ``write``, set it to ``value``."""
        m.d.comb += [self._x_wr.addr.eq(axon), self._x_wr.data.eq(value), self._x_wr.en.eq(write)]
        return self._rd_x

    def configure_fired(self, m, axon, value, write):
        """Answer whether ``axon`` (addressed as for :meth:`configure_x_trace`) fired since the last tick and,
        when ``write``, set that bit to ``value``."""
        m.d.comb += [self._fired_wr.addr.eq(axon), self._fired_wr.data.eq(value), self._fired_wr.en.eq(write)]
        return self._rd_fired

    def configure_lfsr(self, m, lane, value, write):
        """Answer the LFSR state of ``lane`` and, when ``write``, set it to ``value`` (0 stops it)."""
        m.d.comb += [self._lfsrs.value.eq(value), self._lfsrs.load.eq(Mux(write, Const(1, self._p.lanes) << lane, 0))]
        return self._lfsrs.state[lane]

    def configure_eligibility(self, m, lane, value, write):
        """Answer lane ``lane`` of the eligibility word read with the weights a cycle ago (with registered reads,
        two cycles ago, from its register) and, when ``write``, set it to ``value``."""
        return self._e.configure(m, lane, value, write, word=self._rd_e)

    def configure_learning(self, m, value, write):
        """Answer the global learning switch and, when ``write``, set it to bit 0 of ``value``."""
        with m.If(write):
            m.d.sync += self._learning.eq(value[0])
        return self._learning

    # Internals.

    def _reads(self, m, held):
        """The words the passes and the configuration use, read a cycle ago (``_rd_*``), and the stage that uses
        them (``_late_valid``, ``_late_addr``): the memories' read data and stage 1, or with registered reads
        the data registered (the core's state and weight words ``held``, the engine's own traces, fired bits
        and eligibilities) and stage 2, a cycle later."""
        self._rd_records, self._rd_weights = self._state.data, self._weights.read.data
        self._rd_x, self._rd_fired = self._x_rd.data, self._fired_rd.data
        self._rd_e = self._e.read.data if self._s.reward else None
        self._late_valid, self._late_addr = self._valid, self._wb_addr
        if not self._registered:
            return
        self._rd_records, self._rd_weights = held
        self._rd_x, self._rd_fired = Signal.like(self._x_rd.data), Signal()
        self._late_valid, self._late_addr = Signal(), Signal.like(self._wb_addr)
        m.d.sync += [self._rd_x.eq(self._x_rd.data), self._rd_fired.eq(self._fired_rd.data),
                     self._late_valid.eq(self._valid), self._late_addr.eq(self._wb_addr)]
        if self._s.reward:
            self._rd_e = Signal.like(self._e.read.data)
            m.d.sync += self._rd_e.eq(self._e.read.data)

    def _bump(self, trace, fired, shift):
        """A trace's tick: decay, then the impulse when its axon or neuron fired."""
        s = self._s
        decayed = trace - (trace >> shift)
        if s.accumulate == "all":
            bumped = saturate(decayed + s.impulse, 0, s.trace_max)
        else:
            bumped = Const(s.impulse)
        return Mux(fired, bumped, decayed)

    def _rounding(self, m, lanes):
        """The rounding offsets r of the P lanes, 0 unless stochastic; the LFSRs of ``lanes`` step."""
        if self._lfsrs is None:
            return [Const(0)] * self._p.lanes
        m.d.comb += self._lfsrs.step.eq(lanes)
        return [self._lfsrs.state[lane][:self._s.lr_shift] for lane in range(self._p.lanes)]

    def _stage(self, m, addr, deltas, lanes, *, to_weight=False):
        """Offer the word read at ``addr`` (``_rd_weights`` and ``_rd_e`` in this cycle) and its changes ``deltas``
        (applied to ``lanes``) to the write-back stage."""
        update = self._write_back.update
        m.d.comb += [update.valid.eq(1), update.payload.addr.eq(addr), update.payload.lanes.eq(lanes),
                     update.payload.weights.eq(self._rd_weights)]
        m.d.comb += [update.payload.delta[lane].eq(delta) for lane, delta in enumerate(deltas)]
        if self._s.reward:
            m.d.comb += [update.payload.eligibilities.eq(self._rd_e), update.payload.to_weight.eq(to_weight)]

    def _connect_write_back(self, m):
        wb, weights = self._write_back, self._weights
        with m.If(wb.weight.en):
            m.d.comb += [weights.write_addr.eq(wb.weight.addr), weights.write.en.eq(1),
                         weights.write.data.eq(wb.weight.data)]
        if self._s.reward:
            with m.If(wb.eligibility.en):
                m.d.comb += [self._e.write_addr.eq(wb.eligibility.addr), self._e.write.en.eq(1),
                             self._e.write.data.eq(wb.eligibility.data)]
        m.d.comb += self.pending.eq(wb.pending)
        if self._single:
            m.d.comb += self.stall.eq(wb.pending)

    def _passes(self, m):
        s = self._s
        with m.FSM(name="learning"):
            with m.State("IDLE"):
                with m.If(self._start_tick):
                    m.d.sync += [self._count.eq(0), self._valid.eq(0)]
                    m.next = "X-PASS"
                if s.reward:
                    with m.If(self._start_reward):
                        m.d.sync += [self._count.eq(0), self._group.eq(0)]
                        m.next = "REWARD"
            with m.State("X-PASS"):
                self._x_pass(m)
            if s.reward:
                with m.State("E-PASS"):
                    self._e_pass(m)
            self._potentiation(m)
            if s.reward:
                with m.State("REWARD"):
                    self._reward_pass(m)

    def _end_pass(self, m, words, next_state):
        """Leave the pass over ``words`` words when the last has been written back (or offered to the write-back
        stage)."""
        with m.If((self._count == words) & ~self._valid & ~self._late_valid):
            m.d.sync += [self._count.eq(0), self._group.eq(0)]
            m.next = next_state

    def _x_pass(self, m):
        """Presynaptic traces: x <- bump(x, fired); fired <- 0."""
        A = self._p.axons
        x_rd, x_wr, fired_rd, fired_wr = self._x_rd, self._x_wr, self._fired_rd, self._fired_wr
        with m.If(self._count < A):
            m.d.comb += [x_rd.addr.eq(self._count), fired_rd.addr.eq(self._count)]
            m.d.sync += self._count.eq(self._count + 1)
        m.d.sync += [self._valid.eq(self._count < A), self._wb_addr.eq(self._count)]
        with m.If(self._late_valid):
            m.d.comb += [
                x_wr.addr.eq(self._late_addr), x_wr.en.eq(1),
                x_wr.data.eq(self._bump(self._rd_x, self._rd_fired, self._s.tau_pre_shift)),
                fired_wr.addr.eq(self._late_addr), fired_wr.data.eq(0), fired_wr.en.eq(1),
            ]
        self._end_pass(m, A, "E-PASS" if self._s.reward else "POT-SCAN")

    def _e_pass(self, m):
        """Eligibility decay over every synapse word."""
        words = self._p.axons * self._p.groups
        e = self._e
        # With a single port, a read waits for a cycle without a write-back.
        issue = (self._count < words) & (~self._late_valid if self._single else 1)
        with m.If(issue):
            m.d.comb += self._weights.read_addr.eq(self._count)
            m.d.sync += self._count.eq(self._count + 1)
        m.d.sync += [self._valid.eq(issue), self._wb_addr.eq(self._count)]
        with m.If(self._late_valid):
            m.d.comb += [e.write_addr.eq(self._late_addr), e.write.en.eq(1)]
            for lane in range(self._p.lanes):
                old = self._rd_e[lane]
                m.d.comb += e.write.data[lane].eq(old - (old >> self._s.eligibility_shift))
        self._end_pass(m, words, "POT-SCAN")

    def _potentiation(self, m):
        """For every group with learning spikes, every axon: W <- clip(W + ((a_plus * x + r) >> lr_shift)) for the
        lanes that spiked, P weights per cycle."""
        s, P, G, A = self._s, self._p.lanes, self._p.groups, self._p.axons
        with m.State("POT-SCAN"):
            with m.If(self._group == G):
                m.d.comb += self.done.eq(1)
                m.next = "IDLE"
            with m.Else():
                m.d.comb += self._learn_rd.addr.eq(self._group)
                m.next = "POT-CHECK"
        with m.State("POT-CHECK"):
            with m.If(self._learn_rd.data != 0):
                m.d.sync += [self._spikes.eq(self._learn_rd.data), self._axon.eq(0), self._addr.eq(self._group),
                             self._valid.eq(0)]
                m.next = "POT-PASS"
            with m.Else():
                m.d.sync += self._group.eq(self._group + 1)
                m.next = "POT-SCAN"
        with m.State("POT-PASS"):
            issue = (self._axon < A) & ~self.stall
            with m.If(issue):
                m.d.comb += [self._weights.read_addr.eq(self._addr), self._x_rd.addr.eq(self._axon)]
                m.d.sync += [self._axon.eq(self._axon + 1), self._addr.eq(self._addr + G)]
            m.d.sync += [self._valid.eq(issue), self._wb_addr.eq(self._addr)]
            with m.If(self._late_valid):
                r = self._rounding(m, self._spikes)
                self._stage(m, self._late_addr, [(_times(s.a_plus, self._rd_x) + r[lane]) >> s.lr_shift
                                                 for lane in range(P)], self._spikes)
            with m.If((self._axon == A) & ~self._valid & ~self._late_valid):
                m.d.sync += self._group.eq(self._group + 1)
                m.next = "POT-SCAN"

    def _reward_pass(self, m):
        """W <- clip(W + ((reward * E + r) >> lr_shift)) over every synapse word, for the neurons that learn
        (learning on and plastic), like every other update."""
        s, P, G = self._s, self._p.lanes, self._p.groups
        words = self._p.axons * G
        issue = (self._count < words) & ~self.stall
        with m.If(issue):
            m.d.comb += [self._weights.read_addr.eq(self._count), self._state.addr.eq(self._group)]
            m.d.sync += [self._count.eq(self._count + 1), self._group.eq(Mux(self._group == G - 1, 0, self._group + 1))]
        m.d.sync += [self._valid.eq(issue), self._wb_addr.eq(self._count)]
        with m.If(self._late_valid):
            lanes = Cat(self._learning & self._rd_records[lane].plastic for lane in range(P))
            r = self._rounding(m, lanes)
            self._stage(m, self._late_addr, [(self._reward * self._rd_e[lane] + r[lane]) >> s.lr_shift
                                             for lane in range(P)], lanes, to_weight=True)
        with m.If((self._count == words) & ~self._valid & ~self._late_valid):
            m.d.comb += self.done.eq(1)
            m.next = "IDLE"
