"""Demonstrations 2 and 3: a neuron learns a repeated input pattern hidden in Poisson noise.

Fifty axons fire at random (Poisson, 6% per step); every 8 to 16 steps the same ten of them fire together.
The neuron starts with random weights and answers pattern and noise alike. With STDP (``--rule stdp``) the
pattern's weights grow and the others shrink; with reward-modulated STDP (``--rule reward``) the STDP terms
collect in eligibility traces and a reward of +1 after a spike in a pattern step, -1 after a spike anywhere
else, turns them into weight changes. Selectivity is measured with learning switched off, before and after:
the fraction of pattern presentations the neuron answers (hits) against the fraction of noise-only steps it
spikes in (false alarms). Runs on the golden model, which the RTL equals bit for bit (tests/test_stdp_*.py).
Writes stdp_<rule>.png and prints the figures.

    python examples/stdp_pattern.py --rule stdp -o build/demos
    python examples/stdp_pattern.py --rule reward -o build/demos
"""

import argparse
from pathlib import Path

import numpy as np

from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.stdp.model import StdpModel

AXONS, PATTERN, NOISE_RATE = 50, 10, 0.06
CORE = LifParams.create(neurons=2, axons=AXONS, lanes=2, model="lif", decay="shift", decay_v=1,
                        threshold=550, weight_bits=8, state_bits=16, refractory=1)
RULES = {
    "stdp": StdpParams.create(CORE, trace_bits=8, impulse=100, tau_pre_shift=2, tau_post_shift=2, a_plus=10,
                              a_minus=18, lr_shift=6, w_min=0, w_max=127, stochastic=True, seed=7),
    "reward": StdpParams.create(CORE, trace_bits=8, impulse=100, tau_pre_shift=2, tau_post_shift=2, a_plus=10,
                                a_minus=18, lr_shift=5, w_min=0, w_max=127, stochastic=True, seed=7,
                                reward=True, eligibility_bits=12, eligibility_shift=2, reward_bits=4),
}


def make_input(rng, steps):
    """Per step: the firing axons, and whether the pattern was shown."""
    shown = np.zeros(steps, dtype=bool)
    t = int(rng.integers(4, 12))
    while t < steps:
        shown[t] = True
        t += int(rng.integers(8, 17))
    events = []
    for step in range(steps):
        fired = set(np.flatnonzero(rng.random(AXONS) < NOISE_RATE).tolist())
        if shown[step]:
            fired |= set(range(PATTERN))
        events.append(sorted(fired))
    return events, shown


def selectivity(model, rng, steps=1500):
    """Hit and false-alarm rates of neuron 0 with learning off; the model's state is restored afterwards."""
    saved = {k: getattr(model, k).copy() for k in ("v", "u", "acc", "refractory", "x", "y", "eligibility")}
    learning = model.learning
    model.learning = False
    events, shown = make_input(rng, steps)
    spiked = np.array([0 in model.step(e) for e in events])
    model.learning = learning
    for k, v in saved.items():
        setattr(model, k, v)
    return spiked[shown].mean(), spiked[~shown].mean()


def train(rule, steps, seed):
    rng = np.random.default_rng(seed)
    weights = np.zeros((AXONS, 2), dtype=np.int64)
    weights[:, 0] = rng.integers(20, 45, AXONS)
    model = StdpModel(CORE, RULES[rule], weights)
    model.plastic[1] = False
    before = selectivity(model, np.random.default_rng(seed + 1))
    events, shown = make_input(rng, steps)
    history = [model.weights[:, 0].copy()]
    for t, fired in enumerate(events):
        spikes = model.step(fired)
        if rule == "reward" and 0 in spikes:
            model.reward(1 if shown[t] else -1)
        if t % 50 == 49:
            history.append(model.weights[:, 0].copy())
    after = selectivity(model, np.random.default_rng(seed + 1))
    return model, np.array(history), before, after


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", choices=sorted(RULES), default="stdp")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--out", type=Path, default=Path("build/demos"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model, history, before, after = train(args.rule, args.steps, args.seed)
    w = model.weights[:, 0]
    print(f"rule: {args.rule}, {args.steps} training steps")
    print(f"mean weight, pattern axons: {history[0][:PATTERN].mean():6.1f} -> {w[:PATTERN].mean():6.1f}")
    print(f"mean weight, other axons:   {history[0][PATTERN:].mean():6.1f} -> {w[PATTERN:].mean():6.1f}")
    print(f"hits (pattern answered):    {before[0]:6.1%} -> {after[0]:6.1%}")
    print(f"false alarms (noise steps): {before[1]:6.1%} -> {after[1]:6.1%}")
    print(f"selectivity (hits - false alarms): {before[0] - before[1]:+.2f} -> {after[0] - after[1]:+.2f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(history)) * 50
    left.plot(x, history[:, :PATTERN], color="tab:red", lw=0.8)
    left.plot(x, history[:, PATTERN:], color="0.6", lw=0.5)
    left.set_xlabel("training step")
    left.set_ylabel("weight")
    left.set_title("pattern axons (red) and the others (grey)")
    right.bar(["hits\nbefore", "hits\nafter", "false alarms\nbefore", "false alarms\nafter"],
              [before[0], after[0], before[1], after[1]], color=["tab:red", "tab:red", "0.6", "0.6"])
    right.set_ylabel("fraction of steps with a spike")
    right.set_title(f"selectivity {before[0] - before[1]:+.2f} -> {after[0] - after[1]:+.2f}")
    fig.suptitle(f"{'STDP' if args.rule == 'stdp' else 'reward-modulated STDP'}: a pattern hidden in noise")
    fig.tight_layout()
    path = args.out / f"stdp_{args.rule}.png"
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
