"""The calibration run of ``spikeforge compile --calibrate IN.npz``: the float network (the NIR reference) and the
compiled chip (its golden model) on the same inputs, layer by layer, and the warnings for a layer that went
silent or saturated in integers."""

from __future__ import annotations

import dataclasses

import numpy as np

from spikeforge.sim.chip.model import run_chip
from spikeforge.sim.files import read_spikes
from spikeforge.sim.nir.reference import run


__all__ = ["Calibration", "calibrate", "read_calibration"]


#: A layer whose neurons spike in more than this fraction of the steps is saturated.
SATURATED = 0.9


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Spikes per neuron per step of every layer, float and compiled (population name -> rate), and the fraction
    of output (sample, step, neuron) spikes where the two agree."""

    float_rates: dict
    compiled_rates: dict
    output_agreement: float

    def rows(self):
        return [{"layer": name, "float": rate, "compiled": self.compiled_rates[name]}
                for name, rate in self.float_rates.items()]

    @property
    def warnings(self):
        out = []
        for name, rate in self.float_rates.items():
            fixed = self.compiled_rates[name]
            if fixed == 0 and rate > 0:
                out.append(f"layer '{name}' is silent after quantization (float: {rate:.3f} spikes per neuron "
                           f"per step)")
            elif fixed > SATURATED >= rate:
                out.append(f"layer '{name}' saturates after quantization ({fixed:.3f} spikes per neuron per step, "
                           f"float: {rate:.3f})")
        return tuple(out)


def read_calibration(path, network):
    """The calibration inputs, (batch, steps, inputs) uint8; ValueError naming the file when they do not fit."""
    spikes = read_spikes(path, network.inputs)
    return spikes if spikes.ndim == 3 else spikes[None]


def calibrate(compiled, spikes):
    """The :class:`Calibration` of ``compiled`` on ``spikes`` (batch, steps, inputs)."""
    placement = compiled.placement
    reference = run(compiled.network, spikes)
    counts = {pop.name: 0 for pop in compiled.network.populations}

    def count(_sample, _step, chip):
        for piece in placement.slices:
            counts[piece.population] += len(chip.spikes[piece.name])

    outputs = run_chip(placement.chip, spikes, placement.arrays, on_step=count)
    steps = spikes.shape[0] * spikes.shape[1]
    float_rates = {pop.name: float(reference.populations[pop.name].mean()) for pop in compiled.network.populations}
    compiled_rates = {pop.name: counts[pop.name] / (steps * pop.size) for pop in compiled.network.populations}
    agreement = float((outputs == reference.spikes).mean())
    return Calibration(float_rates=float_rates, compiled_rates=compiled_rates, output_agreement=agreement)
