"""Writing a compiled network: ``chip.toml`` (the ``[chip]`` format, docs/chip.md), ``weights.npz`` beside it
(weights, per-neuron thresholds and biases, by the names of docs/chip.md), ``report.json`` and ``report.md``."""

from __future__ import annotations

import json

import numpy as np
import tomli_w

from .report import markdown


__all__ = ["write", "CHIP_FILE", "WEIGHTS_FILE"]


CHIP_FILE = "chip.toml"
WEIGHTS_FILE = "weights.npz"


def _header(data):
    return (f"# Compiled by spikeforge compile from {data['source']} (dt = {data['dt']:g} s, {data['integrator']}, "
            f"{data['weight_bits']}-bit weights); report.md describes it.\n"
            f"# Weights, thresholds and biases are in {WEIGHTS_FILE}.\n\n")


def write(compiled, data, directory):
    """Write the compiled network and its report (``data``, from :func:`~.report.report`) into ``directory``."""
    table = compiled.placement.chip.to_dict()
    table["weights"] = WEIGHTS_FILE
    (directory / CHIP_FILE).write_text(_header(data) + tomli_w.dumps({"chip": table}))
    np.savez_compressed(directory / WEIGHTS_FILE, **compiled.placement.arrays)
    (directory / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    (directory / "report.md").write_text(markdown(data))
