"""Randomized check of one LIF core configuration's RTL against the golden model (the ``verify`` command)."""

from __future__ import annotations

from spikeforge.sim.harness.runner import run_with_output
from spikeforge.sim.lif_core.rtl import BENCH, build_core


__all__ = ["verify"]


def verify(params, *, sim="icarus", steps=30, seed=0, build_dir):
    """Build the core of ``params`` for ``sim`` and run the bench's randomized comparison
    (``check_random``: random weights, events, idle cycles, backpressure and configuration commands) for
    ``steps`` timesteps from ``seed``.

    Returns
    -------
    ok : bool
        Whether the RTL matched the model at every spike and after every tick.
    message : str
        What was compared, or the first mismatch ("step 3: neuron 17 spiked in the model but not in the RTL").

    Raises
    ------
    spikeforge.sim.harness.runner.BuildError
        If the simulator cannot build the design.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"Steps must be a positive integer, not {steps!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"Seed must be an integer, not {seed!r}")
    built = build_core(params, sim=sim, build_dir=build_dir)
    config = {"params": params.to_dict(), "seed": seed, "steps": steps}
    result, report = run_with_output(built, test_module=BENCH, tests=r"\.check_random$", config=config,
                                     name="verify", key="report")
    if not result.ok:
        return False, result.message.removeprefix("check_random: ")
    summary = report["random"]
    return True, (f"{sim}: {summary['steps']} steps from seed {seed} matched the model: {summary['spikes']} "
                  f"spikes and {summary['values']} state values and counters")
