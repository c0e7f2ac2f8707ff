"""LifParams: every validation message in full, derived values, and what the Loihi preset fixes."""

import re

import pytest

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams


BASE = {"neurons": 16, "axons": 8}


def create(**kwargs):
    return LifParams.create(**{**BASE, **kwargs})


def full(message):
    """A pattern matching exactly ``message``."""
    return f"^{re.escape(message)}$"


# (keyword overrides, exception type, message). Ranges that depend on state_bits are for the default 16 bits.
INVALID = [
    ({"frequency": 100}, ValueError,
     "Unknown parameter 'frequency'; known parameters are neurons, axons, lanes, weight_bits, state_bits, "
     "acc_bits, model, decay, decay_v, decay_u, threshold, compare, reset, v_reset, refractory, bias, "
     "bias_into, saturate, preset, du, dv, vth, bias_mant, bias_exp"),
    ({"preset": "truenorth"}, ValueError, "Parameter 'preset' must be one of 'loihi', not 'truenorth'"),
    ({"du": 3}, ValueError, "Parameter 'du' belongs to preset 'loihi' and needs preset = \"loihi\""),
    ({"neurons": 16.0}, TypeError, "Parameter 'neurons' must be an integer, not 16.0"),
    ({"neurons": True}, TypeError, "Parameter 'neurons' must be an integer, not True"),
    ({"neurons": 0}, ValueError, "Parameter 'neurons' must be in the range 1..65536; 0 is out of range"),
    ({"neurons": 65537}, ValueError, "Parameter 'neurons' must be in the range 1..65536; 65537 is out of range"),
    ({"axons": "8"}, TypeError, "Parameter 'axons' must be an integer, not '8'"),
    ({"axons": 0}, ValueError, "Parameter 'axons' must be in the range 1..65536; 0 is out of range"),
    ({"axons": 65536, "neurons": 65536}, ValueError,
     "Parameter 'axons' x 'neurons' x 'weight_bits' = 65536 x 65536 x 8 = 34359738368 bits of weights; at most "
     "8388608 (8 Mbit) fit a core, more than any supported board holds"),
    ({"lanes": 0}, ValueError, "Parameter 'lanes' must be in the range 1..64; 0 is out of range"),
    ({"lanes": 128}, ValueError, "Parameter 'lanes' must be in the range 1..64; 128 is out of range"),
    ({"lanes": 3}, ValueError, "Parameter 'lanes' must be a power of two; 3 is not"),
    ({"neurons": 12, "lanes": 8}, ValueError, "Parameter 'lanes' must divide 'neurons'; 12 is not divisible by 8"),
    ({"weight_bits": 1}, ValueError, "Parameter 'weight_bits' must be in the range 2..16; 1 is out of range"),
    ({"weight_bits": 17}, ValueError, "Parameter 'weight_bits' must be in the range 2..16; 17 is out of range"),
    ({"state_bits": 3}, ValueError, "Parameter 'state_bits' must be in the range 4..32; 3 is out of range"),
    ({"state_bits": 33}, ValueError, "Parameter 'state_bits' must be in the range 4..32; 33 is out of range"),
    ({"acc_bits": 7}, ValueError,
     "Parameter 'acc_bits' must be in the range 8..32 (at least 'weight_bits'); 7 is out of range"),
    ({"weight_bits": 12, "state_bits": 8}, ValueError,
     "Parameter 'acc_bits' must be in the range 12..32 (at least 'weight_bits'); 8 is out of range"),
    ({"model": "izhikevich"}, ValueError,
     "Parameter 'model' must be one of 'if', 'lif', 'cuba', not 'izhikevich'"),
    ({"decay": "exp"}, ValueError, "Parameter 'decay' must be one of 'shift', 'mult', 'linear', not 'exp'"),
    ({"decay_v": 16}, ValueError,
     "Parameter 'decay_v' must be in the range 0..15 for decay = 'shift'; 16 is out of range"),
    ({"decay": "mult", "decay_v": 4097}, ValueError,
     "Parameter 'decay_v' must be in the range 0..4096 for decay = 'mult'; 4097 is out of range"),
    ({"decay": "linear", "decay_v": -1}, ValueError,
     "Parameter 'decay_v' must be in the range 0..32767 for decay = 'linear'; -1 is out of range"),
    ({"decay_v": 2.5}, TypeError, "Parameter 'decay_v' must be an integer, not 2.5"),
    ({"model": "if", "decay_v": 3}, ValueError,
     "Parameter 'decay_v' must be 0 for model = 'if' (no leak), not 3"),
    ({"model": "cuba", "decay_u": 16}, ValueError,
     "Parameter 'decay_u' must be in the range 0..15 for decay = 'shift'; 16 is out of range"),
    ({"model": "lif", "decay_u": 2}, ValueError, "Parameter 'decay_u' is only used by model = 'cuba', not 'lif'"),
    ({"threshold": 32768}, ValueError,
     "Parameter 'threshold' must be \"per_neuron\" or in the range -32768..32767; 32768 is out of range"),
    ({"threshold": "per-neuron"}, TypeError, "Parameter 'threshold' must be an integer, not 'per-neuron'"),
    ({"compare": "lt"}, ValueError, "Parameter 'compare' must be one of 'gt', 'ge', not 'lt'"),
    ({"reset": "hold"}, ValueError, "Parameter 'reset' must be one of 'zero', 'subtract', 'none', not 'hold'"),
    ({"v_reset": -32769}, ValueError,
     "Parameter 'v_reset' must be in the range -32768..32767; -32769 is out of range"),
    ({"reset": "subtract", "v_reset": 5}, ValueError,
     "Parameter 'v_reset' is only used by reset = 'zero', not 'subtract'"),
    ({"refractory": 256}, ValueError, "Parameter 'refractory' must be in the range 0..255; 256 is out of range"),
    ({"refractory": -1}, ValueError, "Parameter 'refractory' must be in the range 0..255; -1 is out of range"),
    ({"bias": -32769}, ValueError,
     "Parameter 'bias' must be \"per_neuron\" or in the range -32768..32767; -32769 is out of range"),
    ({"bias": 1.5}, TypeError, "Parameter 'bias' must be an integer, not 1.5"),
    ({"model": "cuba", "bias_into": "synapse"}, ValueError,
     "Parameter 'bias_into' must be one of 'membrane', 'current', not 'synapse'"),
    ({"bias_into": "current"}, ValueError,
     "Parameter 'bias_into' = 'current' needs model = 'cuba' (the only model with a current), not 'lif'"),
    ({"model": "if", "bias": "per_neuron", "bias_into": "current"}, ValueError,
     "Parameter 'bias_into' = 'current' needs model = 'cuba' (the only model with a current), not 'if'"),
    ({"saturate": 1}, TypeError, "Parameter 'saturate' must be true or false, not 1"),
]

LOIHI_INVALID = [
    ({"model": "lif"}, ValueError,
     "Parameter 'model' is fixed by preset 'loihi'; it takes only neurons, axons, lanes, weight_bits, "
     "du, dv, vth, bias_mant, bias_exp"),
    ({"bias_into": "current"}, ValueError,
     "Parameter 'bias_into' is fixed by preset 'loihi'; it takes only neurons, axons, lanes, weight_bits, "
     "du, dv, vth, bias_mant, bias_exp"),
    ({"neurons": None}, TypeError, "Parameter 'neurons' must be an integer, not None"),
    ({"lanes": 3}, ValueError, "Parameter 'lanes' must be a power of two; 3 is not"),
    ({"du": 4096}, ValueError, "Parameter 'du' must be in the range 0..4095; 4096 is out of range"),
    ({"du": -1}, ValueError, "Parameter 'du' must be in the range 0..4095; -1 is out of range"),
    ({"dv": 4096}, ValueError, "Parameter 'dv' must be in the range 0..4095; 4096 is out of range"),
    ({"vth": 131072}, ValueError, "Parameter 'vth' must be in the range 0..131071; 131072 is out of range"),
    ({"bias_mant": 4096}, ValueError,
     "Parameter 'bias_mant' must be in the range -4096..4095; 4096 is out of range"),
    ({"bias_mant": -4097}, ValueError,
     "Parameter 'bias_mant' must be in the range -4096..4095; -4097 is out of range"),
    ({"bias_exp": 8}, ValueError, "Parameter 'bias_exp' must be in the range 0..7; 8 is out of range"),
    ({"bias_exp": 1.0}, TypeError, "Parameter 'bias_exp' must be an integer, not 1.0"),
]


@pytest.mark.parametrize("kwargs, error, message", INVALID, ids=[m for _, _, m in INVALID])
def test_invalid(kwargs, error, message):
    with pytest.raises(error, match=full(message)):
        create(**kwargs)


@pytest.mark.parametrize("kwargs, error, message", LOIHI_INVALID, ids=[m for _, _, m in LOIHI_INVALID])
def test_loihi_invalid(kwargs, error, message):
    with pytest.raises(error, match=full(message)):
        create(preset="loihi", **kwargs)


def test_ranges_follow_state_bits():
    with pytest.raises(ValueError, match=full("Parameter 'decay_v' must be in the range 0..7 for decay = "
                                               "'shift'; 8 is out of range")):
        create(state_bits=8, decay_v=8)
    with pytest.raises(ValueError, match=full("Parameter 'threshold' must be \"per_neuron\" or in the range "
                                               "-128..127; 128 is out of range")):
        create(state_bits=8, threshold=128)


def test_defaults():
    p = create()
    assert (p.lanes, p.weight_bits, p.state_bits, p.acc_bits) == (1, 8, 16, 16)
    assert (p.model, p.decay, p.decay_v, p.decay_u) == ("lif", "shift", 4, 0)
    assert (p.threshold, p.compare, p.reset, p.v_reset, p.refractory, p.bias) == (64, "gt", "zero", 0, 0, 0)
    assert p.bias_into == "membrane" and not p.bias_into_current
    assert create(model="cuba", bias_into="current").bias_into_current
    assert p.saturate is True and p.preset is None
    assert create(model="if").decay_v == 0
    assert create(model="cuba", decay="mult").decay_u == 256
    assert create(decay="linear").decay_v == 1


@pytest.mark.parametrize("kwargs", [
    {},
    {"lanes": 4, "model": "cuba", "decay": "mult", "decay_u": 4096, "threshold": "per_neuron",
     "bias": "per_neuron", "refractory": 3, "saturate": False},
    {"model": "if", "reset": "subtract", "compare": "ge", "acc_bits": 20},
    {"model": "cuba", "bias": "per_neuron", "bias_into": "current"},
    {"preset": "loihi", "du": 4095, "dv": 0, "vth": 100, "bias_mant": -3, "bias_exp": 7, "lanes": 2},
])
def test_to_dict_round_trip(kwargs):
    p = create(**kwargs)
    assert LifParams.create(**p.to_dict()) == p


def test_derived():
    p = create(neurons=64, lanes=8, state_bits=12, acc_bits=14, weight_bits=6, refractory=5)
    assert p.groups == 8
    assert p.v_range == p.u_range == (-2048, 2047)
    assert p.acc_range == (-8192, 8191)
    assert p.weight_range == (-32, 31)
    assert p.refractory_bits == 3
    assert p.input_shift == 0 and p.u_bits == 12
    assert create(threshold="per_neuron").per_neuron_threshold
    assert create(bias="per_neuron").per_neuron_bias


def test_neuron_record_follows_the_memory_map():
    """The neuron record, written out from the memory maps of docs/lif_core.md and docs/stdp.md: the cocotb benches
    check every built core's configuration fields against LifParams.neuron_fields."""
    p = create(state_bits=12, acc_bits=14, weight_bits=6)
    assert p.neuron_fields() == {"acc": (14, True), "v": (12, True)}
    p = create(model="cuba", decay_u=2, state_bits=12, acc_bits=14, refractory=5, threshold="per_neuron",
               bias="per_neuron")
    record = {"acc": (14, True), "v": (12, True), "u": (12, True), "refractory": (3, False),
              "threshold": (12, True), "bias": (12, True)}
    assert p.neuron_fields() == record
    assert create(preset="loihi").neuron_fields() == {"acc": (18, True), "v": (24, True), "u": (25, True)}
    # A learning engine adds the postsynaptic trace and the plastic bit; a disabled one adds nothing.
    assert p.neuron_fields(StdpParams.create(p, trace_bits=7, tau_pre_shift=2, tau_post_shift=2, impulse=20)) == \
        {**record, "y": (7, False), "plastic": (1, False)}
    assert p.neuron_fields(StdpParams.create(p, enabled=False)) == record


def test_loihi_preset_fixes_the_neuron():
    p = create(preset="loihi", du=10, dv=20, vth=300, bias_mant=-5, bias_exp=3)
    assert p.loihi and p.preset == "loihi"
    assert (p.state_bits, p.acc_bits, p.u_bits) == (24, 18, 25)
    assert (p.model, p.decay, p.compare, p.reset, p.v_reset, p.refractory, p.saturate, p.bias_into) == \
        ("cuba", "mult", "gt", "zero", 0, 0, True, "membrane")
    # u decays by (du + 1) / 4096 and v by dv / 4096 (Lava's ds_offset = 1, dm_offset = 0).
    assert (p.decay_u, p.decay_v) == (11, 20)
    assert p.threshold == 300 << 6
    assert p.bias == -5 << 3
    assert p.input_shift == 6
    assert p.v_range == (-(2**23 - 1), 2**23 - 1)
    assert p.u_range == (-(2**23 - 1), 2**23)
    assert (p.du, p.dv, p.vth, p.bias_mant, p.bias_exp) == (10, 20, 300, -5, 3)


def test_loihi_defaults_and_extremes():
    p = create(preset="loihi")
    assert (p.du, p.dv, p.vth, p.bias_mant, p.bias_exp) == (0, 0, 10, 0, 0)
    assert (p.decay_u, p.decay_v, p.threshold, p.bias) == (1, 0, 640, 0)
    # du = 4095 removes u entirely each step: a mult decay of 4096/4096.
    assert create(preset="loihi", du=4095).decay_u == 4096
