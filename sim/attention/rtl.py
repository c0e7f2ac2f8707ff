"""Running the attention unit's generated Verilog in Icarus or Verilator through cocotb, from the host.

:func:`build_unit` exports and builds one configuration; :func:`verify_rtl` runs the bench's randomized
comparison against the golden model; :func:`run_rtl` sends given rows and returns the output rows and cycles.
"""

from __future__ import annotations


import numpy as np

from spikeforge.hdl.attention.manifest import attention_manifest
from spikeforge.hdl.attention.params import AttentionParams
from spikeforge.hdl.attention.unit import AttentionUnit
from spikeforge.sim.attention.model import check_spikes
from spikeforge.sim.attention.rows import pack_rows, unpack_rows
from spikeforge.hdl.export import export
from spikeforge.sim.harness.runner import build, run, run_with_output


__all__ = ["BENCH", "TOPLEVEL", "build_unit", "per_call_cycles", "replay_calls", "run_rtl", "verify_rtl"]


BENCH = "spikeforge.sim.attention.bench"
TOPLEVEL = "attention"


def build_unit(params, *, sim, build_dir, waves=False):
    """Export an :class:`AttentionUnit` of ``params`` to ``build_dir`` and build it for ``sim``.

    Returns
    -------
    spikeforge.sim.harness.runner.Build

    Raises
    ------
    spikeforge.sim.harness.runner.BuildError
        If the simulator cannot build the Verilog.
    """
    if not isinstance(params, AttentionParams):
        raise TypeError(f"params must be an AttentionParams, not {params!r}")
    unit = AttentionUnit(params)
    verilog, manifest = export(unit, name=TOPLEVEL, build_dir=build_dir, description=attention_manifest(unit))
    return build(sim, sources=[verilog], manifest=manifest, build_dir=build_dir, waves=waves)


def verify_rtl(params, *, sim, build_dir, stimulus="random", seed=0, calls=2, density=(0.05, 0.5),
               idle=0.3, stall=0.3):
    """Compare the RTL with the golden model on ``calls`` random attention calls.

    ``stimulus`` names a generator of :data:`spikeforge.sim.attention.stimulus.STIMULI`; ``density`` is its
    range of row densities; ``idle`` and ``stall`` the probabilities of an idle input cycle and of a cycle of
    output backpressure.

    Returns
    -------
    spikeforge.sim.harness.runner.RunResult
        ``ok`` and, on a mismatch, the first difference in ``message``.
    """
    built = build_unit(params, sim=sim, build_dir=build_dir)
    config = {"params": params.to_dict(), "stimulus": stimulus, "seed": seed, "calls": calls,
              "density": list(density), "idle": idle, "stall": stall}
    return run(built, test_module=BENCH, tests=r"\.compare$", config=config, name=f"compare-{seed}")


def run_rtl(params, q, k, v, *, sim, build_dir, idle=0.0, stall=0.0, seed=0):
    """Send Q, K, V rows (binary arrays of shape (calls * timesteps, tokens, channels)) through the RTL.

    Returns
    -------
    o : numpy.ndarray
        uint8, the shape of ``q``.
    cycles : int
        From the first input row offered to the last output row taken.
    per_call : list of int
        The cycles of each call: from the previous call's last output row (the first row offered, for the
        first call) to its own last output row; they add up to ``cycles``.

    Raises
    ------
    ValueError
        If an array has the wrong shape or values.
    RuntimeError
        If the simulation fails.
    """
    q, k, v = (check_spikes(field, a, params, calls=True) for field, a in (("q", q), ("k", k), ("v", v)))
    if sim == "verilator" and not idle and not stall:
        from .batch import run_batch    # one run of the batch harness, the same rows and cycles

        return run_batch(params, q, k, v, build_dir=build_dir)
    built = build_unit(params, sim=sim, build_dir=build_dir)
    [run] = replay_calls(built, params, [(q, k, v)], idle=idle, stall=stall, seed=seed)
    return run


def replay_calls(built, params, runs, *, idle=0.0, stall=0.0, seed=0):
    """:func:`run_rtl` for each ``(q, k, v)`` of ``runs``, one after the other in one simulation of a unit
    built by :func:`build_unit`; returns a list of ``(o, cycles, per_call)``."""
    packed = []
    for q, k, v in runs:
        arrays = [check_spikes(field, a, params, calls=True) for field, a in (("q", q), ("k", k), ("v", v))]
        packed.append({field: pack_rows(a) for field, a in zip("qkv", arrays)})
    config = {"params": params.to_dict(), "seed": seed, "idle": idle, "stall": stall, "runs": packed}
    result, replay = run_with_output(built, test_module=BENCH, tests=r"\.replay$", config=config, name="replay")
    if not result.ok:
        raise RuntimeError(f"The RTL simulation in {built.sim} failed: {result.message}")
    return [(unpack_rows(run["o"], params.channels).reshape((-1, params.tokens, params.channels)).astype(np.uint8),
             int(run["cycles"]), per_call_cycles(run["call_ends"])) for run in replay["runs"]]


def per_call_cycles(call_ends):
    """Each call's cycles, from the cycles (since the first row offered) at which each call's last row left."""
    return np.diff(np.asarray(call_ends, dtype=np.int64), prepend=0).tolist()
