"""Demonstration 1: the STDP window of the learning engine, golden model and RTL on the same axes.

For each dt = t_post - t_pre from -20 to 20, one synapse sees one presynaptic spike and its neuron one forced
postsynaptic spike (from a strong teacher synapse); the weight change is measured on the golden model and on the
RTL (Amaranth's simulator running the generated core). Writes stdp_window.png and prints the table.

    python examples/stdp_window.py -o build/demos
"""

import argparse
from pathlib import Path

import numpy as np

from spikeforge.hdl.lif_core.core import CfgField, LifCore
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.hdl.stdp.params import StdpParams
from spikeforge.sim.lif_core.pysim import run_script
from spikeforge.sim.stdp.model import StdpModel

CORE = LifParams.create(neurons=2, axons=2, lanes=2, model="if", threshold=50, weight_bits=8)
STDP = StdpParams.create(CORE, trace_bits=8, impulse=127, tau_pre_shift=3, tau_post_shift=3, a_plus=16,
                         a_minus=17, lr_shift=5)
T_PRE, STEPS, W0 = 22, 46, 0
TEACHER = 100


def schedule(dt):
    """Axon 0 (the measured synapse) fires at T_PRE; axon 1 (the teacher) forces the spike at T_PRE + dt."""
    return [([0] if t == T_PRE else []) + ([1] if t == T_PRE + dt else []) for t in range(STEPS)]


def model_change(dt):
    model = StdpModel(CORE, STDP, np.array([[W0, 0], [TEACHER, 0]]))
    for events in schedule(dt):
        model.step(events)
    return int(model.weights[0, 0]) - W0


def rtl_change(dt):
    script = [("write", CfgField.WEIGHT, 0, 0, W0), ("write", CfgField.WEIGHT, 1, 0, TEACHER)]
    script += [("step", events) for events in schedule(dt)]
    script += [("read", CfgField.WEIGHT, 0, 0)]
    return run_script(LifCore(CORE, stdp=STDP), script)[-1] - W0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=Path("build/demos"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dts = list(range(-20, 21))
    model = [model_change(dt) for dt in dts]
    rtl = [rtl_change(dt) for dt in dts]
    print(" dt  model  RTL")
    for dt, m, r in zip(dts, model, rtl):
        print(f"{dt:3d}  {m:5d}  {r:4d}")
    agree = model == rtl
    print(f"RTL equals the golden model at all {len(dts)} points: {agree}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(dts, model, "o-", color="tab:blue", label="golden model (numpy)")
    ax.plot(dts, rtl, "x", color="tab:red", markersize=8, label="RTL (Amaranth simulation)")
    ax.set_xlabel("dt = t_post - t_pre (timesteps)")
    ax.set_ylabel("weight change (LSB)")
    ax.set_title(f"STDP window: impulse {STDP.impulse}, tau shift {STDP.tau_pre_shift}, "
                 f"A+ {STDP.a_plus}, A- {STDP.a_minus}, lr shift {STDP.lr_shift}")
    ax.legend()
    fig.tight_layout()
    path = args.out / "stdp_window.png"
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
