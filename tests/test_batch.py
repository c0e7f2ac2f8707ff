"""The batch harness (spikeforge.sim.harness.batch): a small design with a wide register stage drives and
records streams with the cycles its logic dictates, guards hold beats back, stuck runs are reported in words,
and the same compiled model answers poke, peek and step."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spikeforge.hdl.export import export
from spikeforge.hdl.manifest import describe_block
from spikeforge.sim.harness.batch import After, BatchModel, BatchStuck, Sequence, Stimulus
from spikeforge.sim.harness.batch_build import compile_model
from spikeforge.sim.harness.batch_words import as_ints, pack, unpack
from spikeforge.sim.harness.layout import Layout


pytestmark = pytest.mark.cocotb


class _Echo(wiring.Component):
    """``data`` beats (100 bits) come back on ``echo`` one cycle after they are accepted (a register stage);
    ``pulse`` is high in the cycle after a ``trigger`` beat; ``blocked`` is never ready; ``count`` counts the
    ``data`` beats."""

    data: In(stream.Signature(unsigned(100)))
    echo: Out(stream.Signature(unsigned(100)))
    trigger: In(stream.Signature(unsigned(1)))
    blocked: In(stream.Signature(unsigned(3)))
    pulse: Out(1)
    count: Out(16)

    def elaborate(self, platform):
        m = Module()
        full = Signal()
        m.d.comb += [self.data.ready.eq(~full | self.echo.ready), self.echo.valid.eq(full),
                     self.trigger.ready.eq(1)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [self.echo.payload.eq(self.data.payload), full.eq(1), self.count.eq(self.count + 1)]
        with m.Elif(self.echo.ready):
            m.d.sync += full.eq(0)
        m.d.sync += self.pulse.eq(self.trigger.valid)
        return m


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("echo")
    verilog, manifest = export(_Echo(), name="echo", build_dir=build_dir,
                               description=describe_block("echo", {"echo": {}}))
    compiled = compile_model(verilog, manifest, build_dir=build_dir)
    again = compile_model(verilog, manifest, build_dir=build_dir)
    assert again.cached and again.library == compiled.library
    with BatchModel(compiled) as model:
        yield model


WIDE = [(1 << 99) | 0x1234_5678_9ABC_DEF0_1, (1 << 64) + 7, 3, (1 << 100) - 1]


def test_streams_move_when_the_design_and_the_guards_let_them(echo):
    stimulus = Stimulus(echo, watch=("pulse",))
    stimulus.send("data", WIDE[:3])
    stimulus.send("trigger", [1], after=[After("data", 3, delay=5)])
    stimulus.send("data", WIDE[3:], after=[After("pulse", 1)])
    result = echo.run(stimulus, finish={"echo": 4})
    data = result.beats("data")
    # Back to back from cycle 0; the third beat's handshake is in cycle 2, so the trigger is offered 5 cycles
    # after cycle 3; the pulse follows it, and the last data beat the pulse.
    assert data.offered.tolist() == [0, 1, 2, 10] and data.cycles.tolist() == [0, 1, 2, 10]
    assert result.beats("trigger").offered.tolist() == [8]
    assert result.beats("pulse").cycles.tolist() == [9]
    echoed = result.beats("echo")
    assert echoed.cycles.tolist() == [1, 2, 3, 11]
    assert as_ints(echoed.words) == WIDE
    assert result.outputs["count"] == 4
    assert result.cycles == 12    # ended right after the last echo: drain 0


def test_a_sequence_waits_for_each_action(echo):
    stimulus = Stimulus(echo, watch=("pulse",))
    sequence = Sequence(stimulus)
    sequence.then("trigger", [1], until=("pulse", 1))
    sequence.then("data", [5, 6])
    sequence.then("trigger", [1], until=("pulse", 1))
    result = echo.run(stimulus, drain=3)
    assert result.beats("pulse").cycles.tolist() == [1, 5]
    assert result.beats("data").cycles.tolist() == [2, 3]
    assert result.cycles == 9     # three quiet cycles after the last pulse


def test_a_guard_never_met_is_reported(echo):
    stimulus = Stimulus(echo, watch=("pulse",))
    stimulus.send("data", [1, 2])
    stimulus.send("data", [3], after=[After("pulse", 1)])
    with pytest.raises(BatchStuck, match=r"^The batch run of 'echo' is stuck: nothing moved for 50 cycles, until "
                                         r"cycle 53: 'data' beat 2 of 3 waits for 'pulse' to move 1 beat; it "
                                         r"moved 0$") as stuck:
        echo.run(stimulus, patience=50)
    assert stuck.value.result.beats("echo").cycles.tolist() == [1, 2]


def test_a_beat_never_accepted_is_reported(echo):
    stimulus = Stimulus(echo)
    stimulus.send("data", [1])
    stimulus.send("blocked", [5], after=[After("data", 1, delay=3)])
    with pytest.raises(BatchStuck, match=r"^The batch run of 'echo' is stuck: nothing moved for 20 cycles, until "
                                         r"cycle 22: 'blocked' beat 0 of 1 was offered in cycle 4 and never "
                                         r"accepted$"):
        echo.run(stimulus, patience=20)


def test_the_cycle_limit_is_reported(echo):
    stimulus = Stimulus(echo)
    stimulus.send("data", [1])
    stimulus.send("data", [2], after=[After("data", 1, delay=100)])
    with pytest.raises(BatchStuck, match=r"^The batch run of 'echo' reached its limit of 30 cycles: 'data' beat 1 "
                                         r"of 2 waits for its delay$"):
        echo.run(stimulus, limit=30)


def test_poke_peek_step(echo):
    echo.reset()
    echo.poke("echo__ready", 0)
    echo.poke("data__payload", WIDE[0])
    echo.poke("data__valid", 1)
    assert echo.peek("data__ready") == 1
    echo.step()
    echo.poke("data__valid", 0)
    assert echo.peek("echo__valid") == 1 and echo.peek("echo__payload") == WIDE[0]
    assert echo.peek("data__ready") == 0    # full and held back
    with pytest.raises(ValueError, match=r"^'echo__valid' is an output of 'echo'; only inputs are poked$"):
        echo.poke("echo__valid", 1)
    with pytest.raises(ValueError, match=r"^A value of 'data__valid' must be an integer in 0\.\.1, not 2$"):
        echo.poke("data__valid", 2)


def test_stimulus_rejects_what_is_not_there(echo):
    with pytest.raises(KeyError, match=r"Only a one-bit output can be watched; 'count' is not one of 'echo'"):
        Stimulus(echo, watch=("count",))
    stimulus = Stimulus(echo)
    with pytest.raises(KeyError, match=r"'echo' is not an input stream of 'echo'; its input streams are blocked, "
                                       r"data, trigger"):
        stimulus.send("echo", [1])
    with pytest.raises(KeyError, match=r"'pulse' is not a channel of the batch run of 'echo'"):
        stimulus.send("data", [1], after=[After("pulse", 1)])


def test_words_pack_fields_across_word_boundaries():
    layout = Layout(name="packet", width=70, fields={"op": (0, 1, False), "data": (20, 16, True),
                                                      "key": (36, 34, False)}, enums={"op": {"READ": 0, "WRITE": 1}})
    columns = {"op": np.array(["WRITE", "READ"], dtype=object), "data": [-2, 300], "key": [(1 << 34) - 1, 5]}
    words = pack(layout, columns)
    assert as_ints(words) == [layout.pack({"op": "WRITE", "data": -2, "key": (1 << 34) - 1}),
                              layout.pack({"op": "READ", "data": 300, "key": 5})]
    assert unpack(layout, words, "data").tolist() == [-2, 300]
    assert unpack(layout, words, "key").tolist() == [(1 << 34) - 1, 5]
    with pytest.raises(ValueError, match=r"^Value of 'packet\.data' must fit 16 bits signed \(-32768\.\.32767\); "
                                         r"40000 \(beat 1\) does not$"):
        pack(layout, {"data": [0, 40000]})


def test_ctrl_c_stops_a_run(echo):
    import _thread
    import threading
    import time

    stimulus = Stimulus(echo)
    stimulus.send("data", [1])
    stimulus.send("data", [2], after=[After("data", 1, delay=10 ** 15)])     # would run for years
    threading.Timer(0.3, _thread.interrupt_main).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        echo.run(stimulus, patience=10 ** 16)
    assert time.monotonic() - start < 5
    stimulus = Stimulus(echo)
    stimulus.send("data", [3])
    assert as_ints(echo.run(stimulus, finish={"echo": 1}).beats("echo").words) == [3]
