"""Train the digits network in snnTorch and export it to NIR (issue 12: the digits network end to end).

Run from the repository root with ``.venv/bin/python examples/digits/train.py``; it needs the ``train`` extra
(``pip install -e .[train]``: torch, snnTorch, scikit-learn). Training takes about 45 s of CPU time on two cores
(16 epochs, batches of 128, Adam at 1e-2); the script writes, beside this file:

- ``digits.nir``: the trained network, ``snntorch.export_nir.export_to_nir`` written with ``nir.write``;
- ``test_set.npz``: ``spikes`` (uint8, (images, 16, 64)), the rate-coded test images the float accuracy is
  measured on, and ``labels`` (int64, (images,)).

The data: scikit-learn's digits (8 x 8 images of intensities 0..16, 10 classes), split with
``train_test_split(test_size=0.2, random_state=0)`` (1437 training and 360 test images). Each image is rate-coded
over 16 steps: at every step each pixel spikes with probability intensity / 16, drawn from
``numpy.random.default_rng``; the test set is drawn once (seed 1), the training set anew every epoch (seed 0).

The network: 64 inputs -> 64 Leaky neurons -> 10 Leaky neurons, ``nn.Linear`` layers with biases. Every neuron
has the same fixed beta and threshold (per-neuron vectors: snnTorch 1.0 exports 0-d ones as 0-d NIR arrays that
nir rejects), neither learned, and resets to zero in the step it spikes (``reset_mechanism="zero"``,
``reset_delay=False``): the semantics of the exported graph, whose ``v_reset = 0`` whatever snnTorch's reset
mechanism. It is trained with snnTorch's arctan surrogate gradient and the cross-entropy of the output spike
counts over the 16 steps, in float64 so that the float NIR reference (numpy float64) reproduces it spike for
spike. The prediction is the output neuron with the most spikes over the 16 steps, a tie going to the lowest
index (``argmax``).

After the export the script reads the file back with ``spikeforge.sim.nir.graph.read_network(..., dt=1e-4)``
(snnTorch's export step), runs ``spikeforge.sim.nir.reference.run`` on the test set and fails unless its spikes,
and so its predictions, equal snnTorch's on every test image.
"""

import collections
import pathlib
import sys
import time

import nir
import numpy as np
import snntorch as snn
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from snntorch import surrogate
from snntorch.export_nir import export_to_nir
from snntorch.utils import reset

from spikeforge.sim.nir.graph import read_network
from spikeforge.sim.nir.reference import run


HERE = pathlib.Path(__file__).parent
STEPS = 16
HIDDEN = 64
CLASSES = 10
BETA = 0.875            # 1 - 512 / 4096: the LIF core's multiplicative decay holds it exactly
THRESHOLD = 1.0
EPOCHS = 16
BATCH = 128


def rate_code(images, rng):
    """(images, STEPS, 64) uint8 spikes: each pixel spikes with probability intensity / 16 at every step."""
    rates = images / 16.0
    return (rng.random((len(images), STEPS, images.shape[1])) < rates[:, None, :]).astype(np.uint8)


def neurons(size):
    """A layer of Leaky neurons as the exported graph means them (see the module docstring).

    The surrogate's forward returns float32 spikes, which a float64 ``nn.Linear`` refuses; a per-neuron
    ``graded_spikes_factor`` of ones (float64 after ``.double()``) promotes them, and changes nothing else.
    """
    layer = snn.Leaky(beta=torch.full((size,), BETA), threshold=torch.full((size,), THRESHOLD),
                      learn_beta=False, learn_threshold=False, reset_mechanism="zero", reset_delay=False,
                      spike_grad=surrogate.atan(), init_hidden=True)
    layer.graded_spikes_factor = torch.ones(size)
    return layer


def spike_counts(net, spikes):
    """The output spike counts over the steps of ``spikes`` (batch, STEPS, 64) and the output spikes."""
    reset(net)
    out = torch.stack([net(spikes[:, step]) for step in range(spikes.shape[1])], dim=1)
    return out.sum(dim=1), out


def main():
    started = time.perf_counter()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    digits = load_digits()
    train_x, test_x, train_y, test_y = train_test_split(digits.data, digits.target, test_size=0.2,
                                                        random_state=0)
    test_spikes = rate_code(test_x, np.random.default_rng(1))
    train_rng = np.random.default_rng(0)

    layers = {"fc1": torch.nn.Linear(64, HIDDEN), "lif1": neurons(HIDDEN),        # the names of the NIR nodes
              "fc2": torch.nn.Linear(HIDDEN, CLASSES), "lif2": neurons(CLASSES)}
    net = torch.nn.Sequential(collections.OrderedDict(layers)).double()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    targets = torch.from_numpy(train_y)
    for _ in range(EPOCHS):
        inputs = torch.from_numpy(rate_code(train_x, train_rng)).double()
        order = torch.randperm(len(inputs))
        for start in range(0, len(inputs), BATCH):
            chosen = order[start:start + BATCH]
            counts, _ = spike_counts(net, inputs[chosen])
            loss = torch.nn.functional.cross_entropy(counts, targets[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        counts, torch_spikes = spike_counts(net, torch.from_numpy(test_spikes).double())
    torch_predictions = counts.numpy().argmax(axis=1)
    torch_accuracy = (torch_predictions == test_y).mean()
    print(f"trained {EPOCHS} epochs in {time.perf_counter() - started:.1f} s; "
          f"snnTorch float accuracy on {len(test_y)} test images: {torch_accuracy:.2%}")

    graph = export_to_nir(net, torch.zeros(1, 64, dtype=torch.float64), ignore_dims=[0])
    nir.write(HERE / "digits.nir", graph)
    np.savez_compressed(HERE / "test_set.npz", spikes=test_spikes, labels=test_y.astype(np.int64))

    network = read_network(HERE / "digits.nir", dt=1e-4)
    reference = run(network, test_spikes).spikes
    reference_predictions = reference.sum(axis=1).argmax(axis=1)
    print(f"NIR float reference accuracy: {(reference_predictions == test_y).mean():.2%}")
    differ = np.flatnonzero((reference != torch_spikes.numpy().astype(np.uint8)).any(axis=(1, 2)))
    if len(differ) or np.any(reference_predictions != torch_predictions):
        sys.exit(f"the NIR reference and snnTorch differ on {len(differ)} test images (first: {differ[:10]})")
    print("the NIR reference equals snnTorch spike for spike on every test image")


if __name__ == "__main__":
    main()
