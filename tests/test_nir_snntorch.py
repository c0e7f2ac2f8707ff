"""The float NIR reference against snnTorch itself, the specification of the compiler (issue 12).

Three small networks are trained briefly on scikit-learn's digits (rate-coded over 16 steps, seeded, CPU, float64),
exported with ``snntorch.export_nir.export_to_nir``, written with ``nir.write``, read back with
``read_network(file, dt=1e-4)`` and run with :func:`spikeforge.sim.nir.reference.run`; every layer's spikes must
equal snnTorch's forward pass spike for spike, and every membrane (and synaptic current) must agree to 1e-10.

What was checked in snnTorch 1.0.0's source (``_neurons/leaky.py``, ``synaptic.py``, ``rleaky.py``,
``neurons.py``, ``surrogate.py``, ``export_nir.py``):

- ``Leaky.forward`` with ``reset_delay=False``: ``reset = H(mem_prev - threshold)`` is taken before the update;
  reset "zero" first multiplies ``mem`` by ``1 - reset`` (a no-op here: the previous step already set a spiking
  neuron to 0, and 0 is below a positive threshold), then ``mem = beta.clamp(0, 1) * mem + input``,
  ``spk = (mem - threshold > 0)`` (the surrogate's forward), and ``mem -= (spk - reset) * mem``, i.e. 0 where it
  spiked, in the same step. So the thresholds here are positive: with a threshold <= 0 the "avoid double reset"
  term would leave a spiking neuron unreset.
- ``Synaptic``: ``syn = alpha.clamp(0, 1) * syn + input``, then ``mem = beta.clamp(0, 1) * mem + syn`` (the new
  syn), the same spike and reset; syn is never reset.
- ``RLeaky`` (all_to_all): ``mem = beta * mem + input + recurrent(spk_prev)``, ``recurrent`` an ``nn.Linear``
  with a bias, ``spk_prev`` zero at the start.
- The export: dt = 1e-4 hard-coded and not written to the file; ``tau = dt / (1 - beta)`` (the unclamped
  beta, so beta is not learned here), ``r = tau / dt``, ``v_leak = 0``, ``v_reset = 0``; CubaLIF also
  ``tau_syn = dt / (1 - alpha)`` and ``w_in = tau_syn / dt``; an RLeaky becomes the nodes ``<name>.lif`` and
  ``<name>.w_rec`` with the cycle ``lif -> w_rec -> lif`` (nirtorch 2.6 flattens it). A 0-d beta fails the
  export's type inference, so beta and threshold are per-neuron vectors.
"""

import nir
import numpy as np
import pytest
import snntorch as snn
from snntorch.utils import reset
import torch
from sklearn.datasets import load_digits
from snntorch.export_nir import export_to_nir

from spikeforge.sim.nir.graph import read_network
from spikeforge.sim.nir.reference import run


# snnTorch 1.0's export calls nirtorch's older entry point.
pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph is being deprecated:DeprecationWarning")

STEPS = 16
HIDDEN = 24
CLASSES = 10


def digits_spikes(samples, seed):
    """Rate-coded digits: ``(samples, STEPS, 64)`` uint8 spikes and their labels."""
    digits = load_digits()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(digits.target), samples, replace=False)
    rates = digits.data[chosen] / 16
    spikes = (rng.random((samples, STEPS, rates.shape[1])) < rates[:, None, :]).astype(np.uint8)
    return spikes, digits.target[chosen]


def neurons(kind, size, generator, recurrent=False):
    """One snnTorch layer with per-neuron decays and positive thresholds, reset to zero in the same step.

    The surrogate's forward gives float32 spikes (``(x > 0).float()``); a per-neuron ``graded_spikes_factor`` of
    ones (a buffer; Synaptic does not take it as an argument), a float64 vector after ``net.double()``, promotes
    them to float64 so that the next Linear takes them."""
    options = dict(beta=0.5 + 0.45 * torch.rand(size, generator=generator),
                   threshold=0.5 + torch.rand(size, generator=generator),
                   reset_mechanism="zero", reset_delay=False, init_hidden=True)
    if kind == "synaptic":
        layer = snn.Synaptic(alpha=0.3 + 0.6 * torch.rand(size, generator=generator), **options)
    elif recurrent:
        layer = snn.RLeaky(linear_features=size, all_to_all=True, **options)
    else:
        layer = snn.Leaky(**options)
    layer.graded_spikes_factor = torch.ones(size)
    return layer


class Net(torch.nn.Module):
    """64 inputs -> HIDDEN neurons -> CLASSES neurons; one step per call."""

    def __init__(self, kind, recurrent, seed):
        super().__init__()
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        self.fc1 = torch.nn.Linear(64, HIDDEN)
        self.lif1 = neurons(kind, HIDDEN, generator, recurrent)
        self.fc2 = torch.nn.Linear(HIDDEN, CLASSES)
        self.lif2 = neurons(kind, CLASSES, generator)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    def layers(self):
        return {"lif1": self.lif1, "lif2": self.lif2}


def snntorch_run(net, inputs):
    """snnTorch's forward pass over the steps: ``{layer: (spikes, mem, syn or None)}``, each (batch, steps, n),
    the state read after each step (after the reset)."""
    reset(net)
    records = {name: ([], [], []) for name in net.layers()}
    for step in range(inputs.shape[1]):
        x = net.fc1(inputs[:, step])
        for name, fc in (("lif1", None), ("lif2", net.fc2)):
            layer = net.layers()[name]
            x = layer(x if fc is None else fc(x))
            spk, mem, syn = records[name]
            spk.append(x)
            mem.append(layer.mem.clone())
            syn.append(layer.syn.clone() if isinstance(layer, snn.Synaptic) else None)
    return {name: tuple(None if values[0] is None else torch.stack(values, 1).numpy() for values in record)
            for name, record in records.items()}


def train(net, spikes, labels, iterations=30):
    """A few dozen Adam steps on the spike counts of the output layer (cross-entropy)."""
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-2)
    inputs = torch.from_numpy(spikes).double()
    targets = torch.from_numpy(labels)
    losses = []
    for _ in range(iterations):
        reset(net)
        counts = sum(net(inputs[:, step]) for step in range(STEPS))
        loss = torch.nn.functional.cross_entropy(counts, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: torch's threads only contend for the shared cores (30 iterations took 14 s on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kind, recurrent", [("leaky", False), ("synaptic", False), ("leaky", True)],
                         ids=["leaky", "synaptic", "rleaky"])
def test_reference_equals_snntorch(kind, recurrent, tmp_path):
    spikes, labels = digits_spikes(256, seed=1)
    net = Net(kind, recurrent, seed=2).double()
    losses = train(net, spikes[:192], labels[:192])
    assert losses[-1] < losses[0]

    graph = export_to_nir(net, torch.zeros(1, 64, dtype=torch.float64), ignore_dims=[0])
    path = tmp_path / "net.nir"
    nir.write(path, graph)
    network = read_network(path, dt=1e-4)
    names = {"lif1.lif" if recurrent else "lif1": "lif1", "lif2": "lif2"}
    assert [p.name for p in network.populations] == list(names)
    assert network.outputs == ("lif2",)
    assert [j.recurrent for j in network.projections] == [False] + [True] * recurrent + [False]
    assert network.notes == ()

    test = spikes[192:]
    with torch.no_grad():
        expected = snntorch_run(net, torch.from_numpy(test).double())
    got = run(network, test, record=True)
    for population, layer in names.items():
        spk, mem, syn = expected[layer]
        assert spk.any() and not spk.all(), f"{layer} is silent or saturated: a weak test"
        np.testing.assert_array_equal(got.populations[population], spk.astype(np.uint8))
        np.testing.assert_allclose(got.v[population], mem, rtol=0, atol=1e-10)
        if syn is not None:
            np.testing.assert_allclose(got.i[population], syn, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(got.spikes, expected["lif2"][0].astype(np.uint8))
