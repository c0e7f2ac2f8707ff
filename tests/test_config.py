"""Configuration files and --set overrides: what they accept, and the one-line message for each problem."""

import re
from pathlib import Path

import pytest

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.scripts.config import TABLES, ConfigError, load_config, parse_override


EXAMPLE = Path(__file__).parent.parent / "examples" / "lif_core.toml"

SMALL = """\
# a small core
[lif_core]
neurons = 16
axons = 8
lanes = 4
"""


KNOWN = "[lif_core], [stdp], [router], [mesh], [attention], [chip]"


def full(message):
    return f"^{re.escape(message)}$"


@pytest.fixture
def write(tmp_path):
    def write(text, name="core.toml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


def test_example():
    params = load_config(EXAMPLE).block("lif_core")
    assert params == LifParams.create(neurons=256, axons=256, lanes=8, weight_bits=8, model="lif",
                                      decay="shift", decay_v=4, threshold=64)


def test_small(write):
    config = load_config(write(SMALL))
    assert config.blocks == {"lif_core": LifParams.create(neurons=16, axons=8, lanes=4)}


def test_bias_into_the_current(write):
    config = load_config(write(SMALL + "model = 'cuba'\nbias = 'per_neuron'\nbias_into = 'current'\n"))
    assert config.blocks["lif_core"] == LifParams.create(neurons=16, axons=8, lanes=4, model="cuba",
                                                         bias="per_neuron", bias_into="current")


@pytest.mark.parametrize("override, key, value", [
    ("lanes=2", "lanes", 2),
    ("lif_core.lanes=8", "lanes", 8),
    ("model=cuba", "model", "cuba"),
    ("model='cuba'", "model", "cuba"),
    ('threshold="per_neuron"', "threshold", "per_neuron"),
    ("threshold=per_neuron", "threshold", "per_neuron"),
    ("saturate=false", "saturate", False),
    ("v_reset = -3", "v_reset", -3),
])
def test_override(write, override, key, value):
    params = load_config(write(SMALL), [override]).block("lif_core")
    assert getattr(params, key) == value


def test_overrides_apply_in_order(write):
    params = load_config(write(SMALL), ["lanes=1", "lanes=2"]).block("lif_core")
    assert params.lanes == 2


def test_override_can_supply_a_missing_value(write):
    params = load_config(write("[lif_core]\nneurons = 4\n"), ["axons=3"]).block("lif_core")
    assert params.axons == 3


def test_override_creates_a_table(write):
    params = load_config(write(""), ["lif_core.neurons=4", "lif_core.axons=2"]).block("lif_core")
    assert (params.neurons, params.axons) == (4, 2)


@pytest.mark.parametrize("text, key, value", [
    ("lanes=4", "lanes", 4),
    ("a.b = [1, 2]", "a.b", [1, 2]),
    ("model=cuba", "model", "cuba"),
    ("name=two words", "name", "two words"),
])
def test_parse_override(text, key, value):
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("text, message", [
    ("lanes", "--set lanes: expected key=value, e.g. --set lanes=4"),
    ("=4", "--set =4: expected key=value, e.g. --set lanes=4"),
    ("lanes=", "--set lanes=: missing value after '='"),
])
def test_parse_override_errors(text, message):
    with pytest.raises(ConfigError, match=full(message)):
        parse_override(text)


@pytest.mark.parametrize("text, overrides, message", [
    # values breaking a rule: the line of the key
    (SMALL.replace("lanes = 4", "lanes = 3"), [],
     "{path} line 5: [lif_core] Parameter 'lanes' must be a power of two; 3 is not"),
    (SMALL + "refractory = 300\n", [],
     "{path} line 6: [lif_core] Parameter 'refractory' must be in the range 0..255; 300 is out of range"),
    (SMALL + "model = 'hh'\n", [],
     "{path} line 6: [lif_core] Parameter 'model' must be one of 'if', 'lif', 'cuba', not 'hh'"),
    (SMALL + "saturate = 1\n", [],
     "{path} line 6: [lif_core] Parameter 'saturate' must be true or false, not 1"),
    (SMALL + "threshold = 1.5\n", [],
     "{path} line 6: [lif_core] Parameter 'threshold' must be an integer, not 1.5"),
    (SMALL + "model = 'lif'\nbias_into = 'current'\n", [],
     "{path} line 7: [lif_core] Parameter 'bias_into' = 'current' needs model = 'cuba' (the only model with a "
     "current), not 'lif'"),
    # unknown key, unknown table, key outside a table, missing table and key
    (SMALL + "colour = 'red'\n", [],
     "{path} line 6: [lif_core] Unknown parameter 'colour'; known parameters are " + ", ".join(LifParams.keys())),
    (SMALL + "\n[noc]\nports = 4\n", [], "{path} line 7: unknown table [noc]; known tables are " + KNOWN),
    (SMALL + "\n[sweep.lif_core]\nlanes = [1, 2]\n", [],
     "{path} line 7: unknown table [sweep]; known tables are " + KNOWN),
    ("neurons = 4\n" + SMALL, [],
     "{path} line 1: 'neurons' is outside a table; put it in a table such as [lif_core]"),
    ("[lif_core]\naxons = 4\n", [], "{path} line 1: [lif_core] Parameter 'neurons' is required"),
    # malformed TOML
    ("[lif_core]\nneurons = 16\naxons 8\n", [],
     "{path} line 3: malformed TOML: Expected '=' after a key in a key/value pair (column 7)"),
    ("[lif_core]\nneurons = 16\nneurons = 8\n", [],
     "{path} line 3: malformed TOML: Cannot overwrite a value (column 12)"),
    # overrides
    (SMALL, ["lanes=3"],
     "{path}, --set lanes=3: [lif_core] Parameter 'lanes' must be a power of two; 3 is not"),
    (SMALL, ["neurons=6"],
     "{path} line 5: [lif_core] Parameter 'lanes' must divide 'neurons'; 6 is not divisible by 4"),
    (SMALL, ["model=hh"],
     "{path}, --set model=hh: [lif_core] Parameter 'model' must be one of 'if', 'lif', 'cuba', not 'hh'"),
    (SMALL, ["colour=red"], "{path}, --set colour=red: no table takes a parameter 'colour'"),
    (SMALL, ["mesh.width=2"], "{path}, --set mesh.width=2: the file describes [lif_core]; a [mesh] value would add "
                              "a second block"),
    ("[[lif_core]]\nneurons = 8\n", [], "{path} line 1: [[lif_core]] is an array of tables; a block is one table, "
                                       "[lif_core]"),
    (SMALL, ["lanes=4\nneurons=1"], "--set 'lanes=4\\nneurons=1': a value is one line"),
    (SMALL, ["a_plus=3"], "{path}, --set a_plus=3: no table of the file takes 'a_plus'; [stdp] does: write --set "
                          "stdp.a_plus=... to add that table"),
    (SMALL, ["noc.ports=4"], "{path}, --set noc.ports=4: unknown table [noc]; known tables are " + KNOWN),
    ("", ["lanes=4"], "{path}, --set lanes=4: 'lanes' is ambiguous; write lif_core.lanes or attention.lanes"),
    # an extension: validated against the table it extends
    (SMALL + "\n[stdp]\nw_max = 200\n", [],
     "{path} line 8: [stdp] Parameter 'w_max' must be in the core's weight range -128..127; 200 is out of range"),
    (SMALL + "\n[stdp]\n", ["weight_bits=4", "w_min=-9"],
     "{path}, --set w_min=-9: [stdp] Parameter 'w_min' must be in the core's weight range -8..7; -9 is out of "
     "range"),
    ("[stdp]\na_plus = 3\n", [], "{path} line 1: [stdp] extends [lif_core], which this file does not have"),
    (SMALL, ["lif_core.colour=1"],
     "{path}, --set lif_core.colour=1: [lif_core] Unknown parameter 'colour'; known parameters are "
     + ", ".join(LifParams.keys())),
])
def test_errors(write, text, overrides, message):
    path = write(text)
    with pytest.raises(ConfigError, match=full(message.format(path=path))):
        load_config(path, overrides)


def test_extension(write):
    config = load_config(write(SMALL + "\n[stdp]\na_plus = 3\n"), ["a_minus=5"])
    assert config.blocks["stdp"] == StdpParams.create(config.blocks["lif_core"], a_plus=3, a_minus=5)
    assert config.top() == ("lif_core", config.blocks["lif_core"])


@pytest.mark.parametrize("name, table", [
    ("mesh_4x4.toml", "mesh"), ("router_table.toml", "router"), ("attention_v1.toml", "attention"),
    ("attention_v2.toml", "attention"), ("lif_core.toml", "lif_core"),
])
def test_examples_of_every_block(name, table):
    config = load_config(EXAMPLE.parent / name)
    assert config.top()[0] == table
    assert type(config.top()[1]) is TABLES[table]


def test_learning_example_for_the_icebreaker():
    config = load_config(EXAMPLE.parent / "stdp_icebreaker.toml")
    assert config.top()[0] == "lif_core"
    stdp = config.block("stdp")
    assert stdp.enabled and stdp.weight_port == "single"


@pytest.mark.parametrize("text, found", [("", "none"), (SMALL + "[mesh]\nwidth = 2\nheight = 2\n",
                                                        "[lif_core], [mesh]")])
def test_top_needs_one_block(write, text, found):
    path = write(text)
    config = load_config(path)
    with pytest.raises(ConfigError, match=full(f"{path}: expected exactly one block table of [lif_core], "
                                               f"[router], [mesh], [attention], [chip]; found {found}")):
        config.top()


def test_missing_table(write):
    path = write("")
    with pytest.raises(ConfigError, match=full(f"{path}: no [lif_core] table; this command needs one")):
        load_config(path).block("lif_core")


def test_unreadable(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=full(f"{path}: cannot read (No such file or directory)")):
        load_config(path)


def test_not_utf8(write, tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"[lif_core]\nneurons = \xff\n")
    with pytest.raises(ConfigError, match=full(f"{path}: not a UTF-8 text file")):
        load_config(path)
