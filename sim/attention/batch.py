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


__all__ = ["run_batch"]


TOPLEVEL = "attention"


def run_batch(params, q, k, v, *, build_dir):
    """Send Q, K, V rows (checked binary arrays of shape (calls * timesteps, tokens, channels)).

    Returns
    -------
    o : numpy.ndarray
        uint8, the shape of ``q``.
    cycles : int
        From the first input row offered to the last output row taken, as the cocotb replay counts them.
    """
    unit = AttentionUnit(params)
    verilog, manifest = export(unit, name=TOPLEVEL, build_dir=build_dir, description=attention_manifest(unit))
    with BatchModel(compile_model(verilog, manifest, build_dir=build_dir)) as model:
        stimulus = Stimulus(model)
        rows = list(zip(pack_rows(q), pack_rows(k), pack_rows(v)))
        stimulus.send("qkv", {"q": np.array([r[0] for r in rows], dtype=np.uint64),
                              "k": np.array([r[1] for r in rows], dtype=np.uint64),
                              "v": np.array([r[2] for r in rows], dtype=np.uint64)}
                      if params.channels <= 64 else [{"q": a, "k": b, "v": c} for a, b, c in rows])
        result = model.run(stimulus, finish={"o": len(rows)})
    out = result.beats("o")
    o = unpack_rows(as_ints(out.words), params.channels).reshape(q.shape)
    cycles = int(out.cycles[-1] - result.beats("qkv").offered[0] + 1) if len(out) else 0
    return o.astype(np.uint8), cycles
