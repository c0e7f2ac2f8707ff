"""The time-multiplexed LIF neuron core generator.

N neurons are kept in ``lanes`` (P) parallel lanes: neuron n lives in group g = n // P, lane n % P. A group's
state (accumulator, voltage, current, refractory counter and, when per neuron, threshold and bias) is one word of
the state memory; the weights of one axon to one group are one word of the weight memory, at address
a * G + g. Both memories are :class:`amaranth.lib.memory.Memory`, so they map to iCE40 EBR/SPRAM and ECP5 DP16KD.

Phases (one at a time; the core is idle between them):

- integrate: an accepted axon event visits the G groups one per cycle: read W[a, g] and acc[g], add, write
  acc[g] back. Events are accepted back to back, so a stream of events costs G cycles each with no bubbles.
- tick: the G groups are read one per cycle, pass a three-stage pipeline (read; current and decays; voltage,
  compare, reset, write back) and push the group's spike vector into a FIFO that the spike emitter drains,
  one neuron per beat, in neuron order. ``done`` pulses when the last spike of the step has been accepted.
- configuration: one command reads or writes one weight or one neuron's field (a read-modify-write of the
  word), see :class:`CfgField`. Out-of-range addresses, absent fields and values that do not fit are counted
  in ``bad_config`` and change nothing (a read of them answers 0).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import LifParams


__all__ = ["LifCore", "CfgOp", "CfgField"]


class CfgOp(enum.Enum, shape=1):
    READ = 0
    WRITE = 1


class CfgField(enum.Enum, shape=3):
    """What a configuration command addresses. ``WEIGHT`` uses ``axon`` and ``neuron``; the rest ``neuron``."""
    WEIGHT = 0
    V = 1
    U = 2
    ACC = 3
    REFRACTORY = 4
    THRESHOLD = 5
    BIAS = 6


def _bits_for(count):
    """Address width for ``count`` items (at least 1 bit)."""
    return max(1, (count - 1).bit_length())


def _saturate(value, lo, hi):
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


class LifCore(wiring.Component):
    """A core of ``params.neurons`` LIF neurons behind a dense weight crossbar.

    Parameters
    ----------
    params : LifParams
        Validated parameters (see :class:`spikeforge.hdl.lif_core.params.LifParams`).

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
    timestep : Out(32)
        Ticks completed.
    bad_events, bad_config : Out(16)
        Saturating counts of dropped out-of-range events and of refused configuration commands.
    """

    def __init__(self, params):
        if not isinstance(params, LifParams):
            raise TypeError(f"params must be a LifParams, not {params!r}")
        self._p = p = params
        self.axon_bits = _bits_for(p.axons)
        self.neuron_bits = _bits_for(p.neurons)
        self.group_bits = _bits_for(p.groups)
        self.lane_bits = (p.lanes - 1).bit_length()
        self.data_bits = max(p.weight_bits, p.acc_bits, p.u_bits, p.state_bits, p.refractory_bits + 1)

        fields = {"acc": signed(p.acc_bits), "v": signed(p.state_bits)}
        if p.has_current:
            fields["u"] = signed(p.u_bits)
        if p.refractory:
            fields["ref"] = unsigned(p.refractory_bits)
        if p.per_neuron_threshold:
            fields["threshold"] = signed(p.state_bits)
        if p.per_neuron_bias:
            fields["bias"] = signed(p.state_bits)
        self.neuron_layout = data.StructLayout(fields)
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
        super().__init__({
            "events": In(stream.Signature(self.axon_event_layout)),
            "tick": In(stream.Signature(1)),
            "done": Out(1),
            "spikes": Out(stream.Signature(self.spike_layout)),
            "cfg": In(stream.Signature(self.cfg_layout)),
            "cfg_rsp": Out(stream.Signature(self.cfg_rsp_layout)),
            "timestep": Out(32),
            "bad_events": Out(16),
            "bad_config": Out(16),
        })

    @property
    def params(self):
        return self._p

    def field_widths(self):
        """{CfgField: (width, signed)} of the fields this core stores."""
        p = self._p
        widths = {CfgField.WEIGHT: (p.weight_bits, True)}
        names = {"v": CfgField.V, "u": CfgField.U, "acc": CfgField.ACC, "ref": CfgField.REFRACTORY,
                 "threshold": CfgField.THRESHOLD, "bias": CfgField.BIAS}
        for name, field in self.neuron_layout:
            shape = field.shape
            widths[names[name]] = (shape.width, shape.signed)
        return widths

    # Arithmetic shared by the pipeline stages; each mirrors a line of the golden model.

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

    def elaborate(self, platform):
        p = self._p
        m = Module()
        G, P = p.groups, p.lanes

        state_word = data.ArrayLayout(self.neuron_layout, P)
        weight_word = data.ArrayLayout(signed(p.weight_bits), P)
        m.submodules.state_mem = state_mem = Memory(shape=state_word, depth=G, init=[])
        m.submodules.weight_mem = weight_mem = Memory(shape=weight_word, depth=p.axons * G, init=[])
        st_wr = state_mem.write_port()
        st_rd = state_mem.read_port(transparent_for=(st_wr,))
        # The weight memory has one address for reads and writes, so Yosys can map it to single-port SPRAM.
        w_wr = weight_mem.write_port()
        w_rd = weight_mem.read_port()
        w_addr = Signal.like(w_rd.addr)
        m.d.comb += [w_rd.addr.eq(w_addr), w_wr.addr.eq(w_addr)]

        m.submodules.spike_fifo = spike_fifo = fifo.SyncFIFOBuffered(width=self.group_bits + P, depth=G)

        # Integrate pipeline. Stage 0 issues (base + g, g); stage 1 adds and writes back.
        in_busy = Signal()          # stage 0 holds an event
        in_base = Signal.like(w_addr)
        in_g = Signal(self.group_bits)
        in_last = Signal()
        s1_valid = Signal()
        s1_g = Signal(self.group_bits)

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

        pipeline_empty = ~in_busy & ~s1_valid & ~tk_issue & ~t1_valid & ~t2_valid

        # --- integrate ---------------------------------------------------------------------------------
        m.d.comb += in_last.eq(in_g == G - 1)
        can_accept_event = Signal()
        m.d.comb += self.events.ready.eq(can_accept_event)
        with m.If(in_busy):
            m.d.comb += [w_addr.eq(in_base + in_g), st_rd.addr.eq(in_g)]
            m.d.sync += [s1_valid.eq(1), s1_g.eq(in_g), in_g.eq(in_g + 1)]
            with m.If(in_last):
                m.d.sync += in_busy.eq(0)
        with m.Else():
            m.d.sync += s1_valid.eq(0)

        axon = self.events.payload.axon
        with m.If(self.events.valid & self.events.ready):
            with m.If(axon < p.axons):
                m.d.sync += [in_busy.eq(1), in_base.eq(axon * G), in_g.eq(0)]
            with m.Else():
                with m.If(self.bad_events != 0xFFFF):
                    m.d.sync += self.bad_events.eq(self.bad_events + 1)

        acc_lo, acc_hi = p.acc_range
        with m.If(s1_valid):
            m.d.comb += [st_wr.addr.eq(s1_g), st_wr.en.eq(1), st_wr.data.eq(st_rd.data)]
            for lane in range(P):
                total = st_rd.data[lane].acc + w_rd.data[lane]
                m.d.comb += st_wr.data[lane].acc.eq(self._overflow(total, p.acc_bits, acc_lo, acc_hi))

        # --- tick ----------------------------------------------------------------------------------------
        with m.If(tk_issue):
            m.d.comb += st_rd.addr.eq(tk_g)
            m.d.sync += tk_g.eq(tk_g + 1)
            with m.If(tk_g == G - 1):
                m.d.sync += tk_issue.eq(0)
        m.d.sync += [t1_valid.eq(tk_issue), t1_g.eq(tk_g), t2_valid.eq(t1_valid), t2_g.eq(t1_g)]

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

        spike_vec = Signal(P)
        v_lo, v_hi = p.v_range
        with m.If(t2_valid):
            m.d.comb += [st_wr.addr.eq(t2_g), st_wr.en.eq(1), st_wr.data.eq(t2_word)]
            for lane in range(P):
                rec = t2_word[lane]
                out = st_wr.data[lane]
                threshold = rec.threshold if p.per_neuron_threshold else Const(p.threshold, signed(p.state_bits))
                bias = rec.bias if p.per_neuron_bias else p.bias
                drive = t2_u[lane] if p.has_current else rec.acc
                v = Signal(signed(p.state_bits), name=f"v_next_{lane}")
                m.d.comb += v.eq(self._overflow(t2_vdec[lane] + drive + bias, p.state_bits, v_lo, v_hi))
                active = (rec.ref == 0) if p.refractory else Const(1)
                fire = (v > threshold) if p.compare == "gt" else (v >= threshold)
                spike = active & fire
                m.d.comb += spike_vec[lane].eq(spike)
                if p.has_current:
                    m.d.comb += out.u.eq(t2_u[lane])
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
                        m.d.comb += out.ref.eq(p.refractory)
                with m.Elif(active):
                    m.d.comb += out.v.eq(v)
                if p.refractory:
                    with m.If(~active):
                        m.d.comb += out.ref.eq(rec.ref - 1)
            m.d.comb += [
                spike_fifo.w_data.eq(Cat(spike_vec, t2_g)),
                spike_fifo.w_en.eq(spike_vec != 0),
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
        pending = Signal(range(G + 2))
        m.d.sync += pending.eq(pending + spike_fifo.w_en - spike_fifo.r_en)
        emitter_empty = (em_bits == 0) & (pending == 0)

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
                idle_ok = pipeline_empty
                m.d.comb += can_accept_event.eq(~in_busy | in_last)
                with m.If(idle_ok & ~self.events.valid):
                    with m.If(self.cfg.valid):
                        m.d.comb += self.cfg.ready.eq(1)
                        m.d.sync += cmd.eq(self.cfg.payload)
                        m.next = "CFG-CHECK"
                    with m.Elif(self.tick.valid):
                        m.d.comb += self.tick.ready.eq(1)
                        m.d.sync += [tk_issue.eq(1), tk_g.eq(0)]
                        m.next = "TICK"
            with m.State("TICK"):
                with m.If(~tk_issue & ~t1_valid & ~t2_valid & emitter_empty):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += self.timestep.eq(self.timestep + 1)
                    m.next = "IDLE"
            with m.State("CFG-CHECK"):
                checks = []
                for fld in CfgField:
                    if fld not in widths:
                        continue
                    width, is_signed = widths[fld]
                    ok = cmd.neuron < p.neurons
                    if fld == CfgField.WEIGHT:
                        ok &= cmd.axon < p.axons
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
                # The read data of both memories is valid in this cycle.
                m.d.comb += [w_addr.eq(in_base + group_sel)]
                weight = w_rd.data[lane_sel]
                record = st_rd.data[lane_sel]
                with m.Switch(cmd.field):
                    for fld in widths:
                        with m.Case(fld):
                            if fld == CfgField.WEIGHT:
                                m.d.sync += rsp_data.eq(weight)
                            else:
                                m.d.sync += rsp_data.eq(getattr(record, _FIELD_NAMES[fld]))
                with m.If(cmd.op == CfgOp.WRITE):
                    with m.If(cmd.field == CfgField.WEIGHT):
                        m.d.comb += [w_wr.data.eq(w_rd.data), w_wr.en.eq(1)]
                        for lane in range(P):
                            with m.If(lane_sel == lane):
                                m.d.comb += w_wr.data[lane].eq(cmd.data)
                    with m.Else():
                        m.d.comb += [st_wr.addr.eq(group_sel), st_wr.data.eq(st_rd.data), st_wr.en.eq(1)]
                        for lane in range(P):
                            with m.If(lane_sel == lane):
                                with m.Switch(cmd.field):
                                    for fld in widths:
                                        if fld == CfgField.WEIGHT:
                                            continue
                                        with m.Case(fld):
                                            target = getattr(st_wr.data[lane], _FIELD_NAMES[fld])
                                            m.d.comb += target.eq(cmd.data)
                    m.next = "IDLE"
                with m.Else():
                    m.next = "CFG-RSP"
            with m.State("CFG-RSP"):
                m.d.comb += self.cfg_rsp.valid.eq(1)
                with m.If(self.cfg_rsp.ready):
                    m.next = "IDLE"

        return m


_FIELD_NAMES = {CfgField.V: "v", CfgField.U: "u", CfgField.ACC: "acc", CfgField.REFRACTORY: "ref",
                CfgField.THRESHOLD: "threshold", CfgField.BIAS: "bias"}
