"""The NIR importer (sim/nir/graph.py) on hand-built graphs: structure, discretization, unrolling, bad input."""

import math
import re

import h5py
import nir
import numpy as np
import pytest

from spikeforge.sim.nir import graph as importer
from spikeforge.sim.nir.graph import network_from_graph, read_network
from spikeforge.sim.nir.network import INPUT


DT = 1e-4


def lif(n=None, tau=2e-3, r=None, threshold=1.0, v_leak=0.0, v_reset=0.0):
    """A LIF node, per-neuron when ``n`` is given, 0-d (shared) otherwise; ``r`` defaults to tau / dt."""
    shape = () if n is None else (n,)
    full = lambda value: np.full(shape, value, dtype=float)     # noqa: E731
    return nir.LIF(tau=full(tau), r=full(tau / DT if r is None else r), v_leak=full(v_leak),
                   v_threshold=full(threshold), v_reset=full(v_reset))


def graph(nodes, edges, metadata=None):
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {}, type_check=False)


def chain(*nodes, inputs=4, outputs=None):
    """Input -> nodes in order -> Output, named n0, n1, ...; the Output takes ``outputs`` or the last node's
    size."""
    names = {"in": nir.Input(input_type=np.array([inputs]))}
    names.update({f"n{k}": node for k, node in enumerate(nodes)})
    names["out"] = nir.Output(output_type=np.array([outputs or nodes[-1].v_threshold.size]))
    keys = list(names)
    return graph(names, list(zip(keys, keys[1:])))


def raises(message, function, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        function(*args, **kwargs)


rng = np.random.default_rng(0)
W1, B1 = rng.normal(size=(3, 4)), rng.normal(size=3)
W2, B2 = rng.normal(size=(2, 3)), rng.normal(size=2)


def test_a_chain_becomes_populations_and_projections_with_euler_gains():
    net = network_from_graph(chain(nir.Affine(weight=W1, bias=B1), lif(3, tau=2e-3, r=3.0, v_leak=0.5),
                                   nir.Affine(weight=W2, bias=B2), lif(2)), dt=DT)
    first, second = net.populations
    assert (first.name, first.model, second.name, net.inputs, net.outputs) == ("n1", "lif", "n3", 4, ("n3",))
    np.testing.assert_allclose(first.beta, 0.95)                   # 1 - dt / tau
    np.testing.assert_allclose(first.leak, 0.05 * 0.5)             # (1 - beta) v_leak
    np.testing.assert_allclose(net.projections[0].weight, 3.0 * 0.05 * W1)     # r (1 - beta) W
    np.testing.assert_allclose(first.bias, 3.0 * 0.05 * B1)
    np.testing.assert_allclose(net.projections[1].weight, W2)      # r = tau / dt: gain 1
    np.testing.assert_allclose(second.bias, B2)
    assert [(j.source, j.target, j.recurrent) for j in net.projections] == [(INPUT, "n1", False),
                                                                             ("n1", "n3", False)]
    assert net.notes == () and net.dt == DT and net.integrator == "euler"


def test_the_exact_integrator_uses_exp():
    net = network_from_graph(chain(nir.Linear(weight=W1), lif(3, tau=2e-3, r=3.0)), dt=DT, integrator="exact")
    (population,) = net.populations
    np.testing.assert_allclose(population.beta, math.exp(-0.05))
    np.testing.assert_allclose(net.projections[0].weight, 3.0 * (1 - math.exp(-0.05)) * W1)


def test_cuba_lif_gains_and_snntorch_convention():
    tau_syn, tau_mem = np.full(3, 5e-4), np.full(3, 1e-3)
    node = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=np.full(3, 2.0), v_leak=np.zeros(3),
                       v_threshold=np.ones(3), w_in=np.full(3, 4.0))
    net = network_from_graph(chain(nir.Affine(weight=W1, bias=B1), node), dt=DT)
    (population,) = net.populations
    assert population.model == "cuba"
    np.testing.assert_allclose(population.alpha, 0.8)
    np.testing.assert_allclose(population.beta, 0.9)
    gain = 2.0 * 0.1 * 4.0 * 0.2                                    # r (1 - beta) w_in (1 - alpha)
    np.testing.assert_allclose(net.projections[0].weight, gain * W1)
    np.testing.assert_allclose(population.bias, gain * B1)          # the bias enters the current
    snntorch = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / DT, v_leak=np.zeros(3),
                           v_threshold=np.ones(3), w_in=tau_syn / DT)
    np.testing.assert_allclose(network_from_graph(chain(nir.Linear(weight=W1), snntorch), dt=DT)
                               .projections[0].weight, W1)
    exact = network_from_graph(chain(nir.Linear(weight=W1), node), dt=DT, integrator="exact")
    assert exact.notes == ("node 'n1' (CubaLIF): 'exact' solves the current and the voltage each with the other "
                           "held over the step (the voltage sees the step's new current), not the pair jointly",)


def test_if_integrates_r_dt_times_the_input():
    node = nir.IF(r=np.full(3, 50.0), v_threshold=np.full(3, 2.0), v_reset=np.full(3, -1.0))
    (population,) = (net := network_from_graph(chain(nir.Linear(weight=W1), node), dt=DT)).populations
    assert population.model == "if"
    np.testing.assert_allclose(population.beta, 1.0)
    np.testing.assert_allclose(population.v_reset, -1.0)
    np.testing.assert_allclose(net.projections[0].weight, 50.0 * DT * W1)


def test_shared_0d_and_per_neuron_parameters():
    node = lif()                    # nir's constructor wants one shape; a graph built in memory may mix them
    node.v_threshold = np.array([1.0, 2.0, 3.0])
    (population,) = network_from_graph(chain(nir.Linear(weight=W1), node), dt=DT).populations
    np.testing.assert_allclose(population.threshold, [1, 2, 3])
    np.testing.assert_allclose(population.beta, [0.95] * 3)
    (shared,) = network_from_graph(chain(nir.Linear(weight=W1), lif(), outputs=3), dt=DT).populations
    assert shared.size == 3


def test_scale_multiplies_rows():
    scale = np.array([1.0, -2.0, 0.5])
    net = network_from_graph(chain(nir.Affine(weight=W1, bias=B1), nir.Scale(scale=scale), lif(3)), dt=DT)
    np.testing.assert_allclose(net.projections[0].weight, scale[:, None] * W1)
    np.testing.assert_allclose(net.populations[0].bias, scale * B1)


def test_branches_and_a_merge_of_two_affines():
    """in -> fc1 -> a; a -> fc2 -> b; a -> fc3 -> c; in -> fc4 -> c; b, c -> outputs. c sums two Affines."""
    W3, B3, W4, B4 = rng.normal(size=(2, 3)), rng.normal(size=2), rng.normal(size=(2, 4)), rng.normal(size=2)
    nodes = {"in": nir.Input(input_type=np.array([4])), "fc1": nir.Affine(weight=W1, bias=B1), "a": lif(3),
             "fc2": nir.Affine(weight=W2, bias=B2), "b": lif(2), "fc3": nir.Affine(weight=W3, bias=B3),
             "fc4": nir.Affine(weight=W4, bias=B4), "c": lif(2),
             "out_c": nir.Output(output_type=np.array([2])), "out_b": nir.Output(output_type=np.array([2]))}
    edges = [("in", "fc1"), ("fc1", "a"), ("a", "fc2"), ("fc2", "b"), ("a", "fc3"), ("fc3", "c"), ("in", "fc4"),
             ("fc4", "c"), ("b", "out_b"), ("c", "out_c")]
    net = network_from_graph(graph(nodes, edges), dt=DT)
    assert net.outputs == ("b", "c")                                # Outputs in name order
    assert [p.name for p in net.populations] == ["a", "c", "b"]     # reverse postorder, targets in name order
    into_c = {j.source: j.weight for j in net.projections_into("c")}
    np.testing.assert_allclose(into_c[INPUT], W4)
    np.testing.assert_allclose(into_c["a"], W3)
    np.testing.assert_allclose(net.population("c").bias, B3 + B4)
    assert not any(j.recurrent for j in net.projections)


def test_two_affines_from_one_source_are_one_projection():
    W5 = rng.normal(size=(3, 4))
    nodes = {"in": nir.Input(input_type=np.array([4])), "p": nir.Affine(weight=W1, bias=B1),
             "q": nir.Linear(weight=W5), "lif": lif(3), "out": nir.Output(output_type=np.array([3]))}
    edges = [("in", "p"), ("in", "q"), ("p", "lif"), ("q", "lif"), ("lif", "out")]
    (projection,) = network_from_graph(graph(nodes, edges), dt=DT).projections
    np.testing.assert_allclose(projection.weight, W1 + W5)


def recurrent_graph():
    """in -> fc -> a -> fc2 -> b -> out; a -> rec -> a (a self-loop); b -> back -> a (a longer cycle)."""
    nodes = {"in": nir.Input(input_type=np.array([4])), "fc": nir.Linear(weight=W1), "a": lif(3),
             "rec": nir.Affine(weight=np.eye(3), bias=np.ones(3)), "fc2": nir.Linear(weight=W2), "b": lif(2),
             "back": nir.Linear(weight=W2.T), "out": nir.Output(output_type=np.array([2]))}
    edges = [("in", "fc"), ("fc", "a"), ("a", "rec"), ("rec", "a"), ("a", "fc2"), ("fc2", "b"), ("b", "back"),
             ("back", "a"), ("b", "out")]
    return nodes, edges


def test_the_edges_that_close_cycles_are_recurrent():
    nodes, edges = recurrent_graph()
    net = network_from_graph(graph(nodes, edges[::-1]), dt=DT)        # the file's edge order does not matter
    assert [p.name for p in net.populations] == ["a", "b"]
    assert [(j.source, j.target, j.recurrent) for j in net.projections] == [
        (INPUT, "a", False), ("a", "a", True), ("b", "a", True), ("a", "b", False)]
    np.testing.assert_allclose(net.population("a").bias, 1.0)      # the recurrent Affine's bias, every step


def direct_conv_pool(image, weight, bias, stride, padding, pool):
    """A plain loop convolution (cross-correlation as torch computes it) then a sum pool of pool x pool."""
    channels_out, channels_in, kh, kw = weight.shape
    padded = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
    out_h = (padded.shape[1] - kh) // stride + 1
    out_w = (padded.shape[2] - kw) // stride + 1
    conv = np.zeros((channels_out, out_h, out_w))
    for o in range(channels_out):
        for y in range(out_h):
            for x in range(out_w):
                window = padded[:, y * stride:y * stride + kh, x * stride:x * stride + kw]
                conv[o, y, x] = np.sum(window * weight[o]) + bias[o]
    pooled = np.zeros((channels_out, out_h // pool, out_w // pool))
    for y in range(out_h // pool):
        for x in range(out_w // pool):
            pooled[:, y, x] = conv[:, y * pool:(y + 1) * pool, x * pool:(x + 1) * pool].sum(axis=(1, 2))
    return pooled


def test_conv2d_and_sum_pooling_unroll_to_the_direct_convolution():
    weight, bias = rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    conv = nir.Conv2d(input_shape=None, weight=weight, stride=1, padding=1, dilation=1, groups=1, bias=bias)
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    size = 3 * 3 * 3
    nodes = {"in": nir.Input(input_type=np.array([2, 6, 6])), "conv": conv, "pool": pool,
             "flat": nir.Flatten(input_type=None, start_dim=0, end_dim=-1), "lif": lif(),
             "out": nir.Output(output_type=np.array([size]))}
    keys = list(nodes)
    net = network_from_graph(graph(nodes, list(zip(keys, keys[1:]))), dt=DT)
    (projection,) = net.projections
    assert projection.weight.shape == (size, 2 * 6 * 6)
    image = rng.integers(0, 2, size=(2, 6, 6)).astype(float)
    expected = direct_conv_pool(image, weight, bias, stride=1, padding=1, pool=2).reshape(-1)
    np.testing.assert_allclose(projection.weight @ image.reshape(-1) + net.populations[0].bias, expected)


def test_strided_conv_and_average_pooling_with_padding_note():
    weight = rng.normal(size=(2, 1, 2, 2))
    conv = nir.Conv2d(input_shape=(5, 5), weight=weight, stride=2, padding=0, dilation=1, groups=1,
                      bias=np.zeros(2))
    pool = nir.AvgPool2d(kernel_size=np.array(2), stride=np.array(1), padding=np.array(1))
    nodes = {"in": nir.Input(input_type=np.array([1, 5, 5])), "conv": conv, "pool": pool,
             "flat": nir.Flatten(input_type=None, start_dim=0), "lif": lif(), "out": nir.Output(np.array([18]))}
    keys = list(nodes)
    net = network_from_graph(graph(nodes, list(zip(keys, keys[1:]))), dt=DT)
    image = rng.normal(size=(1, 5, 5))
    conv_out = direct_conv_pool(image, weight, np.zeros(2), stride=2, padding=0, pool=1)     # (2, 2, 2)
    padded = np.pad(conv_out, ((0, 0), (1, 1), (1, 1)))
    average = np.array([[[padded[c, y:y + 2, x:x + 2].mean() for x in range(3)] for y in range(3)]
                        for c in range(2)])
    np.testing.assert_allclose(net.projections[0].weight @ image.reshape(-1), average.reshape(-1))
    assert net.notes == ("node 'pool' (AvgPool2d): the average counts the padding (torch's default)",)


def test_dt_from_the_metadata(tmp_path):
    net = network_from_graph(graph(*_simple(), metadata={"dt": 1e-3}))
    assert net.dt == 1e-3
    path = tmp_path / "net.nir"
    nir.write(path, graph(*_simple()))
    assert read_network(path, dt=DT).dt == DT
    raises(f"{path}: the graph's metadata states no dt: --dt is required (the step in seconds that the "
           "continuous-time neurons are discretized with)", read_network, path)


def _simple(node=None, inputs=4):
    nodes = {"in": nir.Input(input_type=np.array([inputs])), "fc": nir.Linear(weight=W1),
             "lif": node if node is not None else lif(3), "out": nir.Output(output_type=np.array([3]))}
    return nodes, [("in", "fc"), ("fc", "lif"), ("lif", "out")]


@pytest.mark.parametrize("change, message", [
    (lambda n, e: n.update(lif=nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3))),
     "node 'lif' (LI): unsupported node type; supported: Input, Output, LIF, CubaLIF, IF, Affine, Linear, Scale, "
     "Flatten, Conv2d, SumPool2d, AvgPool2d"),
    (lambda n, e: n.update(fc=nir.Linear(weight=np.ones((3, 5)))),
     "mismatched shapes: node 'fc' (Linear) takes (5,) but node 'in' (Input) gives (4,)"),
    (lambda n, e: n.update(lif=lif(4)),
     "node 'lif' (LIF): parameter 'tau' has shape (4,), which does not fit the input shape (3,)"),
    (lambda n, e: n.update(fc=nir.Affine(weight=W1, bias=np.ones(2))),
     "mismatched shapes: node 'fc' (Affine): the bias has shape (2,), the weight (3, 4)"),
    (lambda n, e: n.update(lif=lif(3, threshold=np.nan)),
     "node 'lif' (LIF): parameter 'v_threshold' is not finite (NaN or infinite)"),
    (lambda n, e: n.update(fc=nir.Linear(weight=np.full((3, 4), np.inf))),
     "node 'fc' (Linear): parameter 'weight' is not finite (NaN or infinite)"),
    (lambda n, e: n.update(lif=lif(3, tau=-1e-3, r=1.0)), "node 'lif' (LIF): tau must be > 0 seconds, not -0.001"),
    (lambda n, e: n.pop("in") and e.remove(("in", "fc")), "a graph must have one Input node, not 0"),
    (lambda n, e: n.pop("out") and e.remove(("lif", "out")), "a graph must have an Output node; it has none"),
    (lambda n, e: e.append(("fc", "out")),
     "node 'out' (Output) must be fed by one neuron node (LIF, CubaLIF or IF), not by node 'fc' (Linear), "
     "node 'lif' (LIF)"),
    (lambda n, e: n.update(extra=lif(3)) or e.append(("extra", "fc")),
     "node 'extra' (LIF) is not reachable from the Input node"),
    (lambda n, e: n.update(loop=nir.Linear(weight=np.eye(4))) or e.extend([("fc", "loop"), ("loop", "fc")]),
     "mismatched shapes: node 'loop' (Linear) takes (4,) but node 'fc' (Linear) gives (3,)"),
    (lambda n, e: n.update(loop=nir.Linear(weight=np.eye(3)), fc=nir.Linear(weight=np.eye(3))) or
     n.update(**{"in": nir.Input(input_type=np.array([3]))}) or e.extend([("fc", "loop"), ("loop", "fc")]),
     "node 'fc' (Linear) is on a cycle without a neuron node"),
    (lambda n, e: e.append(("lif", "in")), "node 'in' (Input) has an edge into it from 'lif'"),
    (lambda n, e: e.append(("nowhere", "lif")), "the edge 'nowhere' -> 'lif' names no node 'nowhere'"),
])
def test_bad_graphs_name_the_node(change, message):
    nodes, edges = _simple()
    change(nodes, edges)
    raises(message, network_from_graph, graph(nodes, edges), dt=DT)


@pytest.mark.parametrize("dt, message", [
    (0.0, "dt must be a positive number of seconds, not 0.0"),
    (-1e-4, "dt must be a positive number of seconds, not -0.0001"),
    (float("nan"), "dt must be a positive number of seconds, not nan"),
    ("soon", "dt must be a positive number of seconds, not 'soon'"),
])
def test_bad_dt(dt, message):
    raises(message, network_from_graph, graph(*_simple()), dt=dt)


def test_bad_integrator():
    raises("the integrator must be one of euler, exact, not 'rk4'", network_from_graph, graph(*_simple()), DT,
           "rk4")


def test_euler_with_dt_over_tau_is_noted():
    net = network_from_graph(graph(*_simple(lif(3, tau=5e-5, r=1.0))), dt=DT)
    assert net.notes == ("node 'lif' (LIF): tau <= dt, so the Euler decay per step is <= 0 (unstable)",)


def test_a_dense_matrix_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(importer, "MAX_WEIGHTS", 1000)
    conv = nir.Conv2d(input_shape=None, weight=np.ones((2, 1, 3, 3)), stride=1, padding=1, dilation=1, groups=1,
                      bias=np.zeros(2))
    nodes = {"in": nir.Input(input_type=np.array([1, 8, 8])), "conv": conv, "lif": lif(),
             "out": nir.Output(np.array([2, 8, 8]))}
    raises("node 'conv' (Conv2d): its dense matrix would have 8192 entries (128 x 64), more than the limit of "
           "1000", network_from_graph, graph(nodes, [("in", "conv"), ("conv", "lif"), ("lif", "out")]), DT)
    monkeypatch.setattr(importer, "MAX_WEIGHTS", 10)
    raises("node 'fc' (Linear): its composed dense matrix would have 12 entries (3 x 4), more than the limit of 10",
           network_from_graph, graph(*_simple()), DT)


def test_files_that_are_not_nir_graphs(tmp_path):
    text = tmp_path / "net.nir"
    text.write_text("not a graph\n")
    raises(f"{text}: not a NIR file (not HDF5)", read_network, text, DT)
    missing = tmp_path / "missing.nir"
    raises(f"{missing}: cannot read (No such file or directory)", read_network, missing, DT)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file.create_dataset("x", data=[1, 2])
    raises(f"{other}: not a NIR graph (an HDF5 file without a 'node/nodes' group)", read_network, other, DT)


def test_file_level_node_errors_name_the_file_and_the_node(tmp_path):
    path = tmp_path / "net.nir"
    nir.write(path, graph(*_simple()))
    with h5py.File(path, "r+") as file:
        del file["node/nodes/fc/type"]
        file["node/nodes/fc/type"] = np.bytes_("Teleport")
    raises(f"{path}: node 'fc' (Teleport): unsupported node type; supported: Input, Output, LIF, CubaLIF, IF, "
           "Affine, Linear, Scale, Flatten, Conv2d, SumPool2d, AvgPool2d", read_network, path, DT)
    nodes, edges = _simple(lif(3, tau=0.0, r=1.0))
    nir.write(path, graph(nodes, edges))
    raises(f"{path}: node 'lif' (LIF): tau must be > 0 seconds, not 0.0", read_network, path, DT)
    with h5py.File(path, "r+") as file:
        del file["node/nodes/lif/tau"]
    raises(f"{path}: not a NIR graph nir {nir.version} can read (TypeError)", read_network, path, DT)
