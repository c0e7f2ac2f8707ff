"""Write the weights and a sample input of examples/chip_2x2.toml: random 8-bit weights, mostly excitatory, from
a fixed seed, and 20 steps of Poisson input spikes. Run from the repository root:
``python examples/chip_2x2_weights.py``."""

from pathlib import Path

import numpy as np

from spikeforge.scripts.config import load_config


def main():
    here = Path(__file__).parent
    chip = load_config(here / "chip_2x2.toml").blocks["chip"]
    rng = np.random.default_rng(2026)
    weights = {c.name: rng.integers(-40, 48, size=(c.params.axons, c.params.neurons)) for c in chip.cores}
    np.savez(here / "chip_2x2_weights.npz", **weights)
    spikes = (rng.random((20, chip.inputs)) < 0.3).astype(np.uint8)
    np.savez(here / "chip_2x2_input.npz", spikes=spikes)


if __name__ == "__main__":
    main()
