"""Validation of the attention unit's parameters: every rule raises at construction with a message naming the
parameter, the value and the rule."""

import re

import pytest

from spikeforge.hdl.attention.params import AttentionParams


BASE = {"variant": "v2", "tokens": 16, "channels": 32, "heads": 2}


def create(**overrides):
    return AttentionParams.create(**{**BASE, **overrides})


def test_defaults_follow_the_reference_models():
    v2 = create()
    assert (v2.timesteps, v2.lanes, v2.threshold, v2.scale_shift, v2.decay_shift) == (4, 1, 0.5, 3, 1)
    assert v2.count_bits == 5                          # holds a count of 16 tokens
    assert v2.frac_bits == 3 + 4                       # scale 2**-3, halved at each of 4 timesteps
    assert v2.threshold_fixed == 64 and v2.membrane_bits == 6
    assert v2.exact
    assert v2.schedule == "events"
    v1 = create(variant="v1")
    assert v1.scale_shift == 0 and v1.frac_bits == 4 and v1.exact


def test_derived_counts():
    p = create(timesteps=2, lanes=4)
    assert p.head_channels == 16
    assert p.x_max == 16 * 31
    assert p.additions_per_timestep == 2 * 16 * 32 * 16
    assert p.additions_per_call == 2 * p.additions_per_timestep
    assert p.softmax_macs == 2 * 16 * 16 * 32
    assert create(variant="v1").additions_per_timestep == 16 * 32
    assert p.sn_elements == 16 * 32 and create(variant="v1").sn_elements == 32


def test_round_trip_through_a_table():
    p = create(lanes=4, threshold=0.75, decay_shift=2, schedule="dense")
    assert AttentionParams.create(**p.to_dict()) == p


def test_fewer_fraction_bits_or_saturating_counts_are_not_exact():
    assert not create(frac_bits=6).exact
    assert not create(count_bits=4).exact
    assert create(frac_bits=9).exact


@pytest.mark.parametrize("overrides, error, message", [
    ({"variant": "v3"}, ValueError, "Parameter 'variant' must be one of 'v1', 'v2', not 'v3'"),
    ({"tokens": 0}, ValueError, "Parameter 'tokens' must be in the range 1..4096; 0 is out of range"),
    ({"tokens": 1.5}, TypeError, "Parameter 'tokens' must be an integer, not 1.5"),
    ({"channels": True}, TypeError, "Parameter 'channels' must be an integer, not True"),
    ({"heads": 3}, ValueError, "Parameter 'heads' must divide 'channels'; 32 is not divisible by 3"),
    ({"heads": 64}, ValueError,
     "Parameter 'heads' must be in the range 1..32 (at most 'channels'); 64 is out of range"),
    ({"timesteps": 65}, ValueError, "Parameter 'timesteps' must be in the range 1..64; 65 is out of range"),
    ({"lanes": 3}, ValueError, "Parameter 'lanes' must be a power of two; 3 is not"),
    ({"lanes": 32}, ValueError,
     "Parameter 'lanes' must divide the head width 'channels' / 'heads'; 16 is not divisible by 32"),
    ({"variant": "v1", "channels": 12, "heads": 1, "lanes": 8}, ValueError,
     "Parameter 'lanes' must divide 'channels'; 12 is not divisible by 8"),
    ({"count_bits": 0}, ValueError, "Parameter 'count_bits' must be in the range 1..32; 0 is out of range"),
    ({"threshold": 0}, ValueError, "Parameter 'threshold' must be positive and finite; 0 is not"),
    ({"threshold": 0.1}, ValueError, "Parameter 'threshold' must be a multiple of 2**-24; 0.1 is not"),
    ({"threshold": "half"}, TypeError, "Parameter 'threshold' must be a number, not 'half'"),
    ({"scale_shift": 17}, ValueError, "Parameter 'scale_shift' must be in the range 0..16; 17 is out of range"),
    ({"decay_shift": -1}, ValueError, "Parameter 'decay_shift' must be in the range 0..8; -1 is out of range"),
    ({"threshold": 0.25, "frac_bits": 1}, ValueError,
     "Parameter 'frac_bits' must be in the range 2..48 (threshold 0.25 needs 2 fractional bits); "
     "1 is out of range"),
    ({"count_bits": 32, "frac_bits": 48}, ValueError,
     "Parameter 'frac_bits' makes the SN input 81 bits wide, more than 62; lower 'frac_bits', 'count_bits' "
     "or 'timesteps'"),
    ({"neurons": 4}, ValueError,
     "Unknown parameter 'neurons'; known parameters are variant, tokens, channels, heads, timesteps, lanes, "
     "count_bits, threshold, scale_shift, decay_shift, frac_bits, schedule"),
    ({"schedule": "sparse"}, ValueError, "Parameter 'schedule' must be one of 'events', 'dense', not 'sparse'"),
])
def test_bad_parameters_are_named(overrides, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        create(**overrides)


def test_required_parameters():
    with pytest.raises(ValueError, match=r"^Parameter 'tokens' is required$"):
        AttentionParams.create(variant="v1", channels=8)
