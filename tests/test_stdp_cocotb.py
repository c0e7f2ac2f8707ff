"""The STDP learning engine's generated Verilog against the golden model, in Icarus and Verilator through cocotb.

Each configuration is built once per simulator into its own directory under ``tmp_path`` and runs every
comparison of :mod:`spikeforge.sim.stdp.bench` (random stimulus and the directed corners), comparing every
weight, trace and eligibility after every tick. Together the configurations cover every option of
:class:`StdpParams`: all-to-all and nearest-spike traces, stochastic rounding on and off, reward-modulated or
not, 1, 2 and 4 lanes, clipping to a [w_min, w_max] narrower than the weights, and axon counts that are not
powers of two.
"""

import re

import numpy as np
import pytest

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.harness.runner import run
from spikeforge.sim.stdp.rtl import BENCH, build_core, simulate_rtl
from spikeforge.sim.stdp.simulate import simulate_model
from spikeforge.sim.stdp.verify import verify


pytestmark = pytest.mark.cocotb


CONFIGS = {
    # 1 lane, all-to-all, rounding down, weights clipped to [-20, 40] of 8-bit weights; 5 axons.
    "all_l1": (dict(neurons=6, axons=5, lanes=1, model="if", threshold=60, weight_bits=8),
               dict(impulse=90, tau_pre_shift=2, tau_post_shift=3, a_plus=24, a_minus=20, lr_shift=5, w_min=-20,
                    w_max=40)),
    # 2 lanes, nearest spike, stochastic rounding; lif with refractoriness; 7 axons.
    "nearest_stochastic_l2": (dict(neurons=8, axons=7, lanes=2, model="lif", decay="shift", decay_v=2,
                                   threshold=50, refractory=1, weight_bits=7),
                              dict(impulse=50, accumulate="nearest", a_plus=13, a_minus=11, lr_shift=4,
                                   stochastic=True, seed=4321)),
    # 4 lanes over 2 groups, reward-modulated, all-to-all, rounding down; cuba; 5 axons.
    "reward_l4": (dict(neurons=8, axons=5, lanes=4, model="cuba", decay="shift", decay_v=3, decay_u=2,
                       threshold=40, weight_bits=8),
                  dict(trace_bits=7, impulse=60, tau_pre_shift=2, tau_post_shift=2, a_plus=40, a_minus=36,
                       lr_shift=3, reward=True, eligibility_bits=9, eligibility_shift=2, reward_bits=5)),
    # 2 lanes over 6 groups, reward-modulated, nearest spike, stochastic, clipped to [0, 50]; 3 axons.
    "reward_nearest_stochastic_l2": (dict(neurons=12, axons=3, lanes=2, model="lif", decay="linear", decay_v=1,
                                          threshold="per_neuron", weight_bits=8),
                                     dict(impulse=100, accumulate="nearest", a_plus=30, a_minus=33, lr_shift=4,
                                          w_min=0, w_max=50, stochastic=True, seed=99, reward=True,
                                          eligibility_bits=12, eligibility_shift=3, reward_bits=4)),
    # 4 lanes in one group (an event's read-modify-write meets the next one's read), all-to-all, stochastic
    # with lr_shift 0 (every offset 0, the LFSRs still step); 8 axons.
    "stochastic_l4": (dict(neurons=4, axons=8, lanes=4, model="lif", decay="mult", decay_v=500, threshold=45,
                           weight_bits=6, bias=1),
                      dict(trace_bits=4, impulse=9, tau_pre_shift=1, tau_post_shift=2, a_plus=2, a_minus=1,
                           lr_shift=0, stochastic=True, seed=65535)),
    # A single weight port (reads wait for the write-backs, as on SPRAM): 2 lanes over 3 groups, reward-modulated,
    # stochastic; lif with refractoriness; 4 axons.
    "single_port_reward_l2": (dict(neurons=6, axons=4, lanes=2, model="lif", decay="shift", decay_v=2,
                                   threshold=50, refractory=1, weight_bits=8),
                              dict(impulse=70, a_plus=20, a_minus=22, lr_shift=3, stochastic=True, seed=555,
                                   reward=True, eligibility_bits=10, eligibility_shift=2, reward_bits=6,
                                   weight_port="single")),
    # 1 lane, wide saturating traces, the largest factors and shift, 10-bit weights clipped to [-100, 300].
    "wide_l1": (dict(neurons=4, axons=6, lanes=1, model="if", threshold=200, weight_bits=10, state_bits=14),
                dict(trace_bits=12, impulse=3000, tau_pre_shift=5, tau_post_shift=1, a_plus=4095, a_minus=4095,
                     lr_shift=16, w_min=-100, w_max=300, stochastic=True, seed=3)),
}

STEPS = 20
SEED = 1
TESTS = 5


def _params(name):
    core, stdp = CONFIGS[name]
    params = LifParams.create(**core)
    return params, StdpParams.create(params, **stdp)


@pytest.mark.parametrize("name", CONFIGS)
def test_stdp_matches_model(name, sim, build_dir):
    params, stdp = _params(name)
    built = build_core(params, stdp, sim=sim, build_dir=build_dir)
    result = run(built, test_module=BENCH, tests=r"\.check_",
                 config={"params": params.to_dict(), "stdp": stdp.to_dict(), "seed": SEED, "steps": STEPS})
    assert result.ok, result.message
    assert result.tests == TESTS


def test_bench_reports_first_weight_mismatch(build_dir):
    """The bench fails, in plain words, at the first weight the model learned differently (here with another
    depression factor; a seed whose stimulus depresses a weight the bench reads)."""
    params, stdp = _params("all_l1")
    model = StdpParams.create(params, **{**CONFIGS["all_l1"][1], "a_minus": 21})
    built = build_core(params, stdp, sim="icarus", build_dir=build_dir)
    result = run(built, test_module=BENCH, tests=r"\.check_random$",
                 config={"params": params.to_dict(), "stdp": model.to_dict(), "seed": 6, "steps": STEPS})
    assert not result.ok
    assert re.fullmatch(r"check_random: (step \d+, before the tick|after tick \d+): weight of axon \d+ neuron \d+ = "
                        r"-?\d+ in the RTL, -?\d+ in the model", result.message), result.message


def test_verify(sim, build_dir):
    params, stdp = _params("reward_nearest_stochastic_l2")
    ok, message = verify(params, stdp, sim=sim, steps=6, seed=5, build_dir=build_dir)
    assert ok, message
    assert re.fullmatch(rf"{sim}: 6 steps from seed 5 matched the model: \d+ spikes and \d+ weights, traces, "
                        r"eligibilities, state values and counters; learning changed a weight or an eligibility "
                        r"[1-9]\d* times", message), message


def test_simulate_rtl_matches_model(sim, build_dir):
    params, stdp = _params("reward_l4")
    rng = np.random.default_rng(11)
    weights = rng.integers(-10, 60, size=(params.axons, params.neurons))
    steps = 8
    events = [(int(t), int(a)) for t, a in zip(rng.integers(0, steps, 30), rng.integers(0, params.axons, 30))]
    rewards = [(2, 7), (2, -3), (5, -16), (7, 15), (9, 1)]    # the last is after the run: ignored
    got = simulate_rtl(params, stdp, weights=weights, events=events, rewards=rewards, steps=steps, sim=sim,
                       trace_weights=True, build_dir=build_dir)
    want = simulate_model(params, stdp, weights=weights, events=events, rewards=rewards, steps=steps,
                          trace_weights=True)
    spikes, state, learned, cycles = got
    assert len(cycles) == steps and min(cycles) > 0
    assert spikes == want[0]
    assert sorted(state) == ["u", "v"]
    for name in state:
        np.testing.assert_array_equal(state[name], want[1][name])
    np.testing.assert_array_equal(learned["trace"], want[2]["trace"])
    np.testing.assert_array_equal(learned["weights"], want[2]["weights"])
    assert learned["trace"].shape == (steps, params.axons, params.neurons)
    assert not np.array_equal(learned["weights"], weights), "the case should learn something"


def test_simulate_rtl_rejects_a_reward_without_reward_engine(tmp_path):
    params, stdp = _params("all_l1")
    with pytest.raises(ValueError, match=r"^Reward commands need an engine built with reward = true$"):
        simulate_rtl(params, stdp, weights=None, events=[], rewards=[(0, 1)], steps=2, build_dir=tmp_path)
