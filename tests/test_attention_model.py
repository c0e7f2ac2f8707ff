"""The attention unit's fixed-point golden model against the float reference written from the equations."""

import numpy as np
import pytest

from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.sim.attention.model import AttentionModel, check_spikes, event_additions, run_model
from spikeforge.sim.attention.reference import reference, reference_for
from spikeforge.sim.attention.rows import pack_rows, unpack_rows
from spikeforge.sim.attention.stimulus import random_qkv


SHAPES = [  # tokens, channels, heads, timesteps
    (16, 32, 2, 4),
    (64, 64, 4, 4),
    (8, 16, 4, 8),
    (5, 12, 3, 3),
    (8, 8, 8, 6),
]


def count_stimulus(params, rng, *, calls=2):
    """Q all ones, and K = V with the first c tokens of channel j set, c random in 0..tokens per (step, j).

    With one channel per head (v2) the SN input of every element is then the count c: the SN sees every value
    its input can take, near the threshold too, at every timestep."""
    steps = calls * params.timesteps
    counts = rng.integers(0, params.tokens + 1, size=(steps, 1, params.channels))
    k = (np.arange(params.tokens)[np.newaxis, :, np.newaxis] < counts).astype(np.uint8)
    return np.ones_like(k), k, k.copy()


@pytest.mark.parametrize("variant", ["v1", "v2"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n{}-d{}-h{}-t{}".format(*s))
def test_model_equals_float_reference_on_random_spikes(variant, shape):
    tokens, channels, heads, timesteps = shape
    params = AttentionParams.create(variant=variant, tokens=tokens, channels=channels, heads=heads,
                                    timesteps=timesteps)
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        q, k, v = random_qkv(params, rng, calls=2)
        np.testing.assert_array_equal(run_model(params, q, k, v), reference_for(params, q, k, v))


@pytest.mark.parametrize("settings", [
    {},                                                   # the reference models
    {"decay_shift": 2},                                   # tau = 4
    {"decay_shift": 0},                                   # tau = 1: no memory
    {"threshold": 0.75, "decay_shift": 2},
    {"threshold": 2, "scale_shift": 1},
    {"frac_bits": 12},                                    # more bits than needed
], ids=repr)
@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_model_equals_float_reference_near_the_threshold(variant, settings):
    """One channel per head and direct control of every count: the SN membrane carries fractions across
    timesteps and the threshold is met exactly; the fixed point must still equal the float reference."""
    scale = {"scale_shift": 2} if variant == "v1" and "scale_shift" not in settings else {}
    params = AttentionParams.create(variant=variant, tokens=12, channels=64, heads=64, timesteps=5,
                                    **scale, **settings)
    assert params.exact
    rng = np.random.default_rng(7)
    fired_late = 0
    for _ in range(5):
        q, k, v = count_stimulus(params, rng)
        o = run_model(params, q, k, v)
        np.testing.assert_array_equal(o, reference_for(params, q, k, v))
        fired_late += int(o[1:].sum())
    assert fired_late, "the stimulus never made the SN fire"


def test_reference_settings_need_no_more_than_the_scale_bits():
    """With tau = 2 and a threshold on the count grid, flooring the membrane to any grid at least as fine as
    the input's loses nothing (floor(floor(a) / 2) = floor(a / 2)); the model stays exact down to
    frac_bits = scale_shift, which is what the default over-provisions."""
    rng = np.random.default_rng(3)
    for frac_bits in (3, 4, 5):
        params = AttentionParams.create(variant="v2", tokens=12, channels=64, heads=64, timesteps=5,
                                        frac_bits=frac_bits)
        q, k, v = count_stimulus(params, rng)
        np.testing.assert_array_equal(run_model(params, q, k, v), reference_for(params, q, k, v))


@pytest.mark.parametrize("settings", [
    {"frac_bits": 2},                        # coarser than the input grid of 2**-3
    {"decay_shift": 2, "frac_bits": 5},      # tau = 4 needs 3 + 2 * 5 bits; 5 round the membrane down
    {"count_bits": 2},                       # counts saturate at 3
], ids=repr)
def test_the_comparison_can_fail(settings):
    params = AttentionParams.create(variant="v2", tokens=12, channels=64, heads=64, timesteps=5, **settings)
    assert not params.exact
    q, k, v = count_stimulus(params, np.random.default_rng(5))
    assert (run_model(params, q, k, v) != reference_for(params, q, k, v)).any()


def test_reference_v2_scale_and_v1_masks_by_hand():
    """A case small enough to work out on paper."""
    # v1: channel 0 has kv = 1 (token 0), channel 1 has kv = 0; O = Q & [1, 0].
    q = np.array([[[1, 1], [0, 1]]])
    k = np.array([[[1, 1], [0, 0]]])
    v = np.array([[[1, 0], [1, 1]]])
    np.testing.assert_array_equal(reference(q, k, v, variant="v1", heads=1, timesteps=1), [[[1, 0], [0, 0]]])
    # v2, one head of 2 channels: M = K^T V = [[1, 0], [1, 0]]; X = Q M / 8; H = X / 2 < 0.5: nothing fires
    # at t = 0. With 8 tokens all ones, M = 8 everywhere, X[n, j] = 16 / 8 = 2, H = 1: every element fires.
    assert not reference(q, k, v, variant="v2", heads=1, timesteps=1).any()
    ones = np.ones((1, 8, 2))
    assert reference(ones, ones, ones, variant="v2", heads=1, timesteps=1).all()


def test_v2_membrane_carries_over_timesteps_and_resets_between_calls():
    """One element, X = count / 8, tau = 2, threshold 1/2, two timesteps per call, worked out by hand:
    counts (6, 6): H = 3/8, then 3/8 + (6/8 - 3/8) / 2 = 9/16: fires at t = 1.
    counts (6, 0): H = 3/8, then 3/16: no spike, the membrane ends at 3/16.
    counts (7, 0): a new call starts from 0: H = 7/16, then 7/32: no spike (from 3/16 it would fire at once)."""
    params = AttentionParams.create(variant="v2", tokens=8, channels=1, heads=1, timesteps=2)
    counts = [6, 6, 6, 0, 7, 0]
    k = (np.arange(8)[np.newaxis, :] < np.array(counts)[:, np.newaxis]).astype(np.uint8)[:, :, np.newaxis]
    q = np.ones_like(k)
    model = AttentionModel(params)
    fired, membranes = [], []
    for t in range(len(counts)):
        fired.append(int(model.step(q[t], k[t], k[t])[0, 0]))
        membranes.append(int(model.membrane[0, 0]))
    assert fired == [0, 1, 0, 0, 0, 0]
    scale = 1 << params.frac_bits
    assert membranes == [3 * scale // 8, 0, 3 * scale // 8, 3 * scale // 16, 7 * scale // 16, 7 * scale // 32]
    np.testing.assert_array_equal(run_model(params, q, k, k)[:, 0, 0], fired)
    np.testing.assert_array_equal(reference_for(params, q, k, k)[:, 0, 0], fired)


def test_check_spikes_rejects_bad_arrays():
    params = AttentionParams.create(variant="v1", tokens=4, channels=8, timesteps=2)
    good = np.zeros((2, 4, 8), np.uint8)
    assert check_spikes("q", good, params).dtype == np.uint8
    with pytest.raises(ValueError, match=r"^'q' must have shape \(timesteps, tokens, channels\) = \(2, 4, 8\), "
                                         r"not \(2, 4, 7\)$"):
        check_spikes("q", np.zeros((2, 4, 7)), params)
    with pytest.raises(ValueError, match=r"^'k' must hold timesteps = 2 steps, not 3$"):
        check_spikes("k", np.zeros((3, 4, 8), np.uint8), params)
    with pytest.raises(ValueError, match=r"^'k' must hold a positive multiple of 2 timesteps, not 3$"):
        check_spikes("k", np.zeros((3, 4, 8), np.uint8), params, calls=True)
    with pytest.raises(ValueError, match=r"^'v' must hold spikes 0 or 1; found 0..2$"):
        check_spikes("v", good + np.eye(8, dtype=np.uint8)[:4] * 2, params)
    with pytest.raises(ValueError, match=r"^'v' must hold integer spikes 0 or 1, not float64$"):
        check_spikes("v", good.astype(float), params)


def test_rows_pack_and_unpack():
    rng = np.random.default_rng(0)
    bits = (rng.random((7, 75)) < 0.4).astype(np.uint8)
    rows = pack_rows(bits)
    assert rows[0] == sum(int(b) << c for c, b in enumerate(bits[0]))
    np.testing.assert_array_equal(unpack_rows(rows, 75), bits)


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_event_additions_count_each_pair(variant):
    """The events schedule's work, counted spike by spike: in v1 a (token, channel) with K = V = 1; in v2 a
    (token, i, j) of a head with K[n, i] = V[n, j] = 1, and Dh additions for each spike of Q."""
    params = AttentionParams.create(variant=variant, tokens=5, channels=12, heads=3, timesteps=2)
    q, k, v = random_qkv(params, np.random.default_rng(4), calls=2)
    dh = params.head_channels
    want = 0
    for step in range(q.shape[0]):
        for n in range(params.tokens):
            if variant == "v1":
                want += sum(int(k[step, n, c] and v[step, n, c]) for c in range(params.channels))
                continue
            for h in range(params.heads):
                head = range(h * dh, (h + 1) * dh)
                want += sum(int(k[step, n, i] and v[step, n, j]) for i in head for j in head)
                want += dh * sum(int(q[step, n, i]) for i in head)
    assert want > 0
    assert event_additions(params, q, k, v) == want
    dense = params.additions_per_call * 2
    assert event_additions(params, np.ones_like(q), np.ones_like(k), np.ones_like(v)) == dense
