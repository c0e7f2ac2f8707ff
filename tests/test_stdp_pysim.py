"""Amaranth pysim checks of the STDP learning engine against its golden model: weights, traces and
eligibilities after every tick, spikes of every step."""

import numpy as np
import pytest

from spikeforge.hdl.lif_core.core import CfgField, LifCore
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.lif_core.pysim import run_script
from spikeforge.sim.stdp.model import StdpModel


CORE = dict(neurons=8, axons=5, lanes=2, model="lif", threshold=30, weight_bits=8)
CONFIGS = {
    "all-to-all": (CORE, dict(impulse=60, a_plus=20, a_minus=24, lr_shift=4)),
    "nearest-stochastic-p4": (dict(CORE, lanes=4), dict(impulse=40, accumulate="nearest", a_plus=7,
                                                        a_minus=9, lr_shift=5, stochastic=True, seed=77)),
    "reward-stochastic": (dict(CORE, axons=3), dict(impulse=50, a_plus=30, a_minus=30, lr_shift=3, reward=True,
                                                   stochastic=True, eligibility_bits=10, eligibility_shift=2,
                                                   w_min=-20, w_max=90)),
    "p1-clipped": (dict(CORE, lanes=1, neurons=4), dict(impulse=200, a_plus=400, a_minus=300, lr_shift=6,
                                                        w_min=-10, w_max=60)),
    # One group (G = 1): a repeated axon reads the word its last event is still writing back.
    "one-group": (dict(CORE, neurons=4, lanes=4, axons=2), dict(impulse=90, a_plus=25, a_minus=40, lr_shift=3)),
    "one-group-reward": (dict(CORE, neurons=2, lanes=2, axons=2), dict(impulse=90, a_plus=25, a_minus=40,
                                                                     lr_shift=3, reward=True)),
    # Two and three groups: a repeated axon reads the word its last event writes back a cycle later (two), or in
    # the same cycle (three, through the transparent read port), with the registered reads.
    "two-groups-reward": (dict(CORE, lanes=4), dict(impulse=70, a_plus=20, a_minus=30, lr_shift=3, reward=True)),
    "three-groups": (dict(CORE, neurons=6, axons=2), dict(impulse=70, a_plus=20, a_minus=30, lr_shift=3,
                                                          stochastic=True)),
    # A single weight port (reads wait for write-backs): plain, and reward-modulated in one group.
    "single-port": (CORE, dict(impulse=60, a_plus=20, a_minus=24, lr_shift=4, stochastic=True,
                               weight_port="single")),
    "single-port-one-group-reward": (dict(CORE, neurons=2, lanes=2, axons=3),
                                     dict(impulse=90, a_plus=25, a_minus=40, lr_shift=3, reward=True,
                                          stochastic=True, weight_port="single")),
}


def observe(core, params, stdp):
    """Script reads of everything learning changes."""
    reads = [("read", CfgField.WEIGHT, a, n) for a in range(params.axons) for n in range(params.neurons)]
    reads += [("read", CfgField.X_TRACE, a, 0) for a in range(params.axons)]
    reads += [("read", CfgField.Y_TRACE, 0, n) for n in range(params.neurons)]
    if stdp.reward:
        reads += [("read", CfgField.ELIGIBILITY, a, n) for a in range(params.axons) for n in range(params.neurons)]
    return reads


def expected(model):
    values = list(model.weights.ravel()) + list(model.x) + list(model.y)
    if model.stdp.reward:
        values += list(model.eligibility.ravel())
    return values


def names(params, stdp):
    out = [f"W[{a}, {n}]" for a in range(params.axons) for n in range(params.neurons)]
    out += [f"x[{a}]" for a in range(params.axons)] + [f"y[{n}]" for n in range(params.neurons)]
    if stdp.reward:
        out += [f"E[{a}, {n}]" for a in range(params.axons) for n in range(params.neurons)]
    return out


@pytest.mark.parametrize("name", CONFIGS)
def test_learning_matches_model(name):
    check_learning(name)


@pytest.mark.parametrize("name", ["all-to-all", "one-group", "one-group-reward", "two-groups-reward",
                                  "three-groups", "single-port", "single-port-one-group-reward"])
def test_learning_without_registered_reads_matches_model(name):
    """The core an iCE40 build gets (``register_reads`` False: the integrate pass adds the words as they are
    read, and a weight is written back two cycles after its read)."""
    check_learning(name, register_reads=False)


def check_learning(name, *, register_reads=None):
    """Configuration ``name`` against the model: every spike, and every weight, trace and eligibility after every
    tick."""
    core_kw, stdp_kw = CONFIGS[name]
    params = LifParams.create(**core_kw)
    stdp = StdpParams.create(params, **stdp_kw)
    rng = np.random.default_rng(len(name))
    weights = rng.integers(-5, 40, size=(params.axons, params.neurons))
    core = LifCore(params, stdp=stdp, register_reads=register_reads)
    model = StdpModel(params, stdp, weights)

    script = [("write", CfgField.WEIGHT, a, n, int(weights[a, n]))
              for a in range(params.axons) for n in range(params.neurons)]
    plan = []
    for t in range(14):
        ops = []
        if t == 4:
            ops.append(("write", CfgField.PLASTIC, 0, 1, 0))       # neuron 1 stops learning
        if t == 8:
            ops.append(("write", CfgField.LEARNING, 0, 0, 0))      # learning off for everyone
        if t == 10:
            ops.append(("write", CfgField.LEARNING, 0, 0, 1))
        if stdp.reward and t % 3 == 2:
            ops.append(("reward", int(rng.integers(-8, 9))))
        axons = [int(a) for a in rng.choice(params.axons, size=rng.binomial(params.axons * 2, 0.35))]
        ops.append(("step", axons))
        plan.append(ops)
    marks = []
    for ops in plan:
        script += ops
        marks.append(len(script) - 1)
        script += observe(core, params, stdp)
    results = run_script(core, script, idle=0.2, backpressure=0.3, seed=5)

    labels = names(params, stdp)
    learned = 0
    for t, (ops, mark) in enumerate(zip(plan, marks)):
        for op in ops:
            if op[0] == "write" and op[1] == CfgField.PLASTIC:
                model.plastic[op[3]] = bool(op[4])
            elif op[0] == "write" and op[1] == CfgField.LEARNING:
                model.learning = bool(op[4])
            elif op[0] == "reward":
                model.reward(op[1])
            elif op[0] == "step":
                want = list(model.step(op[1]))
        got, _ = results[mark]
        assert got == want, f"step {t}: the RTL spiked {got}, the model {want}"
        observed = results[mark + 1:mark + 1 + len(labels)]
        for label, value, exp in zip(labels, observed, expected(model)):
            assert value == exp, f"after tick {t}: {label} = {value} in the RTL, {exp} in the model"
        learned = max(learned, int(np.abs(model.weights - weights).sum()))
    assert learned > 0, "the case should change some weights"


@pytest.mark.parametrize("port", ["dual", "single"])
@pytest.mark.parametrize("neurons, axons, lanes, rate, reward", [(16, 20, 2, 0.5, False), (16, 12, 4, 0.2, True),
                                                                 (4, 10, 4, 0.5, False)])
def test_cycle_estimate_of_the_sweeps_matches_the_rtl(neurons, axons, lanes, rate, reward, port):
    """spikeforge.sim.lif_core.workload.estimate_cycles with learning, used by sweeps, against the RTL."""
    from spikeforge.sim.lif_core.workload import estimate_cycles
    params = LifParams.create(neurons=neurons, axons=axons, lanes=lanes, threshold=30)
    stdp = StdpParams.create(params, reward=reward, weight_port=port)
    rng = np.random.default_rng(3)
    weights = rng.integers(-10, 60, size=(axons, neurons))
    steps = [[int(a) for a in rng.choice(axons, size=rng.binomial(axons, rate))] for _ in range(6)]
    script = [("write", CfgField.WEIGHT, a, n, int(weights[a, n])) for a in range(axons) for n in range(neurons)]
    results = run_script(LifCore(params, stdp=stdp), script + [("step", s) for s in steps])[-len(steps):]
    measured = sum(cycles for _, cycles in results)
    estimate = estimate_cycles(params, [len(s) for s in steps], [len(spikes) for spikes, _ in results], stdp=stdp,
                               learning_groups_per_step=[len({n // lanes for n in spikes}) for spikes, _ in results])
    assert any(spikes for spikes, _ in results), "the case should have potentiation passes"
    assert abs(estimate - measured) <= 0.1 * measured, f"estimated {estimate} cycles, measured {measured}"


@pytest.mark.parametrize("register_reads", [None, False])
@pytest.mark.parametrize("groups, reward, port", [(1, False, "dual"), (2, False, "dual"), (3, False, "dual"),
                                                  (3, True, "dual"), (2, False, "single"), (1, True, "single")])
def test_repeated_axon_reads_the_word_being_written_back(groups, reward, port, register_reads):
    """Back-to-back events of one axon read each weight (or eligibility) word before, or in the cycle of, the
    write-back of its last depression: the forwarding (G <= 2 with registered reads) and the transparent read port
    (G = 3 with registered reads, G <= 2 without) give the word written. No weight clips and no neuron fires, so
    every depression shows in the result."""
    params = LifParams.create(neurons=2 * groups, axons=2, lanes=2, threshold=1000, weight_bits=8)
    stdp = StdpParams.create(params, impulse=200, a_minus=1, lr_shift=4, reward=reward, weight_port=port)
    neurons = range(params.neurons)
    model = StdpModel(params, stdp, np.full((2, params.neurons), 30))
    model.y[:] = 200
    events = [0, 0, 0, 1, 1, 0, 1, 0, 0]
    script = [("write", CfgField.WEIGHT, a, n, 30) for a in range(2) for n in neurons]
    script += [("write", CfgField.Y_TRACE, 0, n, 200) for n in neurons] + [("step", events)]
    reads = [("read", CfgField.WEIGHT, a, n) for a in range(2) for n in neurons]
    if reward:
        reads += [("read", CfgField.ELIGIBILITY, a, n) for a in range(2) for n in neurons]
    results = run_script(LifCore(params, stdp=stdp, register_reads=register_reads), script + reads)
    model.step(events)
    expected_values = list(model.weights.ravel()) + (list(model.eligibility.ravel()) if reward else [])
    assert results[-len(reads):] == expected_values
