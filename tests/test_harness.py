"""The block-agnostic pieces of the cocotb harness that run without a simulator: payload layouts, the
scoreboard's messages and the port description written at export time."""

import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from spikeforge.hdl.export import describe_ports, export
from spikeforge.hdl.manifest import describe_block
from spikeforge.sim.harness.layout import Layout
from spikeforge.sim.harness.manifest import Manifest
from spikeforge.sim.harness.scoreboard import Mismatch, Scoreboard


class _Op(enum.Enum, shape=2):
    READ = 0
    WRITE = 2


_COMMAND = data.StructLayout({"op": _Op, "address": unsigned(5), "value": signed(7)})

# A stand-in block interface: a struct stream in, a plain stream out, a nested interface and a counter.
_SIGNATURE = wiring.Signature({
    "command": In(stream.Signature(_COMMAND)),
    "result": Out(stream.Signature(signed(6))),
    "status": Out(wiring.Signature({"busy": Out(1), "clear": In(1)})),
    "count": Out(16),
    "lanes": In(stream.Signature(unsigned(3))).array(2),
    "hits": Out(4).array(2, 3),
})


class _Passthrough(wiring.Component):
    command: In(stream.Signature(_COMMAND))
    result: Out(stream.Signature(signed(7)))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.result.payload.eq(self.command.payload.value), self.result.valid.eq(self.command.valid),
                     self.command.ready.eq(self.result.ready)]
        return m


def _command_layout():
    return Layout(name="command", width=14, fields={"op": (0, 2, False), "address": (2, 5, False),
                                                    "value": (7, 7, True)},
                  enums={"op": {"READ": 0, "WRITE": 2}})


def test_layout_round_trip():
    layout = _command_layout()
    bits = layout.pack({"op": "WRITE", "address": 17, "value": -3})
    assert bits == 2 | 17 << 2 | (128 - 3) << 7
    assert layout.unpack(bits) == {"op": 2, "address": 17, "value": -3}
    assert layout.enum_name("op", 2) == "WRITE"
    assert layout.pack({"address": 1}) == 4  # missing fields are 0


def test_layout_plain_payload():
    layout = Layout(name="result", width=6, signed=True)
    assert layout.pack(-1) == 63
    assert layout.unpack(63) == -1
    assert layout.fields is None


@pytest.mark.parametrize("value, message", [
    ({"value": 64}, r"^Value of 'command\.value' must fit 7 bits signed \(-64\.\.63\); 64 does not$"),
    ({"address": -1}, r"^Value of 'command\.address' must fit 5 bits unsigned \(0\.\.31\); -1 does not$"),
])
def test_layout_rejects_values_that_do_not_fit(value, message):
    with pytest.raises(ValueError, match=message):
        _command_layout().pack(value)


def test_layout_rejects_unknown_names():
    layout = _command_layout()
    with pytest.raises(KeyError, match=r"has no field 'data'; its fields are op, address, value"):
        layout.pack({"data": 1})
    with pytest.raises(KeyError, match=r"has no member 'ERASE'; its members are READ, WRITE"):
        layout.pack({"op": "ERASE"})


def test_describe_ports_follows_amaranth():
    ports = describe_ports(_SIGNATURE)
    command = ports["command"]
    assert command["kind"] == "stream" and command["flow"] == "in"
    assert command["payload"]["width"] == _COMMAND.size
    for name, field in _COMMAND:
        assert command["payload"]["fields"][name] == [field.offset, field.width, name == "value"]
    assert command["payload"]["enums"] == {"op": {"READ": 0, "WRITE": 2}}
    assert ports["result"] == {"kind": "stream", "flow": "out", "always_valid": False, "always_ready": False,
                               "payload": {"width": 6, "signed": True, "fields": None, "enums": {}}}
    assert ports["status__busy"] == {"kind": "port", "flow": "out", "width": 1, "signed": False}
    assert ports["status__clear"]["flow"] == "in"
    assert ports["count"] == {"kind": "port", "flow": "out", "width": 16, "signed": False}
    # Arrays are flattened the way Amaranth names their Verilog ports.
    assert [name for name in ports if name.startswith("lanes")] == ["lanes__0", "lanes__1"]
    assert ports["lanes__1"]["flow"] == "in" and ports["lanes__1"]["payload"]["width"] == 3
    assert [name for name in ports if name.startswith("hits")] == [f"hits__{i}__{j}" for i in range(2)
                                                                    for j in range(3)]


def test_manifest_layouts_match_the_description(tmp_path):
    description = describe_block("passthrough", {"passthrough": {"answer": 42}}, derived={"width": 7})
    verilog, manifest_path = export(_Passthrough(), name="passthrough", build_dir=tmp_path, description=description)
    assert "module passthrough" in verilog.read_text()
    manifest = Manifest.load(manifest_path)
    assert manifest.toplevel == "passthrough" and manifest.block == "passthrough"
    assert manifest.parameters == {"passthrough": {"answer": 42}} and manifest.derived == {"width": 7}
    assert manifest.memory_map is None and manifest.tools["amaranth"].startswith("0.5")
    layout = manifest.stream_layout("command")
    assert layout.unpack(layout.pack({"op": "WRITE", "address": 31, "value": -64})) == \
        {"op": 2, "address": 31, "value": -64}
    with pytest.raises(KeyError, match=r"^\"Block 'passthrough' has no port 'missing'; its ports are "):
        manifest.port("missing")


def _spike_board():
    board = Scoreboard()
    board.channel("spikes", lambda spike: f"neuron {spike[1]} spiked")
    return board


@pytest.mark.parametrize("expected, actual, message", [
    ([(3, 4), (3, 17)], [(3, 4)], "step 3: neuron 17 spiked in the model but not in the RTL"),
    ([(3, 4)], [(3, 4), (3, 9)], "step 3: neuron 9 spiked in the RTL but not in the model"),
    ([(3, 4), (3, 17)], [(3, 4), (3, 5), (3, 17)], "step 3: neuron 5 spiked in the RTL but not in the model"),
    ([(3, 4), (3, 5)], [(3, 5), (3, 4)],
     "step 3: out of order: the RTL gave 'neuron 5 spiked' where the model gave 'neuron 4 spiked'"),
])
def test_scoreboard_reports_first_difference(expected, actual, message):
    board = _spike_board()
    board.expect("spikes", expected)
    board.observe("spikes", actual)
    with pytest.raises(Mismatch, match=f"^{message}$"):
        board.check("spikes", "step 3")


def test_scoreboard_counts_and_clears():
    board = _spike_board()
    board.expect("spikes", [(0, 1), (0, 2)])
    board.observe("spikes", [(0, 1), (0, 2)])
    board.check("spikes", "step 0")
    board.compare_all("after tick 0", lambda n: f"neuron {n} v", [1, 2, 3], [1, 2, 3])
    board.finish()
    assert (board.items_checked, board.values_checked) == (2, 3)


def test_scoreboard_compares_values():
    board = _spike_board()
    with pytest.raises(Mismatch, match=r"^after tick 5: neuron 2 v = -31 in the RTL, -30 in the model$"):
        board.compare_all("after tick 5", lambda n: f"neuron {n} v", [0, 7, -30], [0, 7, -31])


def test_scoreboard_finish_finds_left_overs():
    board = _spike_board()
    board.observe("spikes", [(9, 6)])
    with pytest.raises(Mismatch, match=r"^at the end of the run: neuron 6 spiked in the RTL but not in the model$"):
        board.finish()
    with pytest.raises(KeyError, match="channel 'responses' was not declared"):
        board.expect("responses", [1])
