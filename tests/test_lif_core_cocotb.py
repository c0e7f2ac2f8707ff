"""The LIF core's generated Verilog against the golden model, in Icarus and Verilator through cocotb.

Each configuration is built once per simulator into its own directory under ``tmp_path`` and runs every
comparison of :mod:`spikeforge.sim.lif_core.bench` (random stimulus and the directed corners). Together the
configurations cover every option of :class:`LifParams`.
"""

import re

import numpy as np
import pytest

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.sim.harness.runner import run
from spikeforge.sim.lif_core.events import events_by_step
from spikeforge.sim.lif_core.model import LifModel
from spikeforge.sim.lif_core.rtl import BENCH, build_core, simulate_rtl
from spikeforge.sim.lif_core.verify import verify


pytestmark = pytest.mark.cocotb


CONFIGS = {
    # if, global threshold, gt, reset to a nonzero voltage, no refractoriness, saturating; 5 axons.
    "if_l1": dict(neurons=8, axons=5, lanes=1, model="if", state_bits=12, weight_bits=6, threshold=40,
                  compare="gt", reset="zero", v_reset=-5),
    # lif, shift decay, ge, subtract, refractory, global bias, wrapping in a narrow 10-bit state.
    "lif_shift_l2": dict(neurons=16, axons=12, lanes=2, model="lif", decay="shift", decay_v=3, state_bits=10,
                         weight_bits=6, threshold=50, compare="ge", reset="subtract", refractory=2, bias=3,
                         saturate=False),
    # lif, multiplicative decay, per-neuron threshold and bias, no reset, accumulator narrower than the state.
    "lif_mult_l4": dict(neurons=32, axons=24, lanes=4, model="lif", decay="mult", decay_v=700, state_bits=12,
                        acc_bits=10, weight_bits=7, threshold="per_neuron", bias="per_neuron", reset="none"),
    # lif, linear leak, 8 lanes over 3 groups, refractory, wrapping 9-bit state; 17 axons.
    "lif_linear_l8": dict(neurons=24, axons=17, lanes=8, model="lif", decay="linear", decay_v=3, state_bits=9,
                          weight_bits=8, threshold=100, refractory=3, saturate=False),
    # cuba, shift decays, per-neuron threshold, reset to v_reset, refractory; 12 neurons (not a power of two).
    "cuba_shift_l2": dict(neurons=12, axons=9, lanes=2, model="cuba", decay="shift", decay_v=2, decay_u=3,
                          state_bits=14, threshold="per_neuron", reset="zero", v_reset=3, refractory=1),
    # cuba, multiplicative decays, wrapping, per-neuron bias, ge, subtract; narrow accumulator and weights.
    "cuba_mult_l4": dict(neurons=20, axons=7, lanes=4, model="cuba", decay="mult", decay_v=300, decay_u=500,
                         state_bits=11, acc_bits=9, weight_bits=5, threshold=60, compare="ge", reset="subtract",
                         bias="per_neuron", saturate=False),
    # cuba, linear decays, long refractoriness, no reset, negative bias.
    "cuba_linear_l1": dict(neurons=6, axons=3, lanes=1, model="cuba", decay="linear", decay_v=2, decay_u=1,
                           threshold=30, reset="none", refractory=4, bias=-2),
    # cuba with the bias into the current (snnTorch's Synaptic neuron): mult decays, gt, reset to 0, saturating.
    "cuba_current_bias_l2": dict(neurons=10, axons=6, lanes=2, model="cuba", decay="mult", decay_v=512,
                                 decay_u=1024, state_bits=13, threshold=90, bias=5, bias_into="current"),
    # cuba, per-neuron bias into the current, shift decays, refractory, wrapping in a narrow state.
    "cuba_current_bias_pn_l4": dict(neurons=16, axons=5, lanes=4, model="cuba", decay="shift", decay_v=3,
                                    decay_u=2, state_bits=10, weight_bits=6, threshold=70, refractory=1,
                                    bias="per_neuron", bias_into="current", saturate=False),
    # Loihi's bit-accurate LIF (Lava PyLifModelBitAcc).
    "loihi_l2": dict(preset="loihi", neurons=16, axons=10, lanes=2, du=410, dv=205, vth=12, bias_mant=3,
                     bias_exp=2),
    # if, widest weights, 8-bit refractory counter, per-neuron everything, wrapping; powers of two throughout.
    "if_wide_l8": dict(neurons=32, axons=16, lanes=8, model="if", state_bits=20, weight_bits=16,
                       threshold="per_neuron", bias="per_neuron", compare="ge", refractory=200, saturate=False),
}

STEPS = 30
SEED = 1


@pytest.mark.parametrize("name", CONFIGS)
def test_lif_core_matches_model(name, sim, build_dir):
    params = LifParams.create(**CONFIGS[name])
    built = build_core(params, sim=sim, build_dir=build_dir)
    result = run(built, test_module=BENCH, tests=r"\.check_",
                 config={"params": params.to_dict(), "seed": SEED, "steps": STEPS})
    assert result.ok, result.message
    assert result.tests == 6


def test_bench_reports_first_mismatch(build_dir):
    """The bench fails, in plain words, when the model differs from the RTL (here by its threshold)."""
    built_with = LifParams.create(**CONFIGS["if_l1"])
    model = LifParams.create(**{**CONFIGS["if_l1"], "threshold": 20})
    built = build_core(built_with, sim="icarus", build_dir=build_dir)
    result = run(built, test_module=BENCH, tests=r"\.check_random$",
                 config={"params": model.to_dict(), "seed": SEED, "steps": STEPS})
    assert not result.ok
    assert re.fullmatch(r"check_random: step \d+: neuron \d+ spiked in the (model but not in the RTL|"
                        r"RTL but not in the model)", result.message), result.message


@pytest.mark.parametrize("built_into, model_into", [("membrane", "current"), ("current", "membrane")])
def test_bench_tells_where_the_bias_goes(built_into, model_into, build_dir):
    """An RTL that adds the bias to the voltage fails against a model that adds it to the current, and back."""
    config = CONFIGS["cuba_current_bias_l2"]
    built = build_core(LifParams.create(**{**config, "bias_into": built_into}), sim="icarus", build_dir=build_dir)
    model = LifParams.create(**{**config, "bias_into": model_into})
    result = run(built, test_module=BENCH, tests=r"\.check_random$",
                 config={"params": model.to_dict(), "seed": SEED, "steps": STEPS})
    assert not result.ok
    assert re.fullmatch(r"check_random: (after tick|step) \d+: .*", result.message), result.message


def test_bench_checks_configuration_fields(build_dir):
    """A model whose parameters call for other configuration fields than the RTL stores is reported."""
    built_with = LifParams.create(**CONFIGS["if_l1"])
    model = LifParams.create(**{**CONFIGS["if_l1"], "refractory": 2})
    built = build_core(built_with, sim="icarus", build_dir=build_dir)
    result = run(built, test_module=BENCH, tests=r"\.check_random$",
                 config={"params": model.to_dict(), "seed": SEED, "steps": 2})
    assert not result.ok
    assert result.message == ("check_random: configuration field REFRACTORY: absent in the RTL, 2 bits unsigned in "
                              "the model")


def test_verify(sim, build_dir):
    params = LifParams.create(**CONFIGS["cuba_shift_l2"])
    ok, message = verify(params, sim=sim, steps=8, seed=5, build_dir=build_dir)
    assert ok, message
    assert re.fullmatch(rf"{sim}: 8 steps from seed 5 matched the model: \d+ spikes and \d+ state values and "
                        r"counters", message)


def test_simulate_rtl_matches_model(sim, build_dir):
    params = LifParams.create(**CONFIGS["cuba_mult_l4"])
    rng = np.random.default_rng(7)
    weights = rng.integers(-8, 16, size=(params.axons, params.neurons))
    steps = 12
    events = [(int(t), int(a)) for t, a in zip(rng.integers(0, steps, 60), rng.integers(0, params.axons, 60))]
    events.append((3, 7))  # an out-of-range axon: counted and dropped by both
    spikes, state = simulate_rtl(params, weights=weights, events=events, steps=steps, sim=sim,
                                 build_dir=build_dir)
    model = LifModel(params, weights)
    v, u = [], []
    expected = []
    for t, axons in enumerate(events_by_step(events, steps)):
        expected += [(t, int(n)) for n in model.step(axons)]
        v.append(model.v.copy())
        u.append(model.u.copy())
    assert spikes == expected
    assert sorted(state) == ["u", "v"]
    np.testing.assert_array_equal(state["v"], np.array(v))
    np.testing.assert_array_equal(state["u"], np.array(u))


def test_simulate_rtl_rejects_unsendable_axon(tmp_path):
    params = LifParams.create(**CONFIGS["cuba_mult_l4"])
    weights = np.zeros((params.axons, params.neurons), dtype=int)
    with pytest.raises(ValueError, match=r"^Event axon 8 at timestep 0 does not fit the axon address of a core "
                                         r"of 7 axons \(0\.\.7\)$"):
        simulate_rtl(params, weights=weights, events=[(0, 8)], steps=2, build_dir=tmp_path)
