"""The digits network's accuracy three ways: the float network (the NIR graph on spikeforge's float reference,
which equals snnTorch's forward pass), the compiled chip on its golden model, and the chip's RTL in Verilator on
the first samples; then a confusion matrix and the activity of every layer (PNG).

    python examples/digits/evaluate.py build/digits/chip [--rtl-samples 20] [-o build/digits]

``build/digits/chip`` is what ``spikeforge compile examples/digits/digits.nir --dt 1e-4 -o build/digits/chip``
wrote; ``scripts/run-example`` runs both. A prediction is the output neuron with the most spikes over the
sample's steps, ties to the lowest index. Exits with 1 when the RTL differs from the golden model on any spike.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from spikeforge.scripts.config import load_config
from spikeforge.sim.chip.model import run_chip
from spikeforge.sim.chip.rtl import simulate_rtl
from spikeforge.sim.nir.graph import read_network
from spikeforge.sim.nir.reference import run


HERE = Path(__file__).parent
DT = 1e-4           # snnTorch's export step


def predictions(spikes):
    """The class of every sample: the output with the most spikes over the steps (ties to the lowest)."""
    return np.argmax(spikes.sum(axis=1), axis=1)


def accuracy(predicted, labels):
    return float(np.mean(predicted == labels))


def chip_run(chip, arrays, spikes):
    """Output spikes and every core's spike count per step of the golden model."""
    counts = {core.name: np.zeros(spikes.shape[1]) for core in chip.cores}

    def count(_sample, step, model):
        for name, fired in model.spikes.items():
            counts[name][step] += len(fired)

    return run_chip(chip, spikes, arrays, on_step=count), counts


def plot(labels, predicted, float_layers, chip_counts, chip, samples, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    left.imshow(confusion, cmap="Blues")
    for (i, j), n in np.ndenumerate(confusion):
        if n:
            left.text(j, i, str(n), ha="center", va="center", fontsize=7,
                      color="white" if n > confusion.max() / 2 else "black")
    left.set(title="Confusion matrix, compiled chip (golden model)", xlabel="predicted", ylabel="true",
             xticks=range(10), yticks=range(10))
    for name, spikes in float_layers.items():
        right.plot(spikes.mean(axis=(0, 2)), label=f"{name} (float)")
    for core in chip.cores:
        right.plot(chip_counts[core.name] / (samples * core.params.neurons), "--", label=f"core {core.name}")
    right.set(title="Activity per layer", xlabel="step", ylabel="spikes per neuron")
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chip_dir", type=Path, help="the directory spikeforge compile wrote")
    parser.add_argument("--rtl-samples", type=int, default=20, help="test samples run on the RTL (0: none)")
    parser.add_argument("-o", "--output", type=Path, default=Path("build/digits"))
    args = parser.parse_args(argv)

    test = np.load(HERE / "test_set.npz")
    spikes, labels = test["spikes"], test["labels"]
    reference = run(read_network(HERE / "digits.nir", dt=DT), spikes)
    chip = load_config(args.chip_dir / "chip.toml").blocks["chip"]
    arrays = dict(np.load(args.chip_dir / chip.weights))
    outputs, counts = chip_run(chip, arrays, spikes)
    float_accuracy = accuracy(predictions(reference.spikes), labels)
    chip_accuracy = accuracy(predictions(outputs), labels)
    print(f"float network (NIR reference): {float_accuracy:.2%} of {len(labels)} test digits")
    print(f"compiled chip (golden model):  {chip_accuracy:.2%} ({(chip_accuracy - float_accuracy) * 100:+.1f} points)")
    status = 0
    if args.rtl_samples:
        n = min(args.rtl_samples, len(labels))
        rtl, _ = simulate_rtl(chip, spikes[:n], arrays, sim="verilator", build_dir=args.output / "rtl")
        same = np.array_equal(rtl, outputs[:n])
        print(f"chip RTL (Verilator):          {accuracy(predictions(rtl), labels[:n]):.2%} of the first {n}; "
              f"{'equal to' if same else 'DIFFERENT from'} the golden model on every output spike")
        status = 0 if same else 1
    args.output.mkdir(parents=True, exist_ok=True)
    plot(labels, predictions(outputs), reference.populations, counts, chip, len(labels),
         args.output / "digits.png")
    print(f"wrote {args.output / 'digits.png'} (confusion matrix, activity per layer)")
    return status


if __name__ == "__main__":
    sys.exit(main())
