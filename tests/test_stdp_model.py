"""The STDP golden model against the rule written out by hand (docs/stdp.md)."""

import numpy as np
import pytest

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.stdp.model import StdpModel, lfsr_seeds, lfsr_step


CORE = LifParams.create(neurons=2, axons=2, lanes=2, model="if", threshold=50)


def pair_change(stdp, dt, *, t_pre=10, steps=24):
    """Weight change of synapse (0, 0) for one pre spike at t_pre and one post spike at t_pre + dt, the post
    spike forced by a strong teacher synapse on axon 1."""
    weights = np.array([[0, 0], [100, 0]])
    model = StdpModel(CORE, stdp, weights)
    for t in range(steps):
        events = ([0] if t == t_pre else []) + ([1] if t == t_pre + dt else [])
        spikes = model.step(events)
        assert (0 in spikes) == (t == t_pre + dt)
    return int(model.weights[0, 0])


def decayed(impulse, shift, times):
    x = impulse
    for _ in range(times):
        x -= x >> shift
    return x


@pytest.mark.parametrize("dt", range(-8, 9))
def test_window_follows_the_rule(dt):
    stdp = StdpParams.create(CORE, impulse=100, tau_pre_shift=2, tau_post_shift=3, a_plus=5, a_minus=3,
                             lr_shift=2)
    if dt >= 0:
        expected = (5 * decayed(100, 2, dt)) >> 2
    else:
        expected = -((3 * decayed(100, 3, -dt - 1)) >> 2)
    assert pair_change(stdp, dt) == expected


def test_window_shape():
    stdp = StdpParams.create(CORE, impulse=64, a_plus=16, a_minus=17, lr_shift=4)
    window = {dt: pair_change(stdp, dt) for dt in range(-10, 11)}
    assert all(window[dt] > 0 for dt in range(0, 11))
    assert all(window[dt] < 0 for dt in range(-10, 0))
    assert all(window[dt] >= window[dt + 1] for dt in range(0, 10))
    assert all(window[dt] <= window[dt - 1] for dt in range(-9, 0))


def test_weights_clip():
    stdp = StdpParams.create(CORE, impulse=255, a_plus=4095, a_minus=4095, lr_shift=0, w_min=-3, w_max=90)
    assert pair_change(stdp, 1) == 90
    assert pair_change(stdp, -1) == -3


def test_nearest_spike_sets_the_trace():
    stdp_all = StdpParams.create(CORE, impulse=100, accumulate="all", trace_bits=8)
    stdp_nearest = StdpParams.create(CORE, impulse=100, accumulate="nearest", trace_bits=8)
    for stdp, expected in ((stdp_all, 255), (stdp_nearest, 100)):
        model = StdpModel(CORE, stdp)
        model.learning = False
        model.step([0])
        model.step([0])
        # all: 100 -> 100 - 12 + 100 = 188 -> 188 - 23 + 100 = 265, saturated to 255 on the third.
        model.step([0])
        assert model.x[0] == expected


def test_learning_switches_off_globally_and_per_neuron():
    stdp = StdpParams.create(CORE, impulse=64)
    model = StdpModel(CORE, stdp, np.array([[0, 0], [100, 100]]))
    model.plastic[1] = False
    model.step([0])
    model.step([1])
    assert model.weights[0, 0] > 0 and model.weights[0, 1] == 0
    model.learning = False
    before = model.weights.copy()
    model.step([0])
    model.step([1])
    assert (model.weights == before).all()


def test_reward_applies_eligibility():
    stdp = StdpParams.create(CORE, impulse=64, reward=True, a_plus=16, lr_shift=4, eligibility_shift=2)
    model = StdpModel(CORE, stdp, np.array([[0, 0], [100, 0]]))
    model.step([0])
    model.step([1])
    # Potentiation went to the eligibility trace, not to the weight.
    assert model.weights[0, 0] == 0
    e = model.eligibility[0, 0]
    assert e == (16 * decayed(64, 3, 1)) >> 4
    model.reward(3)
    assert model.weights[0, 0] == (3 * e) >> 4
    with pytest.raises(ValueError, match=r"^Reward 200 is out of the range -128..127 for reward_bits = 8$"):
        model.reward(200)


def test_lfsr_is_maximal_length():
    state = lfsr_seeds(1, 1)
    seen = 1
    start = state.copy()
    state = lfsr_step(state)
    while state[0] != start[0]:
        state = lfsr_step(state)
        seen += 1
    assert seen == 65535


def test_stochastic_rounding_is_unbiased():
    core = LifParams.create(neurons=8, axons=1, lanes=8, model="if", threshold=10000, weight_bits=16)
    stdp = StdpParams.create(core, impulse=1, a_minus=1, lr_shift=4, stochastic=True, w_min=-32768)
    model = StdpModel(core, stdp)
    model.y[:] = 3   # each depression is 3/16 of a weight step on average
    for _ in range(1600):
        model.event(0)
    assert np.all(np.abs(model.weights[0] + 300) < 60)


@pytest.mark.parametrize("kwargs, message", [
    (dict(w_min=10, w_max=5), r"^Parameter 'w_min' must not exceed 'w_max'; 10 > 5$"),
    (dict(trace_bits=6, tau_pre_shift=6),
     r"^Parameter 'tau_pre_shift' must be in the range 1..5 \(narrower than trace_bits = 6\); 6 is out of range$"),
    (dict(w_max=200), r"^Parameter 'w_max' must be in the core's weight range -128..127; 200 is out of range$"),
    (dict(bogus=1), r"^Unknown parameter 'bogus'; known parameters are .*$"),
    (dict(stochastic=1), r"^Parameter 'stochastic' must be true or false, not 1$"),
    (dict(weight_port="quad"), r"^Parameter 'weight_port' must be one of 'dual', 'single', not 'quad'$"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        StdpParams.create(CORE, **kwargs)
