"""NIR graphs built by hand for the compiler's tests.

:func:`exact_graph` is a network whose compilation is exact: every layer's largest weight is 127 (so its scale
is 1), thresholds and biases are integers, and the time constants are so long that the decay is 1 (in float64 and in the core), so the
compiled chip must equal the float reference spike for spike. It has every structure the compiler maps: a layer
feeding two others (branching), two projections into one layer (a merge, with a skip from the input), a
recurrent connection, per-neuron thresholds and biases, a CubaLIF layer whose bias enters the current (or a LIF one), and
layers larger than a small core (split).
"""

import nir
import numpy as np


# Powers of two, so that the discretization is exact in float64: beta = 1 - dt / tau = 1 - 2**-60 rounds to 1,
# and every gain r * dt / tau is 1.
DT = 2.0 ** -13
LONG = 2.0 ** 47


def _weights(rng, shape, low=-60, high=100, largest=True):
    """Integer weights; with ``largest`` one of them is 127, the largest 8-bit weight."""
    w = rng.integers(low, high, size=shape).astype(np.float64)
    if largest:
        w.flat[rng.integers(w.size)] = 127.0
    return w


def _lif(size, threshold):
    tau = np.full(size, LONG)
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(size), v_threshold=threshold, v_reset=np.zeros(size))


def exact_graph(seed=0, inputs=6, hidden=10, out=5, out_model="cuba"):
    rng = np.random.default_rng(seed)
    nodes = {
        "input": nir.Input({"input": np.array([inputs])}),
        "fc1": nir.Affine(_weights(rng, (hidden, inputs)), rng.integers(-3, 4, size=hidden).astype(np.float64)),
        "h": _lif(hidden, rng.integers(100, 200, size=hidden).astype(np.float64)),
        "rec": nir.Linear(_weights(rng, (hidden, hidden), low=-100, high=60, largest=False)),
        "fc2": nir.Affine(_weights(rng, (out, hidden)), rng.integers(-3, 4, size=out).astype(np.float64)),
        "skip": nir.Linear(_weights(rng, (out, inputs), largest=False)),
        "o": nir.CubaLIF(tau_syn=np.full(out, LONG), tau_mem=np.full(out, LONG), r=np.full(out, LONG / DT),
                         v_leak=np.zeros(out), v_threshold=np.full(out, 300.0), v_reset=np.zeros(out),
                         w_in=np.full(out, LONG / DT)) if out_model == "cuba" else _lif(out, np.full(out, 300.0)),
        "output": nir.Output({"output": np.array([out])}),
    }
    edges = [("input", "fc1"), ("fc1", "h"), ("h", "rec"), ("rec", "h"), ("h", "fc2"), ("fc2", "o"),
             ("input", "skip"), ("skip", "o"), ("o", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def random_inputs(graph, batch, steps, seed, rate=0.4):
    size = int(graph.nodes["input"].input_type["input"][0])
    return (np.random.default_rng(seed).random((batch, steps, size)) < rate).astype(np.uint8)
