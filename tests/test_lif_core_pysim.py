"""Amaranth pysim checks of the LIF core against the golden model: quicker than cocotb for small cases and
for pieces such as the configuration port and the event pipeline's throughput."""

import numpy as np
import pytest

from spikeforge.hdl.lif_core.core import CfgField, LifCore
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.sim.lif_core.fields import NEURON_FIELDS
from spikeforge.sim.lif_core.model import LifModel
from spikeforge.sim.lif_core.pysim import run_script


def cfg_field(name):
    """The configuration field of the golden model's per-neuron field ``name``."""
    return CfgField[NEURON_FIELDS[name]]


def checked_state(params):
    """The state compared after every tick, as the parameters call for it: v always, u for the model cuba, the
    refractory counter with a refractory period."""
    names = ["v"]
    if params.model == "cuba":
        names.append("u")
    if params.refractory > 0:
        names.append("refractory")
    return names


def load_script(params, weights, per_neuron):
    script = [("write", CfgField.WEIGHT, a, n, int(weights[a, n]))
              for a in range(params.axons) for n in range(params.neurons) if weights[a, n]]
    for name, values in per_neuron.items():
        script += [("write", cfg_field(name), 0, n, int(value)) for n, value in enumerate(values)]
    return script


def run_case(params, weights, steps_events, *, per_neuron=None, register_reads=None, **kwargs):
    """Run the RTL and the model side by side; assert equality, naming the first mismatch in words.

    ``per_neuron``: ``{"threshold" or "bias": one value per neuron}``, written to both before the first step.
    ``register_reads``: the core's (:class:`LifCore`)."""
    per_neuron = per_neuron or {}
    core = LifCore(params, register_reads=register_reads)
    names = checked_state(params)
    fields = [cfg_field(name) for name in names]
    missing = [field.name for field in fields if field not in core.field_widths()]
    assert not missing, f"the core does not store {missing}, which its parameters call for"
    script = load_script(params, weights, per_neuron)
    marks = []
    for axons in steps_events:
        marks.append(len(script))
        script.append(("step", axons))
        script += [("read", f, 0, n) for f in fields for n in range(params.neurons)]
    results = run_script(core, script, **kwargs)

    model = LifModel(params, weights)
    for name, values in per_neuron.items():
        setattr(model, name, np.asarray(values, dtype=np.int64))
    total = 0
    for t, (axons, mark) in enumerate(zip(steps_events, marks)):
        want = list(model.step(axons))
        got, _ = results[mark]
        assert got == want, f"step {t}: the RTL spiked {got}, the model {want}"
        total += len(want)
        values = iter(results[mark + 1:])
        for name in names:
            expected = getattr(model, name)
            for n in range(params.neurons):
                value = next(values)
                assert value == expected[n], (f"after tick {t}: neuron {n} {name} = {value} in the RTL, "
                                              f"{expected[n]} in the model")
    return total


def random_case(params, *, steps, rate, seed):
    rng = np.random.default_rng(seed)
    lo, hi = params.weight_range
    weights = rng.integers(lo, hi + 1, size=(params.axons, params.neurons))
    steps_events = [[int(a) for a in rng.choice(params.axons, size=rng.binomial(params.axons, rate))]
                    for _ in range(steps)]
    return weights, steps_events


CONFIGS = {
    "lif-shift-p2": dict(neurons=8, axons=6, lanes=2, threshold=40),
    # Two groups: an event's read of a group meets the write of the event before (the read port is transparent).
    "lif-shift-p4-two-groups": dict(neurons=8, axons=6, lanes=4, threshold=40),
    "if-linear-p1-ge-subtract": dict(neurons=4, axons=3, lanes=1, model="if", compare="ge", reset="subtract",
                                     threshold=20, bias=-3, weight_bits=6, state_bits=8, saturate=False),
    "cuba-mult-p4-refractory": dict(neurons=8, axons=5, lanes=4, model="cuba", decay="mult", decay_u=1000,
                                    decay_v=300, refractory=2, threshold="per_neuron", bias="per_neuron",
                                    reset="none", state_bits=10),
    "cuba-shift-p2-current-bias": dict(neurons=8, axons=5, lanes=2, model="cuba", decay="shift", decay_u=2,
                                       decay_v=1, threshold="per_neuron", bias="per_neuron", bias_into="current",
                                       state_bits=12),
    "lif-linear-p8-wrap": dict(neurons=8, axons=4, lanes=8, decay="linear", decay_v=3, state_bits=7,
                               acc_bits=8, saturate=False, threshold=30, v_reset=-5),
    # Every neuron spikes every step: the spike FIFO fills faster than the emitter drains it.
    "all-spike-p4": dict(neurons=8, axons=2, lanes=4, threshold=-10, weight_bits=2),
    "loihi": dict(preset="loihi", neurons=8, axons=4, lanes=2, du=300, dv=100, vth=20, bias_mant=5,
                  bias_exp=2),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_core_matches_model(name):
    params = LifParams.create(**CONFIGS[name])
    weights, steps_events = random_case(params, steps=12, rate=0.4, seed=len(name))
    rng = np.random.default_rng(1)
    per_neuron = {}
    if params.per_neuron_threshold:
        per_neuron["threshold"] = rng.integers(-20, 100, params.neurons)
    if params.per_neuron_bias:
        per_neuron["bias"] = rng.integers(-10, 10, params.neurons)
    spikes = run_case(params, weights, steps_events, per_neuron=per_neuron, idle=0.3, backpressure=0.4, seed=3)
    assert spikes > 0, "the case should make neurons spike"


@pytest.mark.parametrize("name", ["lif-shift-p2", "lif-linear-p8-wrap", "lif-shift-p4-two-groups",
                                  "cuba-shift-p2-current-bias"])
def test_core_without_registered_reads_matches_model(name):
    """The core an iCE40 build gets (``register_reads`` False: the accumulators in a memory of their own, the
    sums registered before they are written back, the accumulated input added in the neuron pass's first
    stage), with several groups, with two (the read port transparent) and with one (forwarding), and with a
    current (the neuron pass as with registered reads)."""
    params = LifParams.create(**CONFIGS[name])
    weights, steps_events = random_case(params, steps=12, rate=0.4, seed=len(name))
    spikes = run_case(params, weights, steps_events, register_reads=False, idle=0.3, backpressure=0.4, seed=3)
    assert spikes > 0, "the case should make neurons spike"


def test_register_reads_is_checked():
    with pytest.raises(TypeError, match=r"^register_reads must be None, True or False, not 'yes'$"):
        LifCore(LifParams.create(neurons=8, axons=4), register_reads="yes")


def test_events_cost_groups_cycles_without_bubbles():
    """Back-to-back events cost G = N / P cycles each; a tick about G cycles plus the pipeline."""
    params = LifParams.create(neurons=16, axons=4, lanes=4, threshold=10000)
    core = LifCore(params)
    (_, few), (_, many) = run_script(core, [("step", [0] * 2), ("step", [0] * 22)])
    assert many - few == 20 * params.groups
    # Two events and a tick: 3 G cycles plus the fixed latency of the two pipelines.
    assert few - 3 * params.groups <= 8


@pytest.mark.parametrize("lanes, rate", [(1, 0.1), (4, 0.5), (8, 0.05)])
def test_cycle_estimate_of_the_sweeps_matches_the_rtl(lanes, rate):
    """spikeforge.sim.lif_core.workload.estimate_cycles, used by sweeps without an RTL run, against the RTL."""
    from spikeforge.sim.lif_core.workload import estimate_cycles
    params = LifParams.create(neurons=16, axons=20, lanes=lanes, threshold=30)
    weights, steps_events = random_case(params, steps=6, rate=rate, seed=lanes)
    core = LifCore(params)
    script = load_script(params, weights, {}) + [("step", axons) for axons in steps_events]
    results = run_script(core, script)[-len(steps_events):]
    measured = sum(cycles for _, cycles in results)
    estimate = estimate_cycles(params, [len(a) for a in steps_events], [len(s) for s, _ in results])
    assert abs(estimate - measured) <= 0.1 * measured, f"estimated {estimate} cycles, measured {measured}"


def test_loihi_current_wraps_like_lava():
    """Lava wraps u above 2**23 down by 2**24 (REFERENCES.md); drive u just under the top and add the largest
    input the 18-bit accumulator holds."""
    params = LifParams.create(preset="loihi", neurons=2, axons=1, lanes=2, du=410, dv=205, vth=12)
    core = LifCore(params)
    top = (1 << 23) - 100
    script = [("write", CfgField.U, 0, n, top) for n in range(2)]
    script += [("write", CfgField.ACC, 0, n, (1 << 17) - 1) for n in range(2)]
    script += [("step", []), ("read", CfgField.U, 0, 0)]
    u = run_script(core, script)[-1]
    # Written out from REFERENCES.md: decay, add a_in << 6, wrap once.
    decayed = (top * (4096 - 411)) >> 12
    total = decayed + (((1 << 17) - 1) << 6)
    expected = total - (1 << 24) if total > (1 << 23) else total
    assert u == expected
    model = LifModel(params)
    model.u[:] = top
    model.acc[:] = (1 << 17) - 1
    model.tick()
    assert model.u[0] == expected
