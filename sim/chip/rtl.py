"""Running a chip's generated Verilog in Icarus or Verilator, from the host.

:func:`build_chip` exports and builds one chip for cocotb; :func:`verify` runs the bench's comparison with the
golden model on random inputs; :func:`simulate_rtl` runs given input spikes and returns the output spikes as the
golden model's :func:`~spikeforge.sim.chip.model.run_chip` does, and the cycles of every step: through the
cocotb replay in Icarus, on the batch harness in Verilator (:mod:`spikeforge.sim.chip.batch`, the same outputs
and cycles).
"""

from __future__ import annotations

import numpy as np

from spikeforge.hdl.chip.chip import Chip
from spikeforge.hdl.chip.manifest import chip_manifest
from spikeforge.hdl.chip.params import ChipParams
from spikeforge.hdl.export import export
from spikeforge.sim.harness.runner import build, run_with_output


__all__ = ["BENCH", "TOPLEVEL", "build_chip", "simulate_rtl", "verify"]


BENCH = "spikeforge.sim.chip.bench"
TOPLEVEL = "chip"


def build_chip(params, *, sim, build_dir, waves=False):
    """Export the :class:`Chip` of ``params`` to ``build_dir`` and build it for ``sim``."""
    if not isinstance(params, ChipParams):
        raise TypeError(f"params must be a ChipParams, not {params!r}")
    chip = Chip(params)
    verilog, manifest = export(chip, name=TOPLEVEL, build_dir=build_dir, description=chip_manifest(chip))
    return build(sim, sources=[verilog], manifest=manifest, build_dir=build_dir, waves=waves)


def _weights(weights):
    return {name: np.asarray(w, dtype=np.int64).tolist() for name, w in (weights or {}).items()}


def _samples(spikes):
    """Lists of input indices per step per sample, and whether the array had no batch axis."""
    spikes = np.asarray(spikes)
    single = spikes.ndim == 2
    batch = spikes[None] if single else spikes
    return [[np.flatnonzero(row).tolist() for row in sample] for sample in batch], single


def verify(params, weights=None, *, sim="icarus", steps=8, samples=1, seed=0, build_dir, rate=0.3, stall=0.3):
    """Random input spikes (each input fires with probability ``rate`` in a step) through the RTL and the golden
    model, with idle input cycles and output backpressure (the host port not ready in a ``stall`` fraction of
    cycles); returns ``(ok, message)``."""
    rng = np.random.default_rng(seed)
    if weights is None:
        weights = {c.name: rng.integers(-(1 << (c.params.weight_bits - 2)), 1 << (c.params.weight_bits - 1),
                                        size=(c.params.axons, c.params.neurons)) for c in params.cores}
    inputs, _ = _samples(rng.random((samples, steps, params.inputs)) < rate)
    built = build_chip(params, sim=sim, build_dir=build_dir)
    config = {"weights": _weights(weights), "inputs": inputs, "seed": seed, "idle": 0.3, "stall": stall}
    result, report = run_with_output(built, test_module=BENCH, tests=r"\.compare$", config=config, name="verify",
                                     key="report")
    if not result.ok:
        return False, result.message.removeprefix("compare: ")
    done = report["steps"]
    return True, (f"{sim}: {done} steps of {samples} sample(s) from seed {seed} matched the model: every output "
                  f"and every neuron's state (a learning core's weights and traces too) after every step")


def simulate_rtl(params, spikes, weights=None, *, sim="icarus", build_dir):
    """Output spikes (uint8, (batch, steps, outputs) or (steps, outputs) like ``spikes``) and the cycles of
    every step (batch, steps) of input ``spikes`` on the RTL; every sample starts from a freshly loaded chip."""
    inputs, single = _samples(spikes)
    out = np.zeros((len(inputs), len(inputs[0]) if inputs else 0, params.output_count), dtype=np.uint8)
    if sim == "verilator":
        from . import batch

        outputs, cycles, _ = batch.replay(batch.compile_chip(params, build_dir=build_dir), params, inputs,
                                          {name: np.asarray(w, dtype=np.int64) for name, w in (weights or {}).items()})
    else:
        built = build_chip(params, sim=sim, build_dir=build_dir)
        config = {"weights": _weights(weights), "inputs": inputs}
        result, replay = run_with_output(built, test_module=BENCH, tests=r"\.replay$", config=config,
                                         name="replay")
        if not result.ok:
            raise RuntimeError(f"The RTL simulation in {sim} failed: {result.message}")
        outputs = [[step["outputs"] for step in steps] for steps in replay["samples"]]
        cycles = np.array([[step["cycles"] for step in steps] for steps in replay["samples"]], dtype=np.int64)
        cycles = cycles.reshape(out.shape[:2])
    for b, steps in enumerate(outputs):
        for t, step in enumerate(steps):
            out[b, t, step] = 1
    return (out[0], cycles[0]) if single else (out, cycles)
