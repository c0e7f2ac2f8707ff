// The batch harness of spikeforge.sim.harness.batch: one compiled Verilator model, driven by stimulus arrays.
//
// This file is the same for every block. spikeforge.sim.harness.batch_build generates "batch_ports.h" from the
// block's manifest and the Verilated model's header; it defines
//   sf_top                      the Verilated model class,
//   SF_SIGNAL_COUNT, SF_CLOCK, SF_RESET
//   sf_poke_signal(top, i, w)   set signal i from 32-bit words w (least significant first),
//   sf_peek_signal(top, i, w)   read signal i into w,
//   SF_STREAM_COUNT, SF_STREAMS one sf_stream per stream port: its valid, ready and payload signals (-1 when the
//                               port has none), the payload's 32-bit words, and whether it is an input.
//
// A run (sf_run) resets the design, then every cycle: offers each input stream's next beat once its guards are
// met, settles the design with the clock low, samples every handshake (an input beat accepted, an output beat
// taken: outputs are always ready) and every watched one-bit signal that is high, then raises the clock.
// It ends when every input beat is accepted, the finish counts are reached and nothing moved for `drain`
// cycles (finished), when nothing moved for `patience` cycles before that (stuck), or at `limit` cycles.
//
// A channel is a stream (in manifest order) or a watched signal (after the streams); its beats are handshakes,
// or cycles the signal was high. A guard of an input beat is (channel, count, delay): the beat is offered no
// earlier than `delay` cycles after the cycle following the channel's count-th beat (count 0: after cycle 0).

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "verilated.h"
#include "batch_ports.h"

struct sf_stream {
    int valid, ready, payload, words;
    bool input;
};

static const sf_stream sf_streams[] = SF_STREAMS;

namespace {

struct Sim {
    std::unique_ptr<VerilatedContext> context;
    std::unique_ptr<sf_top> top;
    bool dirty = true;
    uint64_t cycle = 0;
    std::atomic<bool> stop{false};     // set by sf_stop from another thread: the run returns soon after
    // Results of the last run, per channel.
    std::vector<std::vector<uint64_t>> cycles;     // the cycle of every beat
    std::vector<std::vector<uint64_t>> offered;    // input streams: the cycle each beat was first offered
    std::vector<std::vector<uint32_t>> words;      // output streams: every beat's payload words
    int watch_count = 0;

    Sim() : context(new VerilatedContext), top(new sf_top(context.get(), "top")) {}
    ~Sim() { top->final(); }

    void set(int signal, uint32_t value) {
        uint32_t w[1] = {value};
        sf_poke_signal(top.get(), signal, w);
    }

    bool high(int signal) {
        uint32_t w[32];   // wide enough for a signal of 1024 bits; only one-bit signals are read here
        sf_peek_signal(top.get(), signal, w);
        return w[0] & 1;
    }

    void settle() {
        set(SF_CLOCK, 0);
        top->eval();
    }

    void rise() {
        set(SF_CLOCK, 1);
        top->eval();
        ++cycle;
        dirty = true;
    }
};

struct Input {
    const uint32_t* words;
    uint64_t beats;
    const uint64_t* guard_start;     // beats + 1 entries: the guards of beat b are guard_start[b]..guard_start[b + 1]
    const int32_t* guard_channel;
    const uint64_t* guard_count;
    const uint64_t* guard_delay;
};

}  // namespace

extern "C" {

int sf_signal_count() { return SF_SIGNAL_COUNT; }
int sf_stream_count() { return SF_STREAM_COUNT; }

void* sf_open() {
    Sim* sim = new Sim;
    sim->settle();
    return sim;
}

void sf_close(void* handle) { delete static_cast<Sim*>(handle); }

void sf_poke(void* handle, int signal, const uint32_t* words) {
    Sim* sim = static_cast<Sim*>(handle);
    sf_poke_signal(sim->top.get(), signal, words);
    sim->dirty = true;
}

void sf_peek(void* handle, int signal, uint32_t* words) {
    Sim* sim = static_cast<Sim*>(handle);
    if (sim->dirty) {
        sim->top->eval();
        sim->dirty = false;
    }
    sf_peek_signal(sim->top.get(), signal, words);
}

// Clock cycles with the inputs as they are; returns the cycle count since the model was opened or last run.
uint64_t sf_step(void* handle, uint64_t cycles) {
    Sim* sim = static_cast<Sim*>(handle);
    for (uint64_t i = 0; i < cycles; ++i) {
        sim->settle();
        sim->rise();
    }
    return sim->cycle;
}

uint64_t sf_cycle(void* handle) { return static_cast<Sim*>(handle)->cycle; }

// Ask a run in progress (in another thread) to return.
void sf_stop(void* handle) { static_cast<Sim*>(handle)->stop = true; }

// 0: finished, 1: stuck (nothing moved for `patience` cycles with work left), 2: the cycle limit was reached,
// 3: stopped by sf_stop.
int sf_run(void* handle, int reset_cycles, const void* const* input_words, const uint64_t* input_beats,
           const void* const* guard_start, const void* const* guard_channel, const void* const* guard_count,
           const void* const* guard_delay, int watch_count, const int32_t* watch_signals, const uint64_t* finish,
           uint64_t drain, uint64_t patience, uint64_t limit) {
    Sim* sim = static_cast<Sim*>(handle);
    sf_top* top = sim->top.get();
    sim->stop = false;
    const int channels = SF_STREAM_COUNT + watch_count;
    sim->watch_count = watch_count;
    sim->cycles.assign(channels, {});
    sim->offered.assign(SF_STREAM_COUNT, {});
    sim->words.assign(SF_STREAM_COUNT, {});

    std::vector<Input> inputs(SF_STREAM_COUNT);
    std::vector<uint64_t> next(SF_STREAM_COUNT, 0);
    std::vector<char> offering(SF_STREAM_COUNT, 0);
    for (int s = 0; s < SF_STREAM_COUNT; ++s) {
        const sf_stream& stream = sf_streams[s];
        if (stream.input) {
            inputs[s] = Input{static_cast<const uint32_t*>(input_words[s]), input_beats[s],
                              static_cast<const uint64_t*>(guard_start[s]),
                              static_cast<const int32_t*>(guard_channel[s]),
                              static_cast<const uint64_t*>(guard_count[s]),
                              static_cast<const uint64_t*>(guard_delay[s])};
            sim->cycles[s].reserve(input_beats[s]);
            sim->offered[s].reserve(input_beats[s]);
            if (stream.valid >= 0) sim->set(stream.valid, 0);
        } else if (stream.ready >= 0) {
            sim->set(stream.ready, 1);
        }
    }

    sim->set(SF_RESET, 1);
    for (int i = 0; i < reset_cycles; ++i) {
        sim->settle();
        sim->rise();
    }
    sim->set(SF_RESET, 0);
    sim->cycle = 0;

    auto guards_met = [&](int s, uint64_t beat) {
        const Input& in = inputs[s];
        for (uint64_t g = in.guard_start[beat]; g < in.guard_start[beat + 1]; ++g) {
            const std::vector<uint64_t>& moved = sim->cycles[in.guard_channel[g]];
            const uint64_t count = in.guard_count[g];
            if (moved.size() < count) return false;
            const uint64_t base = count ? moved[count - 1] + 1 : 0;
            if (sim->cycle < base + in.guard_delay[g]) return false;
        }
        return true;
    };

    uint64_t last_move = 0;
    uint32_t wide[64];
    for (;;) {
        for (int s = 0; s < SF_STREAM_COUNT; ++s) {
            const sf_stream& stream = sf_streams[s];
            if (!stream.input || offering[s] || next[s] >= inputs[s].beats || !guards_met(s, next[s])) continue;
            if (stream.payload >= 0) sf_poke_signal(top, stream.payload, inputs[s].words + next[s] * stream.words);
            if (stream.valid >= 0) sim->set(stream.valid, 1);
            offering[s] = 1;
            sim->offered[s].push_back(sim->cycle);
        }
        sim->settle();
        bool moved = false;
        for (int s = 0; s < SF_STREAM_COUNT; ++s) {
            const sf_stream& stream = sf_streams[s];
            if (stream.input) {
                if (offering[s] && (stream.ready < 0 || sim->high(stream.ready))) {
                    sim->cycles[s].push_back(sim->cycle);
                    ++next[s];
                    offering[s] = 2;
                    moved = true;
                }
            } else if (stream.valid < 0 || sim->high(stream.valid)) {
                sim->cycles[s].push_back(sim->cycle);
                if (stream.payload >= 0) {
                    sf_peek_signal(top, stream.payload, wide);
                    sim->words[s].insert(sim->words[s].end(), wide, wide + stream.words);
                }
                moved = true;
            }
        }
        for (int w = 0; w < watch_count; ++w) {
            if (sim->high(watch_signals[w])) {
                sim->cycles[SF_STREAM_COUNT + w].push_back(sim->cycle);
                moved = true;
            }
        }
        sim->rise();
        for (int s = 0; s < SF_STREAM_COUNT; ++s) {
            if (offering[s] == 2) {
                offering[s] = 0;
                if (sf_streams[s].valid >= 0) sim->set(sf_streams[s].valid, 0);
            }
        }
        if (moved) last_move = sim->cycle;
        bool done = true;
        for (int s = 0; s < SF_STREAM_COUNT && done; ++s) done = !sf_streams[s].input || next[s] >= inputs[s].beats;
        for (int c = 0; c < channels && done; ++c) done = sim->cycles[c].size() >= finish[c];
        if (done) {
            if (sim->cycle - last_move >= drain) return 0;
        } else if (sim->cycle - last_move >= patience) {
            return 1;
        }
        if (limit && sim->cycle >= limit) return 2;
        if ((sim->cycle & 0xFFF) == 0 && sim->stop) return 3;
    }
}

// The results of the last run, per channel.
uint64_t sf_beats(void* handle, int channel) { return static_cast<Sim*>(handle)->cycles[channel].size(); }

uint64_t sf_offers(void* handle, int stream) { return static_cast<Sim*>(handle)->offered[stream].size(); }

void sf_copy_beats(void* handle, int channel, uint64_t* cycles, uint64_t* offered, uint32_t* words) {
    Sim* sim = static_cast<Sim*>(handle);
    const std::vector<uint64_t>& moved = sim->cycles[channel];
    std::memcpy(cycles, moved.data(), moved.size() * sizeof(uint64_t));
    if (channel >= SF_STREAM_COUNT) return;
    if (offered) std::memcpy(offered, sim->offered[channel].data(), sim->offered[channel].size() * sizeof(uint64_t));
    if (words) std::memcpy(words, sim->words[channel].data(), sim->words[channel].size() * sizeof(uint32_t));
}

}  // extern "C"
