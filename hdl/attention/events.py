"""The event-driven datapaths of the attention unit (``schedule = "events"``): the work follows the spikes.

Spikes are turned into addresses by lowest-set-bit encoders, and only those addresses are visited. A count is
touched only by an event, so counts are not cleared between timesteps: a flag per count (v1) or per row of M
(v2) says whether it was written in the current timestep, and one that was not reads as 0. A flag per word of
membranes (v1) or per token and head (v2) says whether a membrane is above 0: a word or head with no input and
no membrane above 0 would stay at 0 and give no spike, and is skipped.

v1 (:func:`v1_event_counts`): kv is split into L banks, lane l holding the channels c = w L + l; for a row, each
lane takes the next channel w of its own (K AND V) bits every cycle and increments its count, so a row costs the
largest number of events any lane has (at least one cycle: the row's beat). Once the last row's events are done,
the SN walks the words of kv that were written or hold a membrane above 0.

v2 (:func:`v2_events`): M has a bank per head, a row of Dh counts per word. Accumulating, each head takes one
spike K[n, i] a cycle, if its V row is not zero, and adds that V row to row i of M (Dh incrementers). Computing,
for each token n the walk visits the heads with a spike of Q[n] or a membrane above 0; in a head it visits only
the spikes i of Q[n, h]: row i of M is read once and its Dh / L words are added to the head's Dh accumulators, L a
cycle; the last spike's pass hands each finished word to the SN. A visited head with no spike of Q takes one pass
(its sums are 0), since its membranes decay.

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
        (``valid``, ``word``, ``last``: the walk's last word, ``zero_v``: the membranes are taken as 0, ``kv``,
        ``v``, the membranes' write port ``mem_wr`` and ``live``, the flags the SN sets for a word whose
        membranes stay above 0).
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
    walk_todo = Signal(C)                       # the words the walk has still to visit, the current one included
    walk_word = lowest_set_bit(walk_todo)
    walk_last = ~_without_lowest(walk_todo).any()
    # The next row may come in the cycle of the current row's last events, or of the walk's last word.
    ready = ~Cat(*(rest.any() for rest in rests)).any() & ~walk_pending & (~walking | walk_last)

    # Stage 0: every lane with an event left takes its lowest channel; stage 1 increments that count.
    e1_valids = []
    for lane, ((wr, rd), mask, rest, flags) in enumerate(zip(banks, masks, rests, written)):
        word = lowest_set_bit(mask)
        e1_valid = Signal(name=f"kv_event_{lane}")
        e1_valids.append(e1_valid)
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

    # The walk visits the words with a count written in this timestep or a membrane above 0 (at least one
    # word, so that s is handed over); the others keep their zero membranes and give no spike. Stage 0 reads
    # word w of every bank and of the membranes, and takes the written flags (the next timestep's first row may
    # clear them in the cycle of the last word); stage 1 registers the counts.
    first_t = t == 0
    live = Signal(C)                            # a membrane of the word is above 0 (else they all read as 0)
    todo = Cat(*(Cat(*(flags[w] for flags in written)).any() for w in range(C))) | Mux(first_t, 0, live)
    with m.If(walk_pending & ~Cat(*masks, *e1_valids).any()):
        # The last event's count and flag are written by now.
        m.d.sync += [walking.eq(1), walk_pending.eq(0), walk_todo.eq(Mux(todo.any(), todo, 1))]
    with m.If(walking):
        m.d.sync += [walk_todo.eq(_without_lowest(walk_todo)), walking.eq(~walk_last)]
        with m.If(walk_last):
            m.d.sync += t.eq(Mux(t == T - 1, 0, t + 1))
    m.d.comb += mem_rd.addr.eq(walk_word)
    w1 = {"valid": Signal(), "word": Signal(range(C)), "last": Signal(), "zero_v": Signal(), "fresh": Signal(L)}
    m.d.sync += [w1["valid"].eq(walking), w1["word"].eq(walk_word), w1["last"].eq(walk_last),
                 w1["zero_v"].eq(first_t | ~live.bit_select(walk_word, 1)),
                 w1["fresh"].eq(Cat(*(flags.bit_select(walk_word, 1) for flags in written)))]
    count_word = data.ArrayLayout(unsigned(p.count_bits), L)
    sn = {"valid": Signal(), "word": Signal(range(C)), "last": Signal(), "zero_v": Signal(),
          "kv": Signal(count_word), "v": Signal(membrane_word), "mem_wr": mem_wr, "live": live}
    m.d.sync += [sn[key].eq(w1[key]) for key in ("valid", "word", "last", "zero_v")]
    m.d.sync += sn["v"].eq(mem_rd.data)
    m.d.sync += [sn["kv"][lane].eq(Mux(w1["fresh"][lane], rd.data, 0)) for lane, (_, rd) in enumerate(banks)]
    return ready, sn


def v2_events(unit, m):
    """The whole v2 datapath by events: accumulate M as the rows come in, then compute the timestep's outputs
    once its last row's events are done."""
    p = unit.params
    N, D, H, Dh = p.tokens, p.channels, p.heads, p.head_channels
    # M has a bank per head, so that every head takes a spike of K each cycle; row i of a head is word i.
    i_bits = (Dh - 1).bit_length()
    banks = []
    for h in range(H):
        bank = Memory(shape=data.ArrayLayout(unsigned(p.count_bits), Dh), depth=Dh, init=[])
        m.submodules[f"m_bank_{h}"] = bank
        wr = bank.write_port()
        # Consecutive rows may add to the same row of M in consecutive cycles.
        banks.append((wr, bank.read_port(transparent_for=(wr,))))
    m.submodules.q_mem = q_mem = Memory(shape=unsigned(D), depth=N, init=[])
    q_wr = q_mem.write_port()
    # The compute walk reads token 0's row as soon as a cycle after it came in: with one token, that is the
    # cycle it is written.
    q_rd = q_mem.read_port(transparent_for=(q_wr,) if N == 1 else ())

    # Row i of head h of M written in this timestep (else it reads as 0): bit Cat(i, h).
    written = Signal(H << i_bits)
    computing = Signal()                        # the outputs of the timestep are being computed
    rows_in = Signal()                          # every token row of the timestep has come in
    a_rows, a_busy = _v2_accumulate(unit, m, banks, q_wr, written, computing, rows_in)
    _v2_compute(unit, m, banks, q_rd, written, computing, rows_in, a_busy, a_rows)
    return m


def _v2_accumulate(unit, m, banks, q_wr, written, computing, rows_in):
    """M = K^T V of the rows as they come in, a spike of K per head a cycle; Q is stored for the compute walk.
    Returns the rows of M the events read, per head, and whether events of the row are left (stage 0 or 1)."""
    p = unit.params
    N, H, Dh = p.tokens, p.heads, p.head_channels
    i_bits = (Dh - 1).bit_length()
    n_in = Signal(range(N))
    # Per head: the row's spikes of K if its V row is not zero, and the V row.
    k_events = [Signal(Dh, name=f"k_events_{h}") for h in range(H)]
    v_rows = [Signal(Dh, name=f"v_row_{h}") for h in range(H)]
    rests = [_without_lowest(events) for events in k_events]
    m.d.comb += q_wr.addr.eq(n_in)
    m.d.comb += unit.qkv.ready.eq(~computing & ~rows_in & ~Cat(*(rest.any() for rest in rests)).any())
    rows, pending = [], []
    for h, ((wr, rd), events, v_row, rest) in enumerate(zip(banks, k_events, v_rows, rests)):
        row = Cat(lowest_set_bit(events), Const(0, i_bits))[:i_bits]
        a1_valid, a1_row, a1_bits = Signal(name=f"a1_valid_{h}"), Signal(i_bits, name=f"a1_row_{h}"), Signal(Dh)
        m.d.sync += [a1_valid.eq(events.any()), a1_row.eq(row), a1_bits.eq(v_row), events.eq(rest)]
        # Stage 1: the row of M plus the V row, Dh saturating increments (a row not yet written is 0).
        flags = written[h << i_bits:(h + 1) << i_bits]
        with m.If(a1_valid):
            fresh = flags.bit_select(a1_row, 1)
            m.d.comb += [wr.addr.eq(a1_row), wr.en.eq(1)]
            for j in range(Dh):
                bit = a1_bits[j]
                m.d.comb += wr.data[j].eq(Mux(fresh, unit._saturating_increment(rd.data[j], bit), bit))
            m.d.sync += flags.bit_select(a1_row, 1).eq(1)
        rows.append(row)
        pending += [events.any(), a1_valid]
    with m.If(unit.qkv.valid & unit.qkv.ready):
        payload = unit.qkv.payload
        m.d.comb += [q_wr.data.eq(payload.q), q_wr.en.eq(1)]
        for h, (events, v_row) in enumerate(zip(k_events, v_rows)):
            head = slice(h * Dh, (h + 1) * Dh)
            m.d.sync += [events.eq(Mux(payload.v[head].any(), payload.k[head], 0)), v_row.eq(payload.v[head])]
        with m.If(n_in == 0):
            m.d.sync += written.eq(0)
        with m.If(n_in == N - 1):
            m.d.sync += [n_in.eq(0), rows_in.eq(1)]
        with m.Else():
            m.d.sync += n_in.eq(n_in + 1)
    return rows, Cat(*pending).any()


def _v2_compute(unit, m, banks, q_rd, written, computing, rows_in, a_busy, a_rows):
    """X = Q M over the spikes of Q and the spiking neurons, token by token, visiting only the heads with a
    spike of Q or a membrane that is not zero (the others keep their zero membranes and output zeros)."""
    p = unit.params
    N, L, T, H, Dh = p.tokens, p.lanes, p.timesteps, p.heads, p.head_channels
    J = Dh // L
    i_bits, j_bits, h_bits = (Dh - 1).bit_length(), (J - 1).bit_length(), (H - 1).bit_length()
    count_word = data.ArrayLayout(unsigned(p.count_bits), L)
    sum_word = data.ArrayLayout(unsigned(p.x_bits), L)
    membrane_word = data.ArrayLayout(unsigned(p.membrane_bits), L)
    # The membranes of word jw of head h of token n are word Cat(jw, h, n).
    m.submodules.membrane_mem = mem = Memory(shape=membrane_word, depth=N << (h_bits + j_bits), init=[])
    mem_wr = mem.write_port()
    mem_rd = mem.read_port()
    # live[n] bit h: a membrane of head h of token n is not zero (when clear, they all read as 0).
    m.submodules.live_mem = live_mem = Memory(shape=unsigned(H), depth=N, init=[])
    live_wr = live_mem.write_port()
    # With one token, the next timestep reads its flags right after they are written.
    live_rd = live_mem.read_port(transparent_for=(live_wr,) if N == 1 else ())
    queue, may_start_row, start_row = unit._output_queue(m)

    # --- stage 0 walks (token n, head h, spike i of Q[n, h], word jw of the head) ---
    t = Signal(range(T))
    cn = Signal(range(N))
    ch = Signal(range(H))
    cjw = Signal(range(J))
    q_row = Signal(p.channels)                  # Q[n]
    live_row = Signal(H)                        # live[n]
    heads_left = Signal(H)                      # the heads of token n still to visit, the current one included
    spikes_left = Signal(Dh)                    # the spikes of Q[n, h] not yet walked, this one included
    first_pass = Signal()
    token_first = Signal()                      # no cycle of token n issued yet
    q_fresh = Signal()                          # q_rd and live_rd hold token cn + 1
    first_t = t == 0

    rest = _without_lowest(spikes_left)
    last_pass = ~rest.any()                     # the head's last spike, or a pass over a head with none
    last_word = cjw == J - 1
    heads_after = _without_lowest(heads_left)
    idle_token = ~heads_left.any()              # nothing to add and every membrane 0: a row of zeros
    token_end = idle_token | (last_word & last_pass & ~heads_after.any())
    last_token = cn == N - 1
    issue = computing & (~token_first | may_start_row) & (~token_end | last_token | q_fresh)
    m.d.comb += start_row.eq(issue & token_first)
    c_row = Cat(lowest_set_bit(spikes_left), Const(0, i_bits))[:i_bits]
    m.d.comb += [rd.addr.eq(Mux(computing, c_row, a_row)) for (_, rd), a_row in zip(banks, a_rows)]
    m.d.comb += [port.addr.eq(Mux(computing & ~last_token, cn + 1, 0)) for port in (q_rd, live_rd)]
    m.d.sync += q_fresh.eq(computing & ~(issue & token_end))

    def load_token():
        """Take token cn + 1 (or 0) from the read ports: its row of Q, its flags and its first head."""
        todo = Cat(*(q_rd.data[h * Dh:(h + 1) * Dh].any() for h in range(H))) | Mux(first_t, 0, live_rd.data)
        head = lowest_set_bit(todo)
        return [q_row.eq(q_rd.data), live_row.eq(live_rd.data), heads_left.eq(todo), ch.eq(head),
                spikes_left.eq(_slice(q_rd.data, head, H, Dh)), first_pass.eq(1), token_first.eq(1)]

    # The last timestep's flags and membranes are written before the walk reads them.
    drained = Signal()
    compute_start = rows_in & ~a_busy & ~computing & drained
    with m.If(compute_start):
        m.d.sync += [computing.eq(1), *load_token()]
    with m.If(issue):
        m.d.sync += token_first.eq(0)
        with m.If(~last_word & ~idle_token):
            m.d.sync += cjw.eq(cjw + 1)
        with m.Else():
            m.d.sync += cjw.eq(0)
            with m.If(~idle_token & ~last_pass):
                m.d.sync += [spikes_left.eq(rest), first_pass.eq(0)]
            with m.Elif(~idle_token & heads_after.any()):
                head = lowest_set_bit(heads_after)
                m.d.sync += [ch.eq(head), heads_left.eq(heads_after), first_pass.eq(1),
                             spikes_left.eq(_slice(q_row, head, H, Dh))]
            with m.Else():
                m.d.sync += [cn.eq(cn + 1), *load_token()]
                with m.If(last_token):
                    # Timestep done: the next one's rows may come in. The reads of M still in the pipeline
                    # were made before the next timestep's first write can reach M.
                    m.d.sync += [cn.eq(0), computing.eq(0), rows_in.eq(0), t.eq(Mux(t == T - 1, 0, t + 1))]

    c1 = {"valid": Signal(), "sn": Signal(), "load": Signal(), "row_on": Signal(), "first": Signal(),
          "zero_v": Signal(), "row_end": Signal(), "mem_addr": Signal(len(Cat(cjw, ch, cn))),
          "head": Signal(range(H))}
    m.d.sync += [
        c1["valid"].eq(issue), c1["sn"].eq(issue & ~idle_token & last_pass), c1["load"].eq(cjw == 0),
        c1["row_on"].eq(spikes_left.any() & written.bit_select(Cat(c_row, ch), 1)), c1["first"].eq(first_pass),
        c1["zero_v"].eq(first_t | ~live_row.bit_select(ch, 1)), c1["row_end"].eq(issue & token_end),
        c1["mem_addr"].eq(Cat(cjw, ch, cn)), c1["head"].eq(ch),
    ]
    # Stage 1: register the row of M (0 for a head without a spike), then shift a word out of it per cycle.
    c2 = {key: Signal.like(c1[key], name=f"c2_{key}")
          for key in ("valid", "sn", "first", "zero_v", "row_end", "mem_addr", "head")}
    m.d.sync += [c2[key].eq(c1[key]) for key in c2]
    row_bits = Dh * p.count_bits
    m_row = Signal(row_bits)
    read = _slice(Cat(*(rd.data.as_value() for _, rd in banks)), c1["head"], H, row_bits)
    with m.If(c1["valid"]):
        with m.If(c1["load"]):
            m.d.sync += m_row.eq(Mux(c1["row_on"], read, 0))
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
    c3 = {key: Signal.like(c2[key], name=f"c3_{key}") for key in ("sn", "zero_v", "row_end", "mem_addr", "head")}
    c3["x"], c3["v"] = Signal(sum_word), Signal(membrane_word)
    m.d.sync += [c3[key].eq(c2[key]) for key in ("zero_v", "row_end", "mem_addr", "head")]
    m.d.sync += [c3["sn"].eq(c2["valid"] & c2["sn"]), c3["x"].eq(sums), c3["v"].eq(mem_rd.data)]
    m.d.sync += drained.eq(~(issue | c1["valid"] | c2["valid"] | c3["sn"] | c3["row_end"]))
    _v2_sn_stage(unit, m, c3, mem_wr, live_wr, queue, j_bits)


def _v2_sn_stage(unit, m, c3, mem_wr, live_wr, queue, j_bits):
    """The SN of L elements (word Cat(jw, h) of the token's row); the row goes to the queue at ``row_end``
    with zeros for the heads not visited, and the token's flags (a membrane left above 0) to ``live_wr``."""
    p = unit.params
    H, L, J = p.heads, p.lanes, p.head_channels // p.lanes
    slots = H << j_bits                         # word Cat(jw, h) of the row, a few unused when J is not a power of 2
    out_row = Signal(slots * L)
    live = Signal(H)
    token = Signal(range(p.tokens))
    row = Signal.like(out_row)
    live_next = Signal(H)
    m.d.comb += [row.eq(out_row), live_next.eq(live)]
    with m.If(c3["sn"]):
        slot = c3["mem_addr"][:j_bits + len(c3["head"])]
        m.d.comb += [mem_wr.addr.eq(c3["mem_addr"]), mem_wr.en.eq(1)]
        word_spikes, above_zero = [], []
        for lane in range(L):
            spike, v_next = unit._sn(m, c3["x"][lane], c3["v"][lane], c3["zero_v"], lane)
            m.d.comb += mem_wr.data[lane].eq(v_next)
            word_spikes.append(spike)
            above_zero.append(v_next.any())
        m.d.comb += row.word_select(slot, L).eq(Cat(*word_spikes))
        with m.If(Cat(*above_zero).any()):
            m.d.comb += live_next.bit_select(c3["head"], 1).eq(1)
    m.d.sync += [out_row.eq(row), live.eq(live_next)]
    with m.If(c3["row_end"]):
        real = Cat(*(row.word_select((h << j_bits) + jw, L) for h in range(H) for jw in range(J)))
        m.d.comb += [queue.w_data.eq(real), queue.w_en.eq(1),
                     live_wr.addr.eq(token), live_wr.data.eq(live_next), live_wr.en.eq(1)]
        m.d.sync += [out_row.eq(0), live.eq(0), token.eq(Mux(token == p.tokens - 1, 0, token + 1))]
