"""A chip's replay on the batch harness, in one Verilator run (:mod:`spikeforge.sim.harness.batch`).

The same sequence as the cocotb replay (:func:`spikeforge.sim.chip.bench.replay`), queued as a
:class:`~spikeforge.sim.harness.batch.Sequence`: for every sample, the commands that return the cores to rest
and load the network, then per step its input spikes and the ``step`` beat (complete at ``done``). So the
outputs and the cycles of every step are the cocotb replay's.
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.chip.chip import Chip
from spikeforge.hdl.chip.manifest import chip_manifest
from spikeforge.hdl.export import export
from spikeforge.sim.harness.batch import BatchModel, Sequence, Stimulus
from spikeforge.sim.harness.batch_build import compile_model
from spikeforge.sim.harness.batch_words import pack
from spikeforge.sim.harness.layout import flat_fields

from .load import load_commands, rest_commands


__all__ = ["compile_chip", "replay"]


TOPLEVEL = "chip"


def compile_chip(params, *, build_dir):
    """Export the :class:`Chip` of ``params`` to ``build_dir`` and compile it into the batch harness (cached)."""
    chip = Chip(params)
    verilog, manifest = export(chip, name=TOPLEVEL, build_dir=build_dir, description=chip_manifest(chip))
    return BatchModel(compile_model(verilog, manifest, build_dir=build_dir))


def _patience(params):
    """Cycles a step may go without any beat moving: every core's neuron pass, every spike through the mesh and
    every input, generously (the bound of the cocotb driver, :class:`spikeforge.sim.chip.bench.ChipDriver`)."""
    return 200 * (sum(c.params.neurons + c.params.axons for c in params.cores) + params.inputs) + 2000


def replay(model, params, inputs, weights):
    """Run ``inputs`` (samples of steps of input indices) on ``model``, every sample on a freshly loaded chip.

    Returns
    -------
    outputs : list of list of list of int
        Per sample, per step, the output indices in arrival order.
    cycles : numpy.ndarray
        (samples, steps): each step's cycles, from its first beat offered to ``done``.
    total : int
        Every cycle of the run, the loading included.
    """
    layout = model.compiled.manifest.stream_layout("cfg")
    load = pack(layout, [flat_fields(command) for command in rest_commands(params) + load_commands(params, weights)])
    stimulus = Stimulus(model, watch=("done",))
    sequence = Sequence(stimulus)
    first_beats = []
    for sample in inputs:
        sequence.then("cfg", load)
        for step in sample:
            spikes = sequence.then("inputs", {"neuron": np.asarray(step, dtype=np.int64)})
            beat = sequence.then("step", [0], until=("done", 1))
            first_beats.append(("inputs", spikes.start) if len(spikes) else ("step", beat.start))
    result = model.run(stimulus, finish={"done": len(first_beats)}, patience=_patience(params))
    step_of = np.searchsorted(result.beats("step").cycles, result.beats("outputs").cycles, side="right") - 1
    per_step = [[] for _ in first_beats]
    for index, neuron in zip(step_of, result.values("outputs", "neuron")):
        per_step[index].append(int(neuron))
    done = result.beats("done").cycles
    cycles = np.array([done[i] - result.beats(stream).offered[beat] + 1 for i, (stream, beat) in
                       enumerate(first_beats)], dtype=np.int64)
    steps = len(inputs[0]) if inputs else 0
    outputs = [per_step[b * steps:(b + 1) * steps] for b in range(len(inputs))]
    return outputs, cycles.reshape(len(inputs), steps), result.cycles
