"""The spike-driven self-attention unit (``[attention]``).

Generator :mod:`spikeforge.hdl.attention.unit`, golden model :mod:`spikeforge.sim.attention.model` (and the float
reference :mod:`spikeforge.sim.attention.reference`), bench :mod:`spikeforge.sim.attention.bench`, board top-level
:class:`spikeforge.boards.attention_top.AttentionBoardTop`; docs/attention.md.
"""

from __future__ import annotations

import click
import numpy as np

from spikeforge.hdl.attention.params import AttentionParams

from ..data_files import write_cycles
from ..errors import InputError, ToolError
from .description import (BACKEND_NAMES, Block, MismatchError, Simulation, SweepWorkload, Verdict, check_workload,
                          fmax_hz, lazy, of_table)


__all__ = ["BLOCK"]


TOPLEVEL = "attention"
VERIFY_CALLS = 2
RTL_BACKENDS = ("icarus", "verilator")


def _design(params):
    p = params
    return f"{p.variant} N={p.tokens} D={p.channels} H={p.heads} T={p.timesteps} L={p.lanes}"


def _simulate(config, request, stage, build_dir):
    from spikeforge.sim.attention.simulate import read_qkv, simulate

    params = config.blocks["attention"]
    try:
        q, k, v = read_qkv(request.input, params)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"spikeforge: computing attention on {BACKEND_NAMES[request.backend]}", err=True)
    try:
        o, per_call = simulate(params, q, k, v, request.backend, build_dir=build_dir)
    except RuntimeError as exc:
        raise ToolError(str(exc)) from None
    np.savez(stage / "out.npz", o=o)
    written = ["out.npz"]
    if per_call is not None:
        write_cycles(stage / "cycles.json", sum(per_call), per_call=per_call)
        written.append("cycles.json")
    paths = " and ".join(str(request.out_dir / name) for name in written)
    return f"{int(o.sum())} output spikes of shape {o.shape}; wrote {paths}"


def _verify(config, *, sim, steps, seed, build_dir, echo):
    from spikeforge.sim.attention.rtl import verify_rtl

    echo(f"verifying {VERIFY_CALLS} random calls (seed {seed}) in {sim} against the golden model")
    result = verify_rtl(config.blocks["attention"], sim=sim, build_dir=build_dir, seed=seed, calls=VERIFY_CALLS)
    if not result.ok:
        return Verdict(False, result.message)
    return Verdict(True, f"{sim}: {VERIFY_CALLS} random calls from seed {seed} matched the model")


def _check_workload(workload):
    # The cycles of an attention call are measured on the RTL: no "none".
    check_workload(workload, counts={"calls": (1, 1000)}, fractions=("activity",), rtl=RTL_BACKENDS)


def _measure(config, workload, build_dir, reports):
    """Cycles per call of random Q, K, V at the workload's activity, measured on the RTL and checked against
    the golden model."""
    from spikeforge.sim.attention.model import run_model
    from spikeforge.sim.attention.rtl import run_rtl
    from spikeforge.sim.attention.stimulus import random_qkv

    params = config.blocks["attention"]
    rng = np.random.default_rng(workload["seed"])
    density = (workload["activity"], workload["activity"])
    q, k, v = random_qkv(params, rng, calls=workload["calls"], density=density)
    o, cycles, _ = run_rtl(params, q, k, v, sim=workload["rtl"], build_dir=build_dir / f"rtl-{workload['rtl']}")
    if not np.array_equal(o, run_model(params, q, k, v)):
        raise MismatchError("RTL output differs from the golden model")
    row = {"cycles_source": workload["rtl"], "calls": workload["calls"],
           "cycles_per_call": cycles / workload["calls"]}
    if hz := fmax_hz(reports):
        row["calls_per_s"] = hz / row["cycles_per_call"]
    return row


BLOCK = Block(
    name="attention",
    params=AttentionParams,
    summary="a spike-driven self-attention unit",
    toplevel=lambda config: TOPLEVEL,
    component=of_table("attention", lazy("spikeforge.hdl.attention.unit", "AttentionUnit")),
    describe=lazy("spikeforge.hdl.attention.manifest", "attention_manifest"),
    design=of_table("attention", _design),
    board_top=of_table("attention", lazy("spikeforge.boards.attention_top", "AttentionBoardTop")),
    simulation=Simulation(
        input="an .npz file of q, k and v",
        outputs="DIR/out.npz (o)",
        options=(),
        run=_simulate,
    ),
    verify=_verify,
    verify_steps=None,
    sweep=SweepWorkload(
        defaults={"calls": 2, "activity": 0.2, "seed": 1, "rtl": "verilator"},
        check=_check_workload,
        measure=_measure,
        objectives={"logic_cells": "minimize", "cycles_per_call": "minimize"},
        metrics=("cycles_per_call", "calls_per_s", "calls"),
    ),
)
