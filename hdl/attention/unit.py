"""The spike-driven self-attention unit generator (Spike-driven Transformer V1 and V2).

Token rows of Q, K and V come in on one stream, one row (all D channels of q, k and v) per beat, N rows per
timestep and T timesteps per attention call; output rows O come out in the same order. Everything is masks and
additions: a count is incremented by ``K & V`` bits, a sum adds the counts that a ``Q`` bit selects, and the SN
neuron is an addition, a comparison with a constant and a shift. The counts and the SN membranes live in block RAM
(:class:`amaranth.lib.memory.Memory`), ``lanes`` (L) counts per word, and L lanes work on one word per cycle.

v1 (per channel c): ``kv[c] += K[n, c] & V[n, c]`` over the N rows, D / L cycles a row; the SN runs on each
word of kv as the last row finishes it, giving ``s``; then ``O[n] = Q[n] & s`` is streamed out while the next
timestep's rows come in. Q rows wait in a two-bank buffer (one bank per timestep in flight).

v2 (per head of Dh channels): ``M[i, j] += K[n, i] & V[n, j]`` over the N rows, D * Dh / L cycles a row
(``M`` is Dh x Dh counts per head); then for every row n and every word of L output channels j, Dh cycles add
the rows ``M[i, j]`` that ``Q[n, i]`` selects, and the SN updates the L membranes of (n, j). The input waits
while a timestep's outputs are computed, since they need the whole of M.

See docs/attention.md for the schedule and its cycle counts.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .events import v1_event_counts, v2_events
from .params import AttentionParams


__all__ = ["AttentionUnit"]


# Output rows in flight (issued, in the pipeline or queued) are limited to the output queue's depth, so the
# pipelines never stall in the middle of a row. A row leaves two cycles after it is issued, and the credit it
# frees counts a cycle later: three sustain one row per cycle while the sink is ready.
_OUT_DEPTH = 3


def _counter(m, value, limit):
    """Increment ``value`` modulo ``limit`` (in the current condition); returns the 'at the last value'
    condition."""
    last = value == limit - 1
    m.d.sync += value.eq(Mux(last, 0, value + 1))
    return last


class AttentionUnit(wiring.Component):
    """Spike-driven self-attention over ``params.tokens`` x ``params.channels`` spikes, V1 or V2.

    Parameters
    ----------
    params : AttentionParams
        Validated parameters (see :class:`spikeforge.hdl.attention.params.AttentionParams`).

    Members
    -------
    qkv : In(stream.Signature(StructLayout({"q": D, "k": D, "v": D})))
        One token row per beat, bit c of each field being channel c; rows n = 0..N-1 of timestep 0, then of
        timestep 1, ..., T-1; the next beat starts the next attention call.
    o : Out(stream.Signature(StructLayout({"o": D})))
        The output rows, in the same order.
    """

    def __init__(self, params):
        if not isinstance(params, AttentionParams):
            raise TypeError(f"params must be an AttentionParams, not {params!r}")
        self._p = p = params
        d = p.channels
        self.row_layout = data.StructLayout({"q": unsigned(d), "k": unsigned(d), "v": unsigned(d)})
        self.out_layout = data.StructLayout({"o": unsigned(d)})
        super().__init__({
            "qkv": In(stream.Signature(self.row_layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    @property
    def params(self):
        return self._p

    # --- shared pieces ------------------------------------------------------------------------------------

    def _sn(self, m, x, v, first, lane):
        """The fixed-point SN of one element: returns (spike, next membrane). ``x`` is the input in counts,
        ``v`` the stored membrane, ``first`` the first timestep of a call (membrane taken as 0)."""
        p = self._p
        shift = p.input_shift
        xf = Signal(p.sn_bits, name=f"sn_x_{lane}")
        m.d.comb += xf.eq(x << shift if shift >= 0 else x >> -shift)
        vm = Signal(p.membrane_bits, name=f"sn_v_{lane}")
        m.d.comb += vm.eq(Mux(first, 0, v))
        # H = V + floor((X - V) / 2**k) = floor(S / 2**k) with S = X + V (2**k - 1), and H >= threshold exactly
        # when S >= threshold << k: one addition and one comparison with a constant (for tau = 2, S = X + V).
        k = p.decay_shift
        if k == 0:
            carried = 0
        elif k == 1:
            carried = vm
        else:
            carried = (vm << k) - vm
        s = Signal(max(p.sn_bits, p.membrane_bits + k) + 1, name=f"sn_s_{lane}")
        m.d.comb += s.eq(xf + carried)
        spike = Signal(name=f"sn_spike_{lane}")
        m.d.comb += spike.eq(s >= p.threshold_fixed << k)
        return spike, Mux(spike, 0, (s >> k)[:p.membrane_bits])

    def _saturating_increment(self, count, bit):
        p = self._p
        if p.count_max >= p.tokens:
            return count + bit                      # a count of N tokens cannot saturate
        return Mux(count == p.count_max, count, count + bit)

    def _output_queue(self, m):
        """The output queue and its credit check: returns (queue, may_start_row, start_row)."""
        p = self._p
        m.submodules.out_queue = queue = fifo.SyncFIFO(width=p.channels, depth=_OUT_DEPTH)
        m.d.comb += [
            self.o.valid.eq(queue.r_rdy),
            self.o.payload.o.eq(queue.r_data),
            queue.r_en.eq(self.o.ready),
        ]
        # Registered credits keep the sink's ready off the pipelines' paths.
        reserved = Signal(range(_OUT_DEPTH + 1))
        start_row = Signal()
        m.d.sync += reserved.eq(reserved + start_row - (self.o.valid & self.o.ready))
        return queue, reserved < _OUT_DEPTH, start_row

    def elaborate(self, platform):
        if self._p.variant == "v1":
            return self._elaborate_v1()
        if self._p.schedule == "events":
            return v2_events(self, Module())
        return self._elaborate_v2()

    # --- v1 -----------------------------------------------------------------------------------------------

    def _elaborate_v1(self):
        p = self._p
        m = Module()
        N, D, L = p.tokens, p.channels, p.lanes
        C = D // L                                  # words of kv and of the membranes

        # Two banks of Q rows: timestep t is written to bank t % 2 while the emitter reads timestep t-1 from
        # the other one.
        m.submodules.q_mem = q_mem = Memory(shape=unsigned(D), depth=2 * N, init=[])
        q_wr = q_mem.write_port()
        q_rd = q_mem.read_port()
        queue, may_start_row, start_row = self._output_queue(m)

        n_in = Signal(range(N))                     # next row of the timestep
        in_bank = Signal()
        q_waddr = Signal(range(2 * N))
        accept = Signal()
        spikes = Signal(D)                          # s, a word at a time
        handoff = Signal()                          # s complete, waiting for the emitter
        # Emitter: O[n] = Q[n] & s of the previous timestep.
        s_out = Signal(D)
        em_busy = Signal()
        em_bank = Signal(init=1)                    # toggled at each handoff: bank 0 first
        em_n = Signal(range(N))
        q_raddr = Signal(range(2 * N))
        e1_valid = Signal()

        # A bank holds a whole timestep from its last row in until the emitter has read it out; a row may
        # overwrite its slot in a held bank once the emitter has read that slot.
        bank_held = Signal(2)
        slot_free = ~bank_held.bit_select(in_bank, 1) | (em_busy & (em_bank == in_bank) & (em_n > n_in))
        row = self.qkv.payload
        if p.schedule == "dense":
            count_ready, sn = self._v1_dense_counts(m, accept, row, n_in)
        else:
            last_row_in = Signal()
            count_ready, sn = v1_event_counts(self, m, accept=accept, row=row, first_row=n_in == 0,
                                              walk_pending=last_row_in)
            with m.If(accept & (n_in == N - 1)):
                m.d.sync += last_row_in.eq(1)
        m.d.comb += [self.qkv.ready.eq(count_ready & slot_free), accept.eq(self.qkv.valid & self.qkv.ready)]
        with m.If(accept):
            m.d.comb += [q_wr.addr.eq(q_waddr), q_wr.data.eq(row.q), q_wr.en.eq(1)]
            with m.If(_counter(m, n_in, N)):
                m.d.sync += [in_bank.eq(~in_bank), bank_held.bit_select(in_bank, 1).eq(1)]
            _counter(m, q_waddr, 2 * N)

        # --- hand s to the emitter once it has finished the previous timestep ---
        with m.If(handoff & ~em_busy):
            m.d.sync += [handoff.eq(0), s_out.eq(spikes), em_busy.eq(1), em_bank.eq(~em_bank)]
            if p.schedule == "events":
                m.d.sync += spikes.eq(0)            # the words the walk does not visit give no spike

        # --- the SN of one word of kv ---
        with m.If(sn["valid"]):
            m.d.comb += [sn["mem_wr"].addr.eq(sn["word"]), sn["mem_wr"].en.eq(1)]
            word_spikes, membranes = [], []
            for lane in range(L):
                spike, v_next = self._sn(m, sn["kv"][lane], sn["v"][lane], sn["zero_v"], lane)
                m.d.comb += sn["mem_wr"].data[lane].eq(v_next)
                word_spikes.append(spike)
                membranes.append(v_next)
            if p.schedule == "dense":
                # Every word in order: s fills from the top.
                m.d.sync += spikes.eq(Cat(spikes[L:], *word_spikes))
            else:
                m.d.sync += [(spikes.word_select(sn["word"], L) if C > 1 else spikes).eq(Cat(*word_spikes)),
                             sn["live"].bit_select(sn["word"], 1).eq(Cat(*(v.any() for v in membranes)).any())]
            with m.If(sn["last"]):
                m.d.sync += handoff.eq(1)

        # --- emitter ---
        issue = em_busy & may_start_row
        m.d.comb += [start_row.eq(issue), q_rd.addr.eq(q_raddr)]
        with m.If(issue):
            _counter(m, q_raddr, 2 * N)
            with m.If(_counter(m, em_n, N)):
                m.d.sync += [em_busy.eq(0), bank_held.bit_select(em_bank, 1).eq(0)]
        m.d.sync += e1_valid.eq(issue)
        m.d.comb += [queue.w_data.eq(q_rd.data & s_out), queue.w_en.eq(e1_valid)]
        return m

    def _v1_dense_counts(self, m, accept, row, n_in):
        """kv by the dense schedule: D / L cycles a row, the SN of each word as the last row finishes it.
        Returns (a row may be taken, the stage feeding the SN)."""
        p = self._p
        N, D, L, T = p.tokens, p.channels, p.lanes, p.timesteps
        C = D // L
        count_word = data.ArrayLayout(unsigned(p.count_bits), L)
        m.submodules.kv_mem = kv_mem = Memory(shape=count_word, depth=C, init=[])
        kv_wr = kv_mem.write_port()
        # A read sees the write of the same cycle only where the same word comes back that soon (read-through
        # logic sits after the RAM's output, on the slowest path).
        kv_rd = kv_mem.read_port(transparent_for=(kv_wr,) if C == 1 else ())
        membrane_word = data.ArrayLayout(unsigned(p.membrane_bits), L)
        m.submodules.membrane_mem = mem = Memory(shape=membrane_word, depth=C, init=[])
        mem_wr = mem.write_port()
        mem_rd = mem.read_port(transparent_for=(mem_wr,) if N * C <= 2 else ())

        # Stage 0 of the count pipeline: the row being added, one word of L channels per cycle.
        t = Signal(range(T))                        # timestep of the rows coming in
        busy = Signal()
        word = Signal(range(C))
        kv_bits = Signal(D)
        first_row = Signal()
        last_row = Signal()
        # Stage 1: read-modify-write of the kv word. Stage 2 (last row only): the SN of the finished word.
        s1 = {"valid": Signal(), "word": Signal(range(C)), "bits": Signal(L), "first_row": Signal(),
              "last_row": Signal(), "first_t": Signal()}
        s2 = {"valid": Signal(), "word": Signal(range(C)), "last": Signal(), "zero_v": Signal(),
              "kv": Signal(count_word), "v": Signal(membrane_word), "mem_wr": mem_wr}

        last_word = word == C - 1
        if N * C == 1:
            # One cycle a timestep: the next timestep's read of the membrane would come a cycle before this
            # one's write (two cycles apart, the read-through of the membrane memory covers it).
            ready = ~busy
        else:
            ready = ~busy | last_word
        # The membranes are read with the counts, so the SN starts from registers, not from the RAM's output.
        m.d.comb += [kv_rd.addr.eq(word), mem_rd.addr.eq(word)]
        with m.If(busy):
            m.d.sync += [
                word.eq(Mux(last_word, 0, word + 1)),
                kv_bits.eq(kv_bits >> L),
                busy.eq(~last_word),
            ]
            with m.If(last_word & last_row):
                _counter(m, t, T)
        m.d.sync += [
            s1["valid"].eq(busy), s1["word"].eq(word), s1["bits"].eq(kv_bits[:L]),
            s1["first_row"].eq(first_row), s1["last_row"].eq(last_row), s1["first_t"].eq(t == 0),
        ]
        with m.If(accept):
            m.d.sync += [
                busy.eq(1),
                word.eq(0),
                kv_bits.eq(row.k & row.v),
                first_row.eq(n_in == 0),
                last_row.eq(n_in == N - 1),
            ]

        kv_next = Signal(count_word)
        for lane in range(L):
            old = kv_rd.data[lane]
            m.d.comb += kv_next[lane].eq(
                Mux(s1["first_row"], s1["bits"][lane], self._saturating_increment(old, s1["bits"][lane])))
        with m.If(s1["valid"]):
            m.d.comb += [kv_wr.addr.eq(s1["word"]), kv_wr.data.eq(kv_next), kv_wr.en.eq(1)]
        # The last row's counts are final: on to the SN.
        m.d.sync += [
            s2["valid"].eq(s1["valid"] & s1["last_row"]), s2["word"].eq(s1["word"]),
            s2["last"].eq(s1["word"] == C - 1), s2["zero_v"].eq(s1["first_t"]), s2["kv"].eq(kv_next),
            s2["v"].eq(mem_rd.data),
        ]
        return ready, s2

    # --- v2 -----------------------------------------------------------------------------------------------

    def _elaborate_v2(self):
        p = self._p
        m = Module()
        N, D, L, T, Dh = p.tokens, p.channels, p.lanes, p.timesteps, p.head_channels
        J = Dh // L                                 # words in a row of a head's M
        W = D // L                                  # words of output channels in a token row
        M_WORDS = D * J                             # H heads x Dh rows x J words

        count_word = data.ArrayLayout(unsigned(p.count_bits), L)
        m.submodules.m_mem = m_mem = Memory(shape=count_word, depth=M_WORDS, init=[])
        m_wr = m_mem.write_port()
        # Only a single word of M is read in the cycle it is written (see the v1 memories).
        m_rd = m_mem.read_port(transparent_for=(m_wr,) if M_WORDS == 1 else ())
        membrane_word = data.ArrayLayout(unsigned(p.membrane_bits), L)
        m.submodules.membrane_mem = mem = Memory(shape=membrane_word, depth=N * W, init=[])
        mem_wr = mem.write_port()
        mem_rd = mem.read_port()
        m.submodules.q_mem = q_mem = Memory(shape=unsigned(D), depth=N, init=[])
        q_wr = q_mem.write_port()
        q_rd = q_mem.read_port()
        queue, may_start_row, start_row = self._output_queue(m)

        t = Signal(range(T))
        computing = Signal()                        # the outputs of timestep t are being computed
        rows_in = Signal()                          # every token row of timestep t has come in
        m_addr = self._v2_accumulate(m, m_wr, m_rd, q_wr, computing, rows_in)
        self._v2_compute(m, m_rd, mem_wr, mem_rd, q_rd, queue, may_start_row, start_row, t, computing, rows_in,
                         m_addr)
        return m

    def _v2_accumulate(self, m, m_wr, m_rd, q_wr, computing, rows_in):
        """M = K^T V of the token rows as they come in (Q is stored for the compute walk); returns the walk's
        address of M, which the compute walk's read port shares while the rows come in."""
        p = self._p
        N, D, L, Dh = p.tokens, p.channels, p.lanes, p.head_channels
        J, W = Dh // L, D // L
        M_WORDS = D * J
        # --- accumulate M: stage 0 walks (row r of K, word g of V) for the current token row ---
        n_in = Signal(range(N))
        busy = Signal()
        k_row = Signal(D)
        v_row = Signal(D)
        first_row = Signal()
        r = Signal(range(D))                        # K channel = head * Dh + i
        i = Signal(range(Dh))
        jw = Signal(range(J))                       # word within the head
        g = Signal(range(W))                        # word of V: head * J + jw
        m_addr = Signal(range(M_WORDS))             # (head * Dh + i) * J + jw, which is linear in the walk
        s1_valid = Signal()
        s1_addr = Signal(range(M_WORDS))
        s1_bits = Signal(L)
        s1_first = Signal()

        last_jw = jw == J - 1
        last_i = i == Dh - 1
        last_step = (m_addr == M_WORDS - 1)
        m.d.comb += self.qkv.ready.eq(~computing & ~rows_in & (~busy | last_step))
        with m.If(busy):
            m.d.sync += [
                s1_addr.eq(m_addr),
                s1_bits.eq(Mux(k_row.bit_select(r, 1), v_row.word_select(g, L), 0)),
                s1_first.eq(first_row),
                m_addr.eq(Mux(last_step, 0, m_addr + 1)),
                busy.eq(~last_step),
            ]
            with m.If(last_jw):
                m.d.sync += [jw.eq(0), r.eq(Mux(last_step, 0, r + 1)), i.eq(Mux(last_i, 0, i + 1))]
                # Back to the head's first word for the next row of K, or on to the next head.
                m.d.sync += g.eq(Mux(last_step, 0, Mux(last_i, g + 1, g - (J - 1))))
            with m.Else():
                m.d.sync += [jw.eq(jw + 1), g.eq(g + 1)]
            with m.If(last_step & rows_in):
                m.d.sync += computing.eq(1)
        m.d.sync += s1_valid.eq(busy)
        with m.If(self.qkv.valid & self.qkv.ready):
            row = self.qkv.payload
            m.d.comb += [q_wr.addr.eq(n_in), q_wr.data.eq(row.q), q_wr.en.eq(1)]
            m.d.sync += [
                busy.eq(1),
                k_row.eq(row.k),
                v_row.eq(row.v),
                first_row.eq(n_in == 0),
                rows_in.eq(n_in == N - 1),
            ]
            _counter(m, n_in, N)
        with m.If(s1_valid):
            m.d.comb += [m_wr.addr.eq(s1_addr), m_wr.en.eq(1)]
            for lane in range(L):
                old = m_rd.data[lane]
                m.d.comb += m_wr.data[lane].eq(
                    Mux(s1_first, s1_bits[lane], self._saturating_increment(old, s1_bits[lane])))

        return m_addr

    def _v2_compute(self, m, m_rd, mem_wr, mem_rd, q_rd, queue, may_start_row, start_row, t, computing, rows_in,
                    m_addr):
        """X = Q M and the spiking neurons, one output word at a time, once every row of the timestep is in."""
        p = self._p
        N, D, L, T, Dh = p.tokens, p.channels, p.lanes, p.timesteps, p.head_channels
        J, W = Dh // L, D // L
        M_WORDS = D * J
        count_word = data.ArrayLayout(unsigned(p.count_bits), L)
        membrane_word = data.ArrayLayout(unsigned(p.membrane_bits), L)
        # --- compute X = Q M and the SN: stage 0 walks (token n, output word cw, row ci of M) ---
        cn = Signal(range(N))
        cw = Signal(range(W))                       # output word: head * J + cjw
        cjw = Signal(range(J))
        ci = Signal(range(Dh))
        qi = Signal(range(D))                       # Q channel = head * Dh + ci
        c_addr = Signal(range(M_WORDS))             # (head * Dh + ci) * J + cjw
        c_base = Signal(range(M_WORDS))             # the same with ci = 0
        mem_addr = Signal(range(N * W))             # n * W + cw
        first_t = t == 0
        row_start = (ci == 0) & (cw == 0)
        issue = computing & (~row_start | may_start_row)
        m.d.comb += start_row.eq(issue & row_start)

        c1 = {"valid": Signal(), "qi": Signal(range(D)), "first": Signal(), "last": Signal(),
              "row_end": Signal(), "mem_addr": Signal(range(N * W)), "first_t": Signal()}
        c2 = {"valid": Signal(), "qi": Signal(range(D)), "first": Signal(), "last": Signal(),
              "row_end": Signal(), "mem_addr": Signal(range(N * W)), "first_t": Signal(),
              "q_row": Signal(D), "m_row": Signal(count_word)}
        c3 = {"valid": Signal(), "row_end": Signal(), "mem_addr": Signal(range(N * W)), "first_t": Signal(),
              "x": Signal(data.ArrayLayout(unsigned(p.x_bits), L)), "v": Signal(membrane_word)}

        c_last_i = ci == Dh - 1
        c_last_jw = cjw == J - 1
        c_last_w = cw == W - 1
        c_last_n = cn == N - 1
        # The read addresses do not wait for the issue decision: a read nobody uses is harmless.
        m.d.comb += [m_rd.addr.eq(Mux(computing, c_addr, m_addr)), q_rd.addr.eq(cn)]
        with m.If(issue):
            with m.If(~c_last_i):
                m.d.sync += [ci.eq(ci + 1), qi.eq(qi + 1), c_addr.eq(c_addr + J)]
            with m.Else():
                m.d.sync += [ci.eq(0), mem_addr.eq(mem_addr + 1)]
                with m.If(~c_last_jw):
                    # Next word of the same head: back to its first row of M and of Q.
                    m.d.sync += [cjw.eq(cjw + 1), cw.eq(cw + 1), qi.eq(qi - (Dh - 1)),
                                 c_addr.eq(c_base + 1), c_base.eq(c_base + 1)]
                with m.Elif(~c_last_w):
                    # Next head: its rows of M start Dh * J words after this head's.
                    next_head = c_base + 1 - J + Dh * J
                    m.d.sync += [cjw.eq(0), cw.eq(cw + 1), qi.eq(qi + 1),
                                 c_addr.eq(next_head), c_base.eq(next_head)]
                with m.Else():
                    m.d.sync += [cjw.eq(0), cw.eq(0), qi.eq(0), c_addr.eq(0), c_base.eq(0), cn.eq(cn + 1)]
                    with m.If(c_last_n):
                        # Timestep done: the next one's rows may come in. The reads of M still in the
                        # pipeline were made before the next timestep's first write can reach M.
                        m.d.sync += [cn.eq(0), mem_addr.eq(0), computing.eq(0), rows_in.eq(0)]
                        _counter(m, t, T)
        m.d.sync += [
            c1["valid"].eq(issue), c1["qi"].eq(qi), c1["first"].eq(ci == 0), c1["last"].eq(c_last_i),
            c1["row_end"].eq(c_last_i & c_last_w), c1["mem_addr"].eq(mem_addr), c1["first_t"].eq(first_t),
        ]
        # Stage 1: register the row of Q and the row of M (a block RAM's output is too slow to feed the
        # selection of one of D bits).
        m.d.sync += [c2[key].eq(c1[key])
                     for key in ("valid", "qi", "first", "last", "row_end", "mem_addr", "first_t")]
        m.d.sync += [c2["q_row"].eq(q_rd.data), c2["m_row"].eq(m_rd.data)]
        # Stage 2: the Q bit selects the row of M, summed over the Dh rows. The membranes, read from stage 1 on,
        # are registered here, so the SN starts from registers too.
        q_bit = c2["q_row"].bit_select(c2["qi"], 1)
        sums = Signal(data.ArrayLayout(unsigned(p.x_bits), L))
        acc = Signal(data.ArrayLayout(unsigned(p.x_bits), L))
        for lane in range(L):
            m.d.comb += sums[lane].eq(Mux(c2["first"], 0, acc[lane]) + Mux(q_bit, c2["m_row"][lane], 0))
        with m.If(c2["valid"]):
            m.d.sync += acc.eq(sums)
        m.d.comb += mem_rd.addr.eq(c1["mem_addr"])
        m.d.sync += [
            c3["valid"].eq(c2["valid"] & c2["last"]), c3["row_end"].eq(c2["row_end"]),
            c3["mem_addr"].eq(c2["mem_addr"]), c3["first_t"].eq(c2["first_t"]), c3["x"].eq(sums),
            c3["v"].eq(mem_rd.data),
        ]
        self._v2_sn_stage(m, c3, mem_wr, queue)

    def _v2_sn_stage(self, m, c3, mem_wr, queue):
        """The last stage of the v2 compute walk: the SN of L elements (``c3``: ``valid``, ``x``, ``v``,
        ``first_t``, ``mem_addr``); the output row fills from the top, one word at a time, and goes to the
        queue at ``row_end``."""
        p = self._p
        out_row = Signal(p.channels)
        with m.If(c3["valid"]):
            m.d.comb += [mem_wr.addr.eq(c3["mem_addr"]), mem_wr.en.eq(1)]
            word_spikes = []
            for lane in range(p.lanes):
                spike, v_next = self._sn(m, c3["x"][lane], c3["v"][lane], c3["first_t"], lane)
                m.d.comb += mem_wr.data[lane].eq(v_next)
                word_spikes.append(spike)
            row = Cat(out_row[p.lanes:], *word_spikes)
            m.d.sync += out_row.eq(row)
            m.d.comb += [queue.w_data.eq(row), queue.w_en.eq(c3["row_end"])]
