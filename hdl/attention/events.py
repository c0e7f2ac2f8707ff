"""The event-driven datapaths of the attention unit (``schedule = "events"``): the work follows the spikes.

Spikes are turned into addresses by lowest-set-bit encoders, and only those addresses are visited; a count is
touched only by an event, so counts are not cleared between timesteps: a flag per count (or per row of counts)
says whether it was written in the current timestep, and a count that was not reads as 0.

v1 (:func:`v1_event_counts`): kv is split into L banks, lane l holding the channels c = w L + l; for a row, each
lane takes the next channel w of its own (K AND V) bits every cycle and increments its count, so a row costs the
largest number of events any lane has (at least one cycle: the row's beat). Once the last row's events are done,
the SN walks the D / L words of kv.

v2 (:func:`v2_events`): M is held a row per word (H x Dh words of Dh counts). Accumulating, a spike K[n, i] in a
head whose V row is not zero adds that V row to the row i of M (Dh incrementers, one cycle a spike); heads of V
with no spike are skipped. Computing, for each token n and head h, the walk visits only the spikes i of Q[n, h]:
row i of M is read once and its Dh / L words are added to the head's Dh accumulators, L a cycle; the last spike's
pass hands each finished word to the SN. A head with no spike of Q still takes one pass (its sums are 0), since
its membranes decay.

See docs/attention.md for the cycle counts.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory


__all__ = ["lowest_set_bit", "v1_event_counts", "v2_events"]


def lowest_set_bit(value):
    """The index of the lowest set bit of ``value`` (0 when none is set), as a balanced tree of multiplexers:
    ``ceil(log2(len(value)))`` bits."""
    width = len(value)
    if width <= 1:
        return Const(0, 0)
    half = 1 << ((width - 1).bit_length() - 1)          # the largest power of two below width
    low, high = value[:half], value[half:]
    bits = (half - 1).bit_length()
    high_index = Cat(lowest_set_bit(high), Const(0, bits))[:bits]
    return Mux(low.any(), lowest_set_bit(low), Cat(high_index, Const(1, 1)))


def _without_lowest(value):
    """``value`` with its lowest set bit cleared."""
    return value & (value - 1)[:len(value)]


def _slice(value, index, count, width):
    """Word ``index`` of ``count`` words of ``width`` bits in ``value``."""
    return value if count == 1 else value.word_select(index, width)


def v1_event_counts(unit, m, *, accept, row, first_row, walk_pending):
    """kv by events, and the SN walk over its words once the last row's events are done.

    Parameters
    ----------
    accept : Value
        A row is taken this cycle (``row`` is its payload; ``first_row``: the first of its timestep).
    walk_pending : Signal
        Set by the caller when the last row of a timestep has been taken; cleared here as the walk starts.

    Returns
    -------
    (ready, sn) : (Value, dict)
        Whether a row may be taken this cycle, and the registered stage that feeds the SN of one word
        (``valid``, ``word``, ``first_t``, ``kv``, ``v``, and the membranes' write port ``mem_wr``).
    """
    p = unit.params
    D, L, T = p.channels, p.lanes, p.timesteps
    C = D // L
    banks = []
    for lane in range(L):
        bank = Memory(shape=unsigned(p.count_bits), depth=C, init=[])
        m.submodules[f"kv_bank_{lane}"] = bank
        wr = bank.write_port()
        # Consecutive rows may hit the same count in consecutive cycles.
        banks.append((wr, bank.read_port(transparent_for=(wr,))))
    membrane_word = data.ArrayLayout(unsigned(p.membrane_bits), L)
    m.submodules.membrane_mem = mem = Memory(shape=membrane_word, depth=C, init=[])
    mem_wr = mem.write_port()
    # With one word, the next timestep's walk may read it in the cycle the SN writes it.
    mem_rd = mem.read_port(transparent_for=(mem_wr,) if C == 1 else ())

    masks = [Signal(C, name=f"kv_events_{lane}") for lane in range(L)]    # the row's events left, per lane
    written = [Signal(C, name=f"kv_written_{lane}") for lane in range(L)]  # the count was written this timestep
    rests = [_without_lowest(mask) for mask in masks]
    t = Signal(range(T))                        # the timestep the walk is for
    walking = Signal()
    walk_word = Signal(range(C))
    walk_last = walk_word == C - 1
    # The next row may come in the cycle of the current row's last events, or of the walk's last word.
    ready = ~Cat(*(rest.any() for rest in rests)).any() & ~walk_pending & (~walking | walk_last)

    # Stage 0: every lane with an event left takes its lowest channel; stage 1 increments that count.
    for lane, ((wr, rd), mask, rest, flags) in enumerate(zip(banks, masks, rests, written)):
        word = lowest_set_bit(mask)
        e1_valid = Signal(name=f"kv_event_{lane}")
        e1_word = Signal(range(C), name=f"kv_word_{lane}")
        m.d.comb += rd.addr.eq(Mux(walking, walk_word, word))
        m.d.sync += [e1_valid.eq(mask.any()), e1_word.eq(word), mask.eq(rest)]
        with m.If(e1_valid):
            fresh = flags.bit_select(e1_word, 1)
            m.d.comb += [wr.addr.eq(e1_word), wr.en.eq(1),
                         wr.data.eq(Mux(fresh, unit._saturating_increment(rd.data, 1), 1))]
            m.d.sync += flags.bit_select(e1_word, 1).eq(1)
    with m.If(accept):
        bits = row.k & row.v
        for lane, mask in enumerate(masks):
            m.d.sync += mask.eq(Cat(*(bits[w * L + lane] for w in range(C))))
        with m.If(first_row):
            m.d.sync += [flags.eq(0) for flags in written]

    # The walk: stage 0 reads word w of every bank and of the membranes, and takes the written flags (the next
    # timestep's first row may clear them in the cycle of the last word); stage 1 registers the counts.
    idle = ~Cat(*masks).any()
    with m.If(walk_pending & idle):
        # The last event's count is written this cycle, before the walk's first read.
        m.d.sync += [walking.eq(1), walk_pending.eq(0)]
    with m.If(walking):
        m.d.sync += [walk_word.eq(Mux(walk_last, 0, walk_word + 1)), walking.eq(~walk_last)]
        with m.If(walk_last):
            m.d.sync += t.eq(Mux(t == T - 1, 0, t + 1))
    m.d.comb += mem_rd.addr.eq(walk_word)
    w1 = {"valid": Signal(), "word": Signal(range(C)), "first_t": Signal(), "fresh": Signal(L)}
    m.d.sync += [w1["valid"].eq(walking), w1["word"].eq(walk_word), w1["first_t"].eq(t == 0),
                 w1["fresh"].eq(Cat(*(flags.bit_select(walk_word, 1) for flags in written)))]
    count_word = data.ArrayLayout(unsigned(p.count_bits), L)
    sn = {"valid": Signal(), "word": Signal(range(C)), "first_t": Signal(), "kv": Signal(count_word),
          "v": Signal(membrane_word), "mem_wr": mem_wr}
    m.d.sync += [sn[key].eq(w1[key]) for key in ("valid", "word", "first_t")]
    m.d.sync += sn["v"].eq(mem_rd.data)
    m.d.sync += [sn["kv"][lane].eq(Mux(w1["fresh"][lane], rd.data, 0)) for lane, (_, rd) in enumerate(banks)]
    return ready, sn


def v2_events(unit, m):
    """The whole v2 datapath by events: accumulate M as the rows come in, then compute the timestep's outputs
    once its last row's events are done."""
    p = unit.params
    N, D, L, T, H, Dh = p.tokens, p.channels, p.lanes, p.timesteps, p.heads, p.head_channels
    J, W = Dh // L, D // L
    # Row i of head h of M is word Cat(i, h): no multiplication, and a few unused words when Dh is not a power
    # of two.
    i_bits = (Dh - 1).bit_length()
    m_depth = H << i_bits
    m_row = data.ArrayLayout(unsigned(p.count_bits), Dh)
    m.submodules.m_mem = m_mem = Memory(shape=m_row, depth=m_depth, init=[])
    m_wr = m_mem.write_port()
    # Consecutive rows may add to the same row of M in consecutive cycles.
    m_rd = m_mem.read_port(transparent_for=(m_wr,))
    membrane_word = data.ArrayLayout(unsigned(p.membrane_bits), L)
    m.submodules.membrane_mem = mem = Memory(shape=membrane_word, depth=N * W, init=[])
    mem_wr = mem.write_port()
    mem_rd = mem.read_port()
    m.submodules.q_mem = q_mem = Memory(shape=unsigned(D), depth=N, init=[])
    q_wr = q_mem.write_port()
    # The compute walk reads token 0's row as soon as a cycle after it came in: with one token, that is the
    # cycle it is written.
    q_rd = q_mem.read_port(transparent_for=(q_wr,) if N == 1 else ())
    queue, may_start_row, start_row = unit._output_queue(m)

    written = Signal(m_depth)                   # row of M written in this timestep (else it reads as 0)
    computing = Signal()                        # the outputs of the timestep are being computed
    rows_in = Signal()                          # every token row of the timestep has come in
    a_addr, a_busy = _v2_accumulate(unit, m, m_wr, m_rd, q_wr, written, computing, rows_in)
    compute_start = rows_in & ~a_busy & ~computing
    with m.If(compute_start):
        m.d.sync += computing.eq(1)
    _v2_compute(unit, m, m_rd, mem_wr, mem_rd, q_rd, queue, may_start_row, start_row, written, computing,
                rows_in, compute_start, a_addr)
    return m


def _head_split(value, heads, width):
    """The index of the lowest head of ``value`` (heads of ``width`` bits) with a set bit, and that head's bits."""
    head = lowest_set_bit(Cat(*(value[h * width:(h + 1) * width].any() for h in range(heads))))
    return head, _slice(value, head, heads, width)


def _v2_accumulate(unit, m, m_wr, m_rd, q_wr, written, computing, rows_in):
    """M = K^T V of the rows as they come in, a K spike a cycle; Q is stored for the compute walk. Returns the
    address of M the events read and whether events of the row are left (stage 0 or 1)."""
    p = unit.params
    N, D, H, Dh = p.tokens, p.channels, p.heads, p.head_channels
    n_in = Signal(range(N))
    k_events = Signal(D)                        # the row's K spikes in heads whose V row is not zero
    v_row = Signal(D)
    a1 = {"valid": Signal(), "addr": Signal(range(len(written))), "bits": Signal(Dh)}

    rest = _without_lowest(k_events)
    m.d.comb += q_wr.addr.eq(n_in)
    m.d.comb += unit.qkv.ready.eq(~computing & ~rows_in & ~rest.any())
    head, head_bits = _head_split(k_events, H, Dh)
    addr = Cat(lowest_set_bit(head_bits), Const(0, (Dh - 1).bit_length()))[:(Dh - 1).bit_length()]
    addr = Cat(addr, head)
    m.d.sync += [a1["valid"].eq(k_events.any()), a1["addr"].eq(addr), a1["bits"].eq(_slice(v_row, head, H, Dh)),
                 k_events.eq(rest)]
    with m.If(unit.qkv.valid & unit.qkv.ready):
        row = unit.qkv.payload
        v_heads = Cat(*(row.v[h * Dh:(h + 1) * Dh].any().replicate(Dh) for h in range(H)))
        m.d.comb += [q_wr.data.eq(row.q), q_wr.en.eq(1)]
        m.d.sync += [k_events.eq(row.k & v_heads), v_row.eq(row.v)]
        with m.If(n_in == 0):
            m.d.sync += written.eq(0)
        with m.If(n_in == N - 1):
            m.d.sync += [n_in.eq(0), rows_in.eq(1)]
        with m.Else():
            m.d.sync += n_in.eq(n_in + 1)
    # Stage 1: the row of M plus the V row, Dh saturating increments (a row not yet written is 0).
    with m.If(a1["valid"]):
        fresh = written.bit_select(a1["addr"], 1)
        m.d.comb += [m_wr.addr.eq(a1["addr"]), m_wr.en.eq(1)]
        for j in range(Dh):
            bit = a1["bits"][j]
            m.d.comb += m_wr.data[j].eq(Mux(fresh, unit._saturating_increment(m_rd.data[j], bit), bit))
        m.d.sync += written.bit_select(a1["addr"], 1).eq(1)
    return addr, k_events.any() | a1["valid"]


def _v2_compute(unit, m, m_rd, mem_wr, mem_rd, q_rd, queue, may_start_row, start_row, written, computing, rows_in,
                compute_start, a_addr):
    """X = Q M over the spikes of Q and the spiking neurons, token by token and head by head."""
    p = unit.params
    N, D, L, T, H, Dh = p.tokens, p.channels, p.lanes, p.timesteps, p.heads, p.head_channels
    J, W = Dh // L, D // L
    i_bits = (Dh - 1).bit_length()
    count_word = data.ArrayLayout(unsigned(p.count_bits), L)
    sum_word = data.ArrayLayout(unsigned(p.x_bits), L)
    # --- stage 0 walks (token n, head h, spike i of Q[n, h], word jw of the head) ---
    t = Signal(range(T))
    cn = Signal(range(N))
    ch = Signal(range(H))
    cjw = Signal(range(J))
    spikes_left = Signal(Dh)                    # the spikes of Q[n, h] not yet walked, this one included
    heads_left = Signal(D)                      # Q[n] from head h + 1 on, at bit 0
    first_pass = Signal()
    mem_addr = Signal(range(N * W))             # n * W + h * J + jw, counted
    q_fresh = Signal()                          # q_rd holds the row of token cn + 1

    rest = _without_lowest(spikes_left)
    last_pass = ~rest.any()                     # the head's last spike, or a pass over a head with none
    last_word = cjw == J - 1
    last_head = ch == H - 1
    last_token = cn == N - 1
    token_end = last_word & last_pass & last_head
    row_start = (ch == 0) & first_pass & (cjw == 0)
    issue = computing & (~row_start | may_start_row) & (~token_end | last_token | q_fresh)
    m.d.comb += start_row.eq(issue & row_start)
    c_addr = Cat(Cat(lowest_set_bit(spikes_left), Const(0, i_bits))[:i_bits], ch)
    m.d.comb += [m_rd.addr.eq(Mux(computing, c_addr, a_addr)),
                 q_rd.addr.eq(Mux(computing & ~last_token, cn + 1, 0))]
    m.d.sync += q_fresh.eq(computing & ~(issue & token_end))
    with m.If(compute_start):
        m.d.sync += [spikes_left.eq(q_rd.data[:Dh]), heads_left.eq(q_rd.data >> Dh), first_pass.eq(1)]
    with m.If(issue):
        with m.If(~last_word):
            m.d.sync += cjw.eq(cjw + 1)
        with m.Else():
            m.d.sync += cjw.eq(0)
            with m.If(~last_pass):
                m.d.sync += [spikes_left.eq(rest), first_pass.eq(0)]
            with m.Elif(~last_head):
                m.d.sync += [ch.eq(ch + 1), spikes_left.eq(heads_left[:Dh]), heads_left.eq(heads_left >> Dh),
                             first_pass.eq(1)]
            with m.Else():
                m.d.sync += [ch.eq(0), spikes_left.eq(q_rd.data[:Dh]), heads_left.eq(q_rd.data >> Dh),
                             first_pass.eq(1), cn.eq(cn + 1)]
                with m.If(last_token):
                    # Timestep done: the next one's rows may come in. The reads of M still in the pipeline
                    # were made before the next timestep's first write can reach M.
                    m.d.sync += [cn.eq(0), computing.eq(0), rows_in.eq(0), t.eq(Mux(t == T - 1, 0, t + 1))]
        with m.If(last_pass):
            m.d.sync += mem_addr.eq(Mux(token_end & last_token, 0, mem_addr + 1))

    c1 = {"valid": Signal(), "load": Signal(), "row_on": Signal(), "first": Signal(), "last": Signal(),
          "row_end": Signal(), "mem_addr": Signal(range(N * W)), "first_t": Signal()}
    m.d.sync += [
        c1["valid"].eq(issue), c1["load"].eq(cjw == 0), c1["first"].eq(first_pass), c1["last"].eq(last_pass),
        c1["row_on"].eq(spikes_left.any() & written.bit_select(c_addr, 1)),
        c1["row_end"].eq(token_end), c1["mem_addr"].eq(mem_addr), c1["first_t"].eq(t == 0),
    ]
    # Stage 1: register the row of M (0 for a head without a spike), then shift a word out of it per cycle.
    c2 = {key: Signal.like(c1[key], name=f"c2_{key}") for key in ("valid", "first", "last", "row_end", "mem_addr",
                                                                  "first_t")}
    m.d.sync += [c2[key].eq(c1[key]) for key in c2]
    m_row = Signal(len(m_rd.data.as_value()))
    with m.If(c1["valid"]):
        with m.If(c1["load"]):
            m.d.sync += m_row.eq(Mux(c1["row_on"], m_rd.data.as_value(), 0))
        with m.Else():
            m.d.sync += m_row.eq(m_row >> (L * p.count_bits))
    m.d.comb += mem_rd.addr.eq(c1["mem_addr"])
    # Stage 2: a word of the row is added to the head's accumulators, a ring of J words that turns by a word
    # a cycle, so the word in front is always the one being added to.
    word = count_word(m_row[:L * p.count_bits])
    acc = Signal(J * L * p.x_bits)
    front = sum_word(acc[:L * p.x_bits])
    sums = Signal(sum_word)
    for lane in range(L):
        m.d.comb += sums[lane].eq(Mux(c2["first"], 0, front[lane]) + word[lane])
    with m.If(c2["valid"]):
        m.d.sync += acc.eq(Cat(acc[L * p.x_bits:], sums.as_value()) if J > 1 else sums.as_value())
    c3 = {"valid": Signal(), "row_end": Signal(), "mem_addr": Signal(range(N * W)), "first_t": Signal(),
          "x": Signal(sum_word), "v": Signal(data.ArrayLayout(unsigned(p.membrane_bits), L))}
    m.d.sync += [
        c3["valid"].eq(c2["valid"] & c2["last"]), c3["row_end"].eq(c2["row_end"]),
        c3["mem_addr"].eq(c2["mem_addr"]), c3["first_t"].eq(c2["first_t"]), c3["x"].eq(sums),
        c3["v"].eq(mem_rd.data),
    ]
    unit._v2_sn_stage(m, c3, mem_wr, queue)
