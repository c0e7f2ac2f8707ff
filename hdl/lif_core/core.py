"""The time-multiplexed LIF neuron core generator, with an optional STDP learning engine.

N neurons are kept in ``lanes`` (P) parallel lanes: neuron n lives in group g = n // P, lane n % P. A group's
state (accumulator, voltage, current, refractory counter and, when per neuron, threshold and bias; with STDP the
postsynaptic trace and the plastic bit) is one word of the state memory; the weights of one axon to one group
are one word of the weight memory, at address a * G + g. All memories are :class:`amaranth.lib.memory.Memory`,
so they map to iCE40 EBR/SPRAM and ECP5 DP16KD.

Phases (one at a time; the core is idle between them):

- integrate: an accepted axon event visits the G groups one per cycle: read W[a, g] and acc[g], add, write
  acc[g] back. Events are accepted back to back, so a stream of events costs G cycles each with no bubbles.
  With STDP the same pass depresses W[a, g] (or its eligibility) and writes it back: a read-modify-write of P
  weights per cycle.
- tick: the G groups are read one per cycle, pass a pipeline (read; current and decays; voltage; compare,
  reset, write back; spike vector) and push the group's spike vector into a FIFO that the spike emitter drains,
  one neuron per beat, in neuron order. With STDP three passes follow: the presynaptic traces (A cycles), the
  eligibility decay (reward only, A * G cycles) and potentiation (for every group with a learning spike, A
  cycles of P weight updates). ``done`` pulses when all passes are over and the last spike has been taken.
- reward (reward-modulated STDP only): one command visits all A * G weight words.
- configuration: one command reads or writes one weight or one neuron's field (a read-modify-write of the
  word), see :class:`CfgField`. Out-of-range addresses, absent fields and values that do not fit are counted
  in ``bad_config`` and change nothing (a read of them answers 0).

The order of the learning updates is specified by :mod:`spikeforge.sim.stdp.model`.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..cfg import CfgOp
from ..stdp.lfsr import LFSR_TAPS, lfsr_seeds
from ..stdp.params import StdpParams
from .params import LifParams


__all__ = ["LifCore", "CfgOp", "CfgField", "neuron_layout"]


class CfgField(enum.Enum, shape=4):
    """What a configuration command addresses. ``WEIGHT`` and ``ELIGIBILITY`` use ``axon`` and ``neuron``,
    ``X_TRACE`` uses ``axon``, ``LEARNING`` neither, the rest ``neuron``. Fields 7..11 exist only with an STDP
    engine."""
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


# Neuron-record fields reachable through the configuration port.
_RECORD_FIELDS = {CfgField.V: "v", CfgField.U: "u", CfgField.ACC: "acc", CfgField.REFRACTORY: "refractory",
                  CfgField.THRESHOLD: "threshold", CfgField.BIAS: "bias", CfgField.Y_TRACE: "y",
                  CfgField.PLASTIC: "plastic"}

def _saturate(value, lo, hi):
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


def neuron_layout(params, stdp=None):
    """The layout of one neuron's record in the state memory (a state word holds ``params.lanes`` of them).

    ``stdp`` (a :class:`StdpParams`, or None) adds the postsynaptic trace and the plasticity flag when enabled.
    """
    return data.StructLayout({name: signed(width) if is_signed else unsigned(width)
                              for name, (width, is_signed) in params.neuron_fields(stdp).items()})


class LifCore(wiring.Component):
    """A core of ``params.neurons`` LIF neurons behind a dense weight crossbar.

    Parameters
    ----------
    params : LifParams
        Validated parameters (see :class:`spikeforge.hdl.lif_core.params.LifParams`).
    stdp : StdpParams or None
        Build the STDP learning engine with these parameters (when ``stdp.enabled``).

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

    def __init__(self, params, *, stdp=None):
        if not isinstance(params, LifParams):
            raise TypeError(f"params must be a LifParams, not {params!r}")
        if stdp is not None and not isinstance(stdp, StdpParams):
            raise TypeError(f"stdp must be a StdpParams or None, not {stdp!r}")
        self._p = p = params
        self._s = s = stdp if stdp is not None and stdp.enabled else None
        self.axon_bits = p.axon_bits
        self.neuron_bits = p.neuron_bits
        self.group_bits = p.group_bits
        self.lane_bits = p.lane_bits

        self.neuron_layout = neuron_layout(p, s)
        self.data_bits = p.cfg_data_bits(s)
        self.axon_event_layout = data.StructLayout({"axon": unsigned(self.axon_bits)})
        self.spike_layout = data.StructLayout({"neuron": unsigned(self.neuron_bits)})
        self.cfg_layout = data.StructLayout({
            "op": CfgOp,
            "field": CfgField,
            "axon": unsigned(self.axon_bits),
            "neuron": unsigned(self.neuron_bits),
            "data": signed(self.data_bits),
        })
        self.cfg_rsp_layout = data.StructLayout({"data": signed(self.data_bits)})
        members = {
            "events": In(stream.Signature(self.axon_event_layout)),
            "tick": In(stream.Signature(1)),
            "done": Out(1),
            "spikes": Out(stream.Signature(self.spike_layout)),
            "cfg": In(stream.Signature(self.cfg_layout)),
            "cfg_rsp": Out(stream.Signature(self.cfg_rsp_layout)),
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

    def field_widths(self):
        """{CfgField: (width, signed)} of the fields this core stores."""
        p, s = self._p, self._s
        widths = {CfgField.WEIGHT: (p.weight_bits, True)}
        for fld, name in _RECORD_FIELDS.items():
            if name in dict(self.neuron_layout):
                shape = self.neuron_layout[name].shape
                widths[fld] = (shape.width, shape.signed)
        if s:
            widths[CfgField.X_TRACE] = (s.trace_bits, False)
            widths[CfgField.LEARNING] = (1, False)
            if s.reward:
                widths[CfgField.ELIGIBILITY] = (s.eligibility_bits, True)
        return widths

    # Arithmetic shared by the pipeline stages; each mirrors a line of the golden models.

    def _decay(self, x, k):
        p = self._p
        if p.decay == "shift":
            return x - (x >> k)
        if p.decay == "mult":
            magnitude = Mux(x < 0, -x, x)
            scaled = (magnitude * (4096 - k)) >> 12
            return Mux(x < 0, -scaled, scaled)
        return Mux(x > k, x - k, Mux(x < -k, x + k, 0))

    def _overflow(self, value, bits, lo, hi):
        if self._p.saturate:
            return _saturate(value, lo, hi)
        return value[:bits].as_signed()

    def _lava_wrap(self, value):
        half = 1 << (self._p.state_bits - 1)
        return Mux(value > half, value - 2 * half, Mux(value <= -half, value + 2 * half, value))

    def _bump(self, trace, fired, shift):
        """A trace's tick: decay, then the impulse when its axon or neuron fired."""
        s = self._s
        decayed = trace - (trace >> shift)
        if s.accumulate == "all":
            bumped = _saturate(decayed + s.impulse, 0, s.trace_max)
        else:
            bumped = Const(s.impulse)
        return Mux(fired, bumped, decayed)

    def elaborate(self, platform):
        p, s = self._p, self._s
        m = Module()
        G, P, A = p.groups, p.lanes, p.axons
        learn = s is not None
        reward = learn and s.reward

        state_word = data.ArrayLayout(self.neuron_layout, P)
        weight_word = data.ArrayLayout(signed(p.weight_bits), P)
        state_init = [[{"plastic": 1} for _ in range(P)] for _ in range(G)] if learn else []
        m.submodules.state_mem = state_mem = Memory(shape=state_word, depth=G, init=state_init)
        m.submodules.weight_mem = weight_mem = Memory(shape=weight_word, depth=A * G, init=[])
        st_wr = state_mem.write_port()
        st_rd = state_mem.read_port(transparent_for=(st_wr,))
        w_wr = weight_mem.write_port()
        w_addr = Signal.like(w_wr.addr)     # the word read
        w_waddr = Signal.like(w_wr.addr)    # the word written (learning cores)
        # A learning core with a single weight port: each cycle the weight memory (and the eligibility memory)
        # either reads or writes; a read that would meet a write-back waits (`stall`).
        single = learn and s.weight_port == "single"
        stall = Signal()
        if single:
            w_rd = weight_mem.read_port()
            port_addr = Mux(w_wr.en, w_waddr, w_addr)
            m.d.comb += [w_rd.addr.eq(port_addr), w_wr.addr.eq(port_addr), w_rd.en.eq(~w_wr.en)]
        elif learn:
            # Learning writes a weight while the next one is read: a simple dual-port memory.
            w_rd = weight_mem.read_port(transparent_for=(w_wr,))
            m.d.comb += [w_rd.addr.eq(w_addr), w_wr.addr.eq(w_waddr)]
        else:
            # One address for reads and writes and no read during a write, so Yosys can map the weights to
            # single-port SPRAM (SB_SPRAM256KA, "rdwr no_change"). Only the configuration port writes here, and
            # it has used the word it read by then.
            w_rd = weight_mem.read_port()
            m.d.comb += [w_rd.addr.eq(w_addr), w_wr.addr.eq(w_addr), w_rd.en.eq(~w_wr.en)]

        # A tick pushes at most G vectors; SyncFIFOBuffered keeps one of its `depth` entries in its output
        # register, which fills a cycle late, so G back-to-back pushes need depth G + 1.
        m.submodules.spike_fifo = spike_fifo = fifo.SyncFIFOBuffered(width=self.group_bits + P, depth=G + 1)

        # Integrate pipeline. Stage 0 issues (base + g, g); stage 1 adds and writes back.
        in_busy = Signal()          # stage 0 holds an event
        in_base = Signal.like(w_addr)
        in_g = Signal(self.group_bits)
        in_last = Signal()
        s1_valid = Signal()
        s1_g = Signal(self.group_bits)
        s1_addr = Signal.like(w_addr)

        # Tick pipeline. Stage 0 issues g; stage 1 updates u and decays v; stage 2 finishes and writes back.
        tk_issue = Signal()
        tk_g = Signal(self.group_bits)
        t1_valid = Signal()
        t1_g = Signal(self.group_bits)
        t2_valid = Signal()
        t2_g = Signal(self.group_bits)
        t2_word = Signal(state_word)
        t2_u = Signal(data.ArrayLayout(signed(p.u_bits), P))
        t2_vdec = Signal(data.ArrayLayout(signed(p.state_bits), P))
        t3_valid = Signal()
        t3_g = Signal(self.group_bits)
        t3_word = Signal(state_word)
        t3_u = Signal(data.ArrayLayout(signed(p.u_bits), P))
        t3_v = Signal(data.ArrayLayout(signed(p.state_bits), P))
        t4_valid = Signal()
        t4_g = Signal(self.group_bits)
        t4_spikes = Signal(P)

        tick_busy = tk_issue | t1_valid | t2_valid | t3_valid | t4_valid
        pipeline_empty = Signal()

        # --- learning state ---------------------------------------------------------------------------
        if learn:
            learning = Signal(init=1)
            lfsr = [Signal(16, init=seed, name=f"lfsr_{lane}") for lane, seed in enumerate(lfsr_seeds(s.seed, P))]
            lfsr_step = Signal(P)   # lanes whose LFSR steps this cycle
            for lane in range(P):
                with m.If(lfsr_step[lane]):
                    m.d.sync += lfsr[lane].eq((lfsr[lane] >> 1) ^ Mux(lfsr[lane][0], LFSR_TAPS, 0))

            def offset(lane):
                return lfsr[lane][:s.lr_shift] if s.stochastic and s.lr_shift else Const(0)

            m.submodules.x_mem = x_mem = Memory(shape=unsigned(s.trace_bits), depth=A, init=[])
            x_wr = x_mem.write_port()
            x_rd = x_mem.read_port()
            m.submodules.fired_mem = fired_mem = Memory(shape=1, depth=A, init=[])
            fired_wr = fired_mem.write_port()
            fired_rd = fired_mem.read_port()
            m.submodules.learn_mem = learn_mem = Memory(shape=P, depth=G, init=[])
            ln_wr = learn_mem.write_port()
            ln_rd = learn_mem.read_port()
            if reward:
                e_word = data.ArrayLayout(signed(s.eligibility_bits), P)
                m.submodules.e_mem = e_mem = Memory(shape=e_word, depth=A * G, init=[])
                e_wr = e_mem.write_port()
                e_waddr = Signal.like(e_wr.addr)
                if single:
                    e_rd = e_mem.read_port()
                    e_port_addr = Mux(e_wr.en, e_waddr, w_addr)
                    m.d.comb += [e_rd.addr.eq(e_port_addr), e_wr.addr.eq(e_port_addr), e_rd.en.eq(~e_wr.en)]
                else:
                    e_rd = e_mem.read_port(transparent_for=(e_wr,))
                    m.d.comb += [e_rd.addr.eq(w_addr), e_wr.addr.eq(e_waddr)]
                e_lo, e_hi = s.eligibility_range

            # Plastic write-back stage. The cycle the memories return a word computes each lane's change from
            # the traces (the multiplications) and registers it with the word; the next cycle adds, clips and
            # writes. The weight is thus written two cycles after its read; the only address read again within
            # that window is a repeated axon with G = 1, which the event handshake spaces by a cycle.
            pw_valid = Signal()
            pw_addr = Signal.like(w_addr)
            pw_en = Signal(P)
            pw_delta = Signal(data.ArrayLayout(signed(s.delta_bits), P))
            pw_w = Signal(weight_word)
            if reward:
                pw_e = Signal(e_word)
                pw_to_w = Signal()      # a reward update: the weight changes, not its eligibility
            m.d.sync += pw_valid.eq(0)

            def stage_plastic(addr, deltas, en, *, to_weight=False):
                """Register this cycle's read word at ``addr`` and its per-lane changes (applied where ``en``)."""
                # A word no lane changes is not written back (learning off, no plastic neuron in the group).
                m.d.sync += [pw_valid.eq(en.any()), pw_addr.eq(addr), pw_en.eq(en), pw_w.eq(w_rd.data)]
                m.d.sync += [pw_delta[lane].eq(delta) for lane, delta in enumerate(deltas)]
                if reward:
                    m.d.sync += [pw_e.eq(e_rd.data), pw_to_w.eq(to_weight)]

        # --- integrate ---------------------------------------------------------------------------------
        m.d.comb += in_last.eq(in_g == G - 1)
        can_accept_event = Signal()
        m.d.comb += self.events.ready.eq(can_accept_event)
        with m.If(in_busy & ~stall):
            m.d.comb += [w_addr.eq(in_base + in_g), st_rd.addr.eq(in_g)]
            m.d.sync += [s1_valid.eq(1), s1_g.eq(in_g), s1_addr.eq(in_base + in_g), in_g.eq(in_g + 1)]
            with m.If(in_last):
                m.d.sync += in_busy.eq(0)
        with m.Else():
            m.d.sync += s1_valid.eq(0)

        axon = self.events.payload.axon
        with m.If(self.events.valid & self.events.ready):
            with m.If(axon < A):
                m.d.sync += [in_busy.eq(1), in_base.eq(axon * G), in_g.eq(0)]
                if learn:
                    m.d.comb += [fired_wr.addr.eq(axon), fired_wr.data.eq(1), fired_wr.en.eq(1)]
            with m.Else():
                with m.If(self.bad_events != 0xFFFF):
                    m.d.sync += self.bad_events.eq(self.bad_events + 1)

        acc_lo, acc_hi = p.acc_range
        with m.If(s1_valid):
            m.d.comb += [st_wr.addr.eq(s1_g), st_wr.en.eq(1), st_wr.data.eq(st_rd.data)]
            for lane in range(P):
                total = st_rd.data[lane].acc + w_rd.data[lane]
                m.d.comb += st_wr.data[lane].acc.eq(self._overflow(total, p.acc_bits, acc_lo, acc_hi))
            if learn:
                # Depression of the word just read, with the trace the last tick left.
                en = Cat(learning & st_rd.data[lane].plastic for lane in range(P))
                m.d.comb += lfsr_step.eq(en)
                stage_plastic(s1_addr, [-((s.a_minus * st_rd.data[lane].y + offset(lane)) >> s.lr_shift)
                                        for lane in range(P)], en)

        if learn:
            with m.If(pw_valid):
                sat_w = [_saturate(pw_w[lane] + pw_delta[lane], s.w_min, s.w_max) for lane in range(P)]
                if reward:
                    with m.If(pw_to_w):
                        m.d.comb += [w_waddr.eq(pw_addr), w_wr.en.eq(1)]
                        m.d.comb += [w_wr.data[lane].eq(Mux(pw_en[lane], sat_w[lane], pw_w[lane]))
                                     for lane in range(P)]
                    with m.Else():
                        m.d.comb += [e_waddr.eq(pw_addr), e_wr.en.eq(1)]
                        m.d.comb += [e_wr.data[lane].eq(Mux(pw_en[lane],
                                                            _saturate(pw_e[lane] + pw_delta[lane], e_lo, e_hi),
                                                            pw_e[lane]))
                                     for lane in range(P)]
                else:
                    m.d.comb += [w_waddr.eq(pw_addr), w_wr.en.eq(1)]
                    m.d.comb += [w_wr.data[lane].eq(Mux(pw_en[lane], sat_w[lane], pw_w[lane]))
                                 for lane in range(P)]
        m.d.comb += pipeline_empty.eq(~in_busy & ~s1_valid & ~tick_busy & (~pw_valid if learn else 1))
        if single:
            m.d.comb += stall.eq(pw_valid)

        # --- tick: neuron pass ---------------------------------------------------------------------------
        with m.If(tk_issue):
            m.d.comb += st_rd.addr.eq(tk_g)
            m.d.sync += tk_g.eq(tk_g + 1)
            with m.If(tk_g == G - 1):
                m.d.sync += tk_issue.eq(0)
        m.d.sync += [t1_valid.eq(tk_issue), t1_g.eq(tk_g), t2_valid.eq(t1_valid), t2_g.eq(t1_g),
                     t3_valid.eq(t2_valid), t3_g.eq(t2_g), t4_valid.eq(t3_valid), t4_g.eq(t3_g)]

        with m.If(t1_valid):
            m.d.sync += t2_word.eq(st_rd.data)
            for lane in range(P):
                rec = st_rd.data[lane]
                if p.has_current:
                    u = self._decay(rec.u, p.decay_u) + (rec.acc << p.input_shift)
                    u = self._lava_wrap(u) if p.loihi else self._overflow(u, p.state_bits, *p.u_range)
                    m.d.sync += t2_u[lane].eq(u)
                vdec = rec.v if p.model == "if" else self._decay(rec.v, p.decay_v)
                m.d.sync += t2_vdec[lane].eq(vdec)

        # Stage 2: the new voltage, before refractoriness, compare and reset.
        v_lo, v_hi = p.v_range
        with m.If(t2_valid):
            m.d.sync += [t3_word.eq(t2_word), t3_u.eq(t2_u)]
            for lane in range(P):
                rec = t2_word[lane]
                bias = rec.bias if p.per_neuron_bias else p.bias
                drive = t2_u[lane] if p.has_current else rec.acc
                m.d.sync += t3_v[lane].eq(self._overflow(t2_vdec[lane] + drive + bias, p.state_bits, v_lo, v_hi))

        # Stage 3: refractoriness, compare, reset, write back; the spike vector goes to the FIFO a cycle later.
        spike_vec = Signal(P)
        with m.If(t3_valid):
            m.d.comb += [st_wr.addr.eq(t3_g), st_wr.en.eq(1), st_wr.data.eq(t3_word)]
            for lane in range(P):
                rec = t3_word[lane]
                out = st_wr.data[lane]
                threshold = rec.threshold if p.per_neuron_threshold else Const(p.threshold, signed(p.state_bits))
                v = t3_v[lane]
                active = (rec.refractory == 0) if p.refractory else Const(1)
                fire = (v > threshold) if p.compare == "gt" else (v >= threshold)
                spike = active & fire
                m.d.comb += spike_vec[lane].eq(spike)
                if p.has_current:
                    m.d.comb += out.u.eq(t3_u[lane])
                m.d.comb += out.acc.eq(0)
                # A refractory neuron keeps the v it was read with (the default write data).
                with m.If(spike):
                    if p.reset == "zero":
                        m.d.comb += out.v.eq(p.v_reset)
                    elif p.reset == "subtract":
                        m.d.comb += out.v.eq(self._overflow(v - threshold, p.state_bits, v_lo, v_hi))
                    else:
                        m.d.comb += out.v.eq(v)
                    if p.refractory:
                        m.d.comb += out.refractory.eq(p.refractory)
                with m.Elif(active):
                    m.d.comb += out.v.eq(v)
                if p.refractory:
                    with m.If(~active):
                        m.d.comb += out.refractory.eq(rec.refractory - 1)
                if learn:
                    m.d.comb += out.y.eq(self._bump(rec.y, spike, s.tau_post_shift))
                    m.d.comb += ln_wr.data[lane].eq(spike & rec.plastic & learning)
            if learn:
                m.d.comb += [ln_wr.addr.eq(t3_g), ln_wr.en.eq(1)]
        m.d.sync += t4_spikes.eq(spike_vec)
        with m.If(t4_valid):
            m.d.comb += [
                spike_fifo.w_data.eq(Cat(t4_spikes, t4_g)),
                spike_fifo.w_en.eq(t4_spikes != 0),
            ]

        # --- spike emitter: one neuron per beat, lowest lane first -------------------------------------
        em_bits = Signal(P)
        em_g = Signal(self.group_bits)
        lowest = Signal(range(P))
        for lane in reversed(range(P)):
            with m.If(em_bits[lane]):
                m.d.comb += lowest.eq(lane)
        m.d.comb += [
            self.spikes.valid.eq(em_bits != 0),
            self.spikes.payload.neuron.eq(Cat(lowest, em_g) if P > 1 else em_g),
        ]
        remaining = Signal(P)
        m.d.comb += remaining.eq(em_bits)
        with m.If(self.spikes.valid & self.spikes.ready):
            m.d.comb += remaining.eq(em_bits & (em_bits - 1))
        m.d.sync += em_bits.eq(remaining)
        with m.If((remaining == 0) & spike_fifo.r_rdy):
            m.d.comb += spike_fifo.r_en.eq(1)
            m.d.sync += [em_bits.eq(spike_fifo.r_data[:P]), em_g.eq(spike_fifo.r_data[P:])]
        # Spike vectors pushed but not yet taken by the emitter (the FIFO's own flags lag by a cycle).
        pending = Signal(range(G + 3))
        m.d.sync += pending.eq(pending + spike_fifo.w_en - spike_fifo.r_en)
        emitter_empty = (em_bits == 0) & (pending == 0)

        # --- learning passes after the neuron pass ------------------------------------------------------
        # A pass issues one address per cycle (stage 0) and writes the updated word back a cycle later.
        ps_addr = Signal(range(max(A * G, A, G) + 1))
        ps_count = Signal.like(ps_addr)
        ps_valid = Signal()          # stage 1 of the pass holds a word
        ps_axon = Signal(range(A + 1))
        ps_g = Signal(range(G + 1))
        ps_bits = Signal(P)
        ps_wb_addr = Signal.like(ps_addr)
        reward_value = Signal(signed(s.reward_bits)) if reward else None

        # --- configuration ----------------------------------------------------------------------------
        cmd = Signal(self.cfg_layout)
        cmd_ok = Signal()
        lane_sel = cmd.neuron[:self.lane_bits] if P > 1 else Const(0, 1)
        group_sel = cmd.neuron[self.lane_bits:]
        rsp_data = Signal(signed(self.data_bits))
        m.d.comb += self.cfg_rsp.payload.data.eq(rsp_data)
        widths = self.field_widths()

        def fits(value, width, is_signed):
            if is_signed:
                return (value >= -(1 << (width - 1))) & (value < (1 << (width - 1)))
            return (value >= 0) & (value < (1 << width))

        with m.FSM(name="control"):
            with m.State("IDLE"):
                # A learning core with one group reads a repeated axon's word only once its update is written.
                m.d.comb += can_accept_event.eq(~in_busy if learn and G == 1 else ~in_busy | (in_last & ~stall))
                with m.If(pipeline_empty & ~self.events.valid):
                    with m.If(self.cfg.valid):
                        m.d.comb += self.cfg.ready.eq(1)
                        m.d.sync += cmd.eq(self.cfg.payload)
                        m.next = "CFG-CHECK"
                    if reward:
                        with m.Elif(self.reward.valid):
                            m.d.comb += self.reward.ready.eq(1)
                            m.d.sync += [reward_value.eq(self.reward.payload), ps_count.eq(0), ps_g.eq(0)]
                            m.next = "REWARD"
                    with m.Elif(self.tick.valid):
                        m.d.comb += self.tick.ready.eq(1)
                        m.d.sync += [tk_issue.eq(1), tk_g.eq(0)]
                        m.next = "TICK"

            def finish():
                with m.If(emitter_empty):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += self.timestep.eq(self.timestep + 1)
                    m.next = "IDLE"

            with m.State("TICK"):
                with m.If(~tick_busy):
                    if learn:
                        m.d.sync += [ps_count.eq(0), ps_valid.eq(0)]
                        m.next = "X-PASS"
                    else:
                        finish()

            if learn:
                # Presynaptic traces: x <- bump(x, fired); fired <- 0.
                with m.State("X-PASS"):
                    with m.If(ps_count < A):
                        m.d.comb += [x_rd.addr.eq(ps_count), fired_rd.addr.eq(ps_count)]
                        m.d.sync += ps_count.eq(ps_count + 1)
                    m.d.sync += [ps_valid.eq(ps_count < A), ps_wb_addr.eq(ps_count)]
                    with m.If(ps_valid):
                        m.d.comb += [
                            x_wr.addr.eq(ps_wb_addr), x_wr.en.eq(1),
                            x_wr.data.eq(self._bump(x_rd.data, fired_rd.data, s.tau_pre_shift)),
                            fired_wr.addr.eq(ps_wb_addr), fired_wr.data.eq(0), fired_wr.en.eq(1),
                        ]
                    with m.If((ps_count == A) & ~ps_valid):
                        m.d.sync += [ps_count.eq(0), ps_g.eq(0)]
                        m.next = "E-PASS" if reward else "POT-SCAN"

                if reward:
                    # Eligibility decay over every synapse word.
                    with m.State("E-PASS"):
                        # With a single port, a read waits for the cycle after each write-back.
                        e_issue = (ps_count < A * G) & (~ps_valid if single else 1)
                        with m.If(e_issue):
                            m.d.comb += w_addr.eq(ps_count)
                            m.d.sync += ps_count.eq(ps_count + 1)
                        m.d.sync += [ps_valid.eq(e_issue), ps_wb_addr.eq(ps_count)]
                        with m.If(ps_valid):
                            m.d.comb += [e_waddr.eq(ps_wb_addr), e_wr.en.eq(1)]
                            for lane in range(P):
                                e = e_rd.data[lane]
                                m.d.comb += e_wr.data[lane].eq(e - (e >> s.eligibility_shift))
                        with m.If((ps_count == A * G) & ~ps_valid):
                            m.d.sync += [ps_count.eq(0), ps_g.eq(0)]
                            m.next = "POT-SCAN"

                # Potentiation: for every group with learning spikes, every axon, P weights per cycle.
                with m.State("POT-SCAN"):
                    with m.If(ps_g == G):
                        m.next = "FINISH"
                    with m.Else():
                        m.d.comb += ln_rd.addr.eq(ps_g)
                        m.next = "POT-CHECK"
                with m.State("POT-CHECK"):
                    with m.If(ln_rd.data != 0):
                        m.d.sync += [ps_bits.eq(ln_rd.data), ps_axon.eq(0), ps_addr.eq(ps_g), ps_valid.eq(0)]
                        m.next = "POT-PASS"
                    with m.Else():
                        m.d.sync += ps_g.eq(ps_g + 1)
                        m.next = "POT-SCAN"
                with m.State("POT-PASS"):
                    with m.If((ps_axon < A) & ~stall):
                        m.d.comb += [w_addr.eq(ps_addr), x_rd.addr.eq(ps_axon)]
                        m.d.sync += [ps_axon.eq(ps_axon + 1), ps_addr.eq(ps_addr + G)]
                    m.d.sync += [ps_valid.eq((ps_axon < A) & ~stall), ps_wb_addr.eq(ps_addr)]
                    with m.If(ps_valid):
                        m.d.comb += lfsr_step.eq(ps_bits)
                        stage_plastic(ps_wb_addr, [(s.a_plus * x_rd.data + offset(lane)) >> s.lr_shift
                                                   for lane in range(P)], ps_bits)
                    with m.If((ps_axon == A) & ~ps_valid):
                        m.d.sync += ps_g.eq(ps_g + 1)
                        m.next = "POT-SCAN"

                if reward:
                    # W <- clip(W + ((reward * E + r) >> lr_shift)) over every synapse word, for the neurons that
                    # learn (learning on and plastic), like every other update.
                    with m.State("REWARD"):
                        with m.If((ps_count < A * G) & ~stall):
                            m.d.comb += [w_addr.eq(ps_count), st_rd.addr.eq(ps_g)]
                            m.d.sync += [ps_count.eq(ps_count + 1), ps_g.eq(Mux(ps_g == G - 1, 0, ps_g + 1))]
                        m.d.sync += [ps_valid.eq((ps_count < A * G) & ~stall), ps_wb_addr.eq(ps_count)]
                        with m.If(ps_valid):
                            en = Cat(learning & st_rd.data[lane].plastic for lane in range(P))
                            m.d.comb += lfsr_step.eq(en)
                            stage_plastic(ps_wb_addr, [(reward_value * e_rd.data[lane] + offset(lane)) >> s.lr_shift
                                                       for lane in range(P)], en, to_weight=True)
                        with m.If((ps_count == A * G) & ~ps_valid):
                            m.next = "IDLE"

                with m.State("FINISH"):
                    finish()

            with m.State("CFG-CHECK"):
                checks = []
                for fld, (width, is_signed) in widths.items():
                    ok = Const(1)
                    if fld not in (CfgField.X_TRACE, CfgField.LEARNING):
                        ok &= cmd.neuron < p.neurons
                    if fld in (CfgField.WEIGHT, CfgField.ELIGIBILITY, CfgField.X_TRACE):
                        ok &= cmd.axon < A
                    checks.append((fld, ok & ((cmd.op == CfgOp.READ) | fits(cmd.data, width, is_signed))))
                with m.Switch(cmd.field):
                    for fld, ok in checks:
                        with m.Case(fld):
                            m.d.sync += cmd_ok.eq(ok)
                    with m.Default():
                        m.d.sync += cmd_ok.eq(0)
                m.d.sync += in_base.eq(cmd.axon * G)
                m.next = "CFG-READ"
            with m.State("CFG-READ"):
                m.d.comb += [w_addr.eq(in_base + group_sel), st_rd.addr.eq(group_sel)]
                if learn:
                    m.d.comb += x_rd.addr.eq(cmd.axon)
                with m.If(~cmd_ok):
                    with m.If(self.bad_config != 0xFFFF):
                        m.d.sync += self.bad_config.eq(self.bad_config + 1)
                    m.d.sync += rsp_data.eq(0)
                    with m.If(cmd.op == CfgOp.WRITE):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "CFG-RSP"
                with m.Else():
                    m.next = "CFG-MODIFY"
            with m.State("CFG-MODIFY"):
                # The read data of the memories is valid in this cycle; a write goes back to the same word.
                m.d.comb += w_addr.eq(in_base + group_sel)
                record = st_rd.data[lane_sel]
                write = cmd.op == CfgOp.WRITE
                with m.Switch(cmd.field):
                    for fld in widths:
                        with m.Case(fld):
                            if fld == CfgField.WEIGHT:
                                m.d.sync += rsp_data.eq(w_rd.data[lane_sel])
                                m.d.comb += [w_waddr.eq(w_addr), w_wr.data.eq(w_rd.data), w_wr.en.eq(write)]
                                m.d.comb += w_wr.data[lane_sel].eq(cmd.data)
                            elif fld == CfgField.ELIGIBILITY:
                                m.d.sync += rsp_data.eq(e_rd.data[lane_sel])
                                m.d.comb += [e_waddr.eq(w_addr), e_wr.data.eq(e_rd.data), e_wr.en.eq(write)]
                                m.d.comb += e_wr.data[lane_sel].eq(cmd.data)
                            elif fld == CfgField.X_TRACE:
                                m.d.sync += rsp_data.eq(x_rd.data)
                                m.d.comb += [x_wr.addr.eq(cmd.axon), x_wr.data.eq(cmd.data), x_wr.en.eq(write)]
                            elif fld == CfgField.LEARNING:
                                m.d.sync += rsp_data.eq(learning)
                                with m.If(write):
                                    m.d.sync += learning.eq(cmd.data[0])
                            else:
                                name = _RECORD_FIELDS[fld]
                                m.d.sync += rsp_data.eq(getattr(record, name))
                                m.d.comb += [st_wr.addr.eq(group_sel), st_wr.data.eq(st_rd.data),
                                             st_wr.en.eq(write)]
                                m.d.comb += getattr(st_wr.data[lane_sel], name).eq(cmd.data)
                with m.If(write):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "CFG-RSP"
            with m.State("CFG-RSP"):
                m.d.comb += self.cfg_rsp.valid.eq(1)
                with m.If(self.cfg_rsp.ready):
                    m.next = "IDLE"

        return m
