"""The attention unit's calls on the batch harness, in one Verilator run (:mod:`spikeforge.sim.harness.batch`).

What the cocotb replay (:func:`spikeforge.sim.attention.bench.replay`) does without idle cycles or
backpressure: every Q, K, V row offered back to back on ``qkv``, every output row taken from ``o``.
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.attention.manifest import attention_manifest
from spikeforge.hdl.attention.unit import AttentionUnit
from spikeforge.hdl.export import export
from spikeforge.sim.harness.batch import BatchModel, Stimulus
from spikeforge.sim.harness.batch_build import compile_model
from spikeforge.sim.harness.batch_words import as_ints

from .rows import pack_rows, unpack_rows
from .rtl import per_call_cycles


__all__ = ["compile_unit", "replay", "run_batch"]


TOPLEVEL = "attention"
PATIENCE = 10_000_000


def compile_unit(params, *, build_dir):
    """Export the :class:`AttentionUnit` of ``params`` to ``build_dir`` and compile it into the batch harness
    (cached)."""
    unit = AttentionUnit(params)
    verilog, manifest = export(unit, name=TOPLEVEL, build_dir=build_dir, description=attention_manifest(unit))
    return BatchModel(compile_model(verilog, manifest, build_dir=build_dir))


def replay(model, params, q, k, v):
    """Send Q, K, V rows (checked binary arrays of shape (calls * timesteps, tokens, channels)) on ``model``.

    Returns
    -------
    o : numpy.ndarray
        uint8, the shape of ``q``.
    cycles : int
        From the first input row offered to the last output row taken, as the cocotb replay counts them.
    total : int
        Every cycle of the run.
    per_call : list of int
        Each call's cycles, as :func:`~spikeforge.sim.attention.rtl.run_rtl` gives them.
    """
    stimulus = Stimulus(model)
    rows = list(zip(pack_rows(q), pack_rows(k), pack_rows(v)))
    if params.channels <= 64:
        columns = {name: np.array([row[i] for row in rows], dtype=np.uint64) for i, name in enumerate("qkv")}
        stimulus.send("qkv", columns)
    else:
        stimulus.send("qkv", [{"q": a, "k": b, "v": c} for a, b, c in rows])
    # A call's first output row needs all its input rows: a dense call of a large unit moves nothing for tens of
    # thousands of cycles.
    result = model.run(stimulus, finish={"o": len(rows)}, patience=PATIENCE)
    out = result.beats("o")
    o = unpack_rows(as_ints(out.words), params.channels).reshape(q.shape)
    first = int(result.beats("qkv").offered[0]) if len(out) else 0
    ends = out.cycles[params.timesteps * params.tokens - 1::params.timesteps * params.tokens].astype(np.int64)
    cycles = int(out.cycles[-1]) - first + 1 if len(out) else 0
    return o.astype(np.uint8), cycles, result.cycles, per_call_cycles(ends - first + 1)


def run_batch(params, q, k, v, *, build_dir):
    """:func:`replay` on a unit compiled for it: (o, cycles, per_call)."""
    with compile_unit(params, build_dir=build_dir) as model:
        o, cycles, _, per_call = replay(model, params, q, k, v)
    return o, cycles, per_call
