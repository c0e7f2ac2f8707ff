"""Reading a NIR graph into a discrete-time :class:`~spikeforge.sim.nir.network.Network`.

NIR's neurons are continuous-time (``nir/ir/neuron.py``); ``I`` below is a node's input, the sum of what its
predecessors give (``W s + b`` for an Affine):

- LIF:     ``tau dv/dt = (v_leak - v) + r I``
- CubaLIF: ``tau_syn dI_syn/dt = -I_syn + w_in I`` and ``tau_mem dv/dt = (v_leak - v) + r I_syn``
- IF:      ``dv/dt = r I``

each spiking when ``v > v_threshold`` and then setting ``v = v_reset``. A step of ``dt`` seconds holds the input
constant over the step (the convention of snnTorch's export, and the only one under which its ``r = tau / dt``
gives an input gain of 1). With ``integrator="euler"`` (forward Euler: snnTorch, Norse and SpiNNaker2's
importer) or ``"exact"`` (the exact solution for an input held over the step) the decay per step and its
complement are::

    euler:  beta = 1 - dt / tau          1 - beta = dt / tau
    exact:  beta = exp(-dt / tau)        1 - beta = -expm1(-dt / tau)

and one step of each model (:mod:`~spikeforge.sim.nir.network`) has these constants, the input gain ``g``
multiplying every weight and bias that reaches the population::

    LIF:      beta from tau;        leak = (1 - beta) v_leak;   g = r (1 - beta)
    CubaLIF:  beta from tau_mem, alpha from tau_syn;
              leak = (1 - beta) v_leak;   g = r (1 - beta) * w_in (1 - alpha)
              (the current is kept in the voltage's units: i = r (1 - beta) I_syn)
    IF:       beta = 1;  leak = 0;      g = r dt

so snnTorch's export (``r = tau / dt``, ``w_in = tau_syn / dt``) gives ``g = 1`` with Euler at the export's dt.
CubaLIF's voltage is driven by the current of the end of the step (snnTorch's order); under ``"exact"`` each
equation is solved exactly with the other's input held, not the pair jointly, which :attr:`Network.notes` says.

The weight-like nodes (Affine, Linear, Scale, Flatten, Conv2d, SumPool2d, AvgPool2d) are affine maps of
flattened (C-order) vectors; the maps on every path from one neuron node (or the Input) to another are composed,
and the maps that meet at one node are summed, so each (source, target) pair of populations gets one dense
:class:`Projection` and each population one bias. A dense matrix (an unrolled convolution or a composed
projection) may have at most :data:`MAX_WEIGHTS` entries.

Cycles: a depth-first search over the populations starts at the input and visits each population's targets in
name order; a projection to a population still on the search's stack (a back edge, a self-loop included) is
``recurrent`` and carries the previous step's spikes. The populations are listed in the reverse postorder of that
search, in which every other projection goes forward. The rule depends only on the node names, not on the order
of the file's edges (which nirtorch builds from a set).

Every rule a graph breaks is a ValueError of one line naming the node, by name and type;
:func:`read_network` prefixes the file.
"""

from __future__ import annotations

import dataclasses
import math

import h5py
import nir
import numpy as np

from .network import INPUT, Network, Population, Projection


__all__ = ["MAX_WEIGHTS", "INTEGRATORS", "read_network", "network_from_graph"]


#: The most entries of a dense weight matrix: an unrolled Conv2d or pooling node, or a composed projection.
MAX_WEIGHTS = 2 ** 24

INTEGRATORS = ("euler", "exact")

_NEURONS = {"LIF": "lif", "CubaLIF": "cuba", "IF": "if"}
_WEIGHTS = ("Affine", "Linear", "Scale", "Flatten", "Conv2d", "SumPool2d", "AvgPool2d")
_SUPPORTED = ("Input", "Output", *_NEURONS, *_WEIGHTS)


def read_network(path, dt=None, integrator="euler"):
    """The NIR file ``path`` as a :class:`Network` stepped by ``dt`` seconds (None: the graph's metadata ``dt``)
    with ``integrator`` ``"euler"`` or ``"exact"``; ValueError with one line naming the file for a file that is
    not a NIR graph and for every rule of :func:`network_from_graph`."""
    graph = _read_graph(path)
    try:
        return network_from_graph(graph, dt, integrator)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def network_from_graph(graph, dt=None, integrator="euler"):
    """The in-memory ``nir.NIRGraph`` ``graph`` as a :class:`Network` (see :func:`read_network`).

    Raises
    ------
    ValueError
        A missing or bad ``dt``, an unknown integrator, an unsupported node, a graph without one Input or
        without an Output, an Output fed by anything but one neuron node, a node the Input does not reach,
        mismatched shapes, a NaN or infinite parameter, ``tau <= 0``, a cycle without a neuron node, a dense
        matrix over :data:`MAX_WEIGHTS` entries: one line naming the node.
    """
    dt = _step(graph, dt)
    if integrator not in INTEGRATORS:
        raise ValueError(f"the integrator must be one of {', '.join(INTEGRATORS)}, not {integrator!r}")
    nodes = dict(graph.nodes)
    for name, node in nodes.items():
        _check_type(name, type(node).__name__)
    edges = sorted((str(source), str(target)) for source, target in graph.edges)
    source, outputs = _terminals(nodes, edges)
    layers = _Layers(nodes, edges, source)
    populations, gains, notes = {}, {}, list(layers.notes)
    for name in layers.neurons:
        populations[name], gains[name] = _population(name, nodes[name], layers.out_shape[name], dt, integrator,
                                                     notes)
    weights, biases = _projections(layers, populations, gains)
    order, recurrent = _order(weights)
    rank = {name: index for index, name in enumerate((INPUT, *order))}
    pairs = sorted(weights, key=lambda pair: (rank[pair[1]], rank[pair[0]]))
    return Network(
        inputs=math.prod(layers.out_shape[source]),
        populations=tuple(dataclasses.replace(populations[name], bias=biases[name]) for name in order),
        projections=tuple(Projection(s, t, weights[s, t], recurrent=(s, t) in recurrent) for s, t in pairs),
        outputs=tuple(_output_population(name, nodes, edges) for name in outputs),
        dt=dt, integrator=integrator, notes=tuple(notes))


def _describe(name, node):
    return f"node {name!r} ({type(node).__name__})"


def _check_type(name, type_name):
    if type_name not in _SUPPORTED:
        raise ValueError(f"node {name!r} ({type_name}): unsupported node type; supported: {', '.join(_SUPPORTED)}")


def _read_graph(path):
    """``nir.read`` of ``path``, after checking (with h5py) that it is a NIR file of supported node types, so
    that an unknown type is named rather than failing inside nir."""
    try:
        open(path, "rb").close()
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        with h5py.File(path, "r") as file:
            stored = file.get("node/nodes")
            if not isinstance(stored, h5py.Group):
                raise ValueError(f"{path}: not a NIR graph (an HDF5 file without a 'node/nodes' group)")
            for name, node in stored.items():
                kind = node.get("type") if isinstance(node, h5py.Group) else None
                kind = kind[()] if isinstance(kind, h5py.Dataset) else b"?"
                try:
                    _check_type(name, kind.decode() if isinstance(kind, bytes) else str(kind))
                except ValueError as error:
                    raise ValueError(f"{path}: {error}") from None
    except OSError:
        raise ValueError(f"{path}: not a NIR file (not HDF5)") from None
    try:
        return nir.read(path, type_check=False)
    except Exception as error:      # nir reports a malformed node with asserts, KeyErrors and TypeErrors
        raise ValueError(f"{path}: not a NIR graph nir {nir.version} can read ({type(error).__name__})") from None


def _step(graph, dt):
    if dt is None:
        dt = (graph.metadata or {}).get("dt")
        if dt is None:
            raise ValueError("the graph's metadata states no dt: --dt is required (the step in seconds that the "
                             "continuous-time neurons are discretized with)")
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a positive number of seconds, not {dt!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"dt must be a positive number of seconds, not {dt!r}")
    return value


def _terminals(nodes, edges):
    """The Input's name and the Outputs' names (sorted), checking that edges join existing nodes, that there is
    one Input with nothing into it and an Output with nothing out of it."""
    for source, target in edges:
        for end in (source, target):
            if end not in nodes:
                raise ValueError(f"the edge {source!r} -> {target!r} names no node {end!r}")
    inputs = sorted(name for name, node in nodes.items() if isinstance(node, nir.Input))
    outputs = sorted(name for name, node in nodes.items() if isinstance(node, nir.Output))
    if len(inputs) != 1:
        raise ValueError(f"a graph must have one Input node, not {len(inputs)}")
    if not outputs:
        raise ValueError("a graph must have an Output node; it has none")
    for source, target in edges:
        if isinstance(nodes[target], nir.Input):
            raise ValueError(f"{_describe(target, nodes[target])} has an edge into it from {source!r}")
        if isinstance(nodes[source], nir.Output):
            raise ValueError(f"{_describe(source, nodes[source])} has an edge out of it to {target!r}")
    return inputs[0], outputs


def _output_population(name, nodes, edges):
    feeds = [source for source, target in edges if target == name]
    if len(feeds) != 1 or type(nodes[feeds[0]]).__name__ not in _NEURONS:
        fed = ", ".join(_describe(feed, nodes[feed]) for feed in feeds) or "nothing"
        raise ValueError(f"{_describe(name, nodes[name])} must be fed by one neuron node (LIF, CubaLIF or IF), "
                         f"not by {fed}")
    return feeds[0]


def _parameter(name, node, field, shape=None):
    """A node's parameter as float64, finite, broadcast to ``shape`` when given."""
    try:
        value = np.asarray(getattr(node, field), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{_describe(name, node)}: parameter {field!r} is not an array of numbers") from None
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{_describe(name, node)}: parameter {field!r} is not finite (NaN or infinite)")
    if shape is None:
        return value
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        raise ValueError(f"{_describe(name, node)}: parameter {field!r} has shape {value.shape}, which does not "
                         f"fit the input shape {shape}") from None


def _shape(value):
    return tuple(int(n) for n in np.asarray(value).reshape(-1))


def _declared_shape(node):
    """The shape an Input or Output node declares."""
    types = node.input_type if isinstance(node, nir.Input) else node.output_type
    return _shape(next(iter(types.values())))


@dataclasses.dataclass(frozen=True)
class _Map:
    """A weight-like node as an affine map of flattened vectors: ``y = matrix @ x + bias``, where ``matrix`` is
    a dense array, a vector (a diagonal: Scale) or None (the identity: Flatten)."""

    in_shape: tuple
    out_shape: tuple
    matrix: object
    bias: np.ndarray

    def apply(self, weights):
        """The map's linear part applied to ``weights`` (None: the identity)."""
        if self.matrix is None:
            return weights
        if self.matrix.ndim == 1:
            return np.diag(self.matrix) if weights is None else self.matrix[:, None] * weights
        return self.matrix if weights is None else self.matrix @ weights


class _Layers:
    """The graph's nodes with their shapes (the Input's reaching every node, breadth first in name order) and
    the weight-like nodes' maps; checks every edge's shapes and that the Input reaches every node."""

    def __init__(self, nodes, edges, source):
        self.nodes, self.notes = nodes, []
        self.predecessors = {name: [s for s, t in edges if t == name] for name in nodes}
        successors = {name: [t for s, t in edges if s == name] for name in nodes}
        self.in_shape, self.out_shape, self.maps = {}, {}, {}
        shape = _declared_shape(nodes[source])
        self.in_shape[source] = self.out_shape[source] = shape
        queue = [source]
        for name in queue:
            for target in successors[name]:
                if target not in self.out_shape:
                    self._shape(target, self.out_shape[name])
                    queue.append(target)
        for name in sorted(nodes):
            if name not in self.out_shape:
                raise ValueError(f"{_describe(name, nodes[name])} is not reachable from the Input node")
        for source_name, target in edges:
            if self.out_shape[source_name] != self.in_shape[target]:
                raise ValueError(f"mismatched shapes: {_describe(target, nodes[target])} takes "
                                 f"{self.in_shape[target]} but {_describe(source_name, nodes[source_name])} gives "
                                 f"{self.out_shape[source_name]}")
        self.source = source
        self.neurons = sorted(name for name, node in nodes.items() if type(node).__name__ in _NEURONS)

    def _shape(self, name, incoming):
        node = self.nodes[name]
        kind = type(node).__name__
        if kind == "Output":
            self.in_shape[name] = self.out_shape[name] = _declared_shape(node)
        elif kind in _NEURONS:
            self.in_shape[name] = self.out_shape[name] = incoming
        else:
            layer = _MAPS[kind](name, node, incoming)
            if kind == "AvgPool2d" and np.any(_pair(name, node, "padding")):
                self.notes.append(f"{_describe(name, node)}: the average counts the padding (torch's default)")
            self.maps[name] = layer
            self.in_shape[name], self.out_shape[name] = layer.in_shape, layer.out_shape


def _affine(name, node, incoming):
    weight = _parameter(name, node, "weight")
    if weight.ndim != 2:
        raise ValueError(f"{_describe(name, node)}: the weight must be 2-D, not of shape {weight.shape}")
    bias = (_parameter(name, node, "bias") if isinstance(node, nir.Affine) else np.zeros(weight.shape[0]))
    if bias.shape != weight.shape[:1]:
        raise ValueError(f"mismatched shapes: {_describe(name, node)}: the bias has shape {bias.shape}, the "
                         f"weight {weight.shape}")
    return _Map((weight.shape[1],), (weight.shape[0],), weight, bias)


def _scale(name, node, incoming):
    scale = _parameter(name, node, "scale")
    shape = scale.shape if scale.ndim else incoming
    return _Map(shape, shape, np.broadcast_to(scale, shape).reshape(-1), np.zeros(math.prod(shape)))


def _flatten(name, node, incoming):
    declared = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    shape = incoming if declared is None else _shape(declared)
    rank = len(shape)
    start, end = int(node.start_dim) % max(rank, 1), int(node.end_dim) % max(rank, 1)
    if rank == 0 or start > end:
        raise ValueError(f"{_describe(name, node)}: cannot flatten dimensions {node.start_dim}..{node.end_dim} "
                         f"of shape {shape}")
    out = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
    return _Map(shape, out, None, np.zeros(math.prod(shape)))


def _pair(name, node, field):
    value = getattr(node, field)
    if isinstance(value, str):
        return value
    pair = np.asarray(value).reshape(-1)
    if pair.size == 1:
        pair = np.repeat(pair, 2)
    if pair.size != 2 or not np.all(pair == np.round(pair)) or np.any(pair < 0):
        raise ValueError(f"{_describe(name, node)}: {field} must be one or two non-negative integers, not {value!r}")
    return tuple(int(n) for n in pair)


def _image(name, node, incoming):
    if len(incoming) != 3:
        raise ValueError(f"mismatched shapes: {_describe(name, node)} takes (channels, height, width), not "
                         f"{incoming}")
    return incoming


def _conv2d(name, node, incoming):
    weight = _parameter(name, node, "weight")
    groups = int(node.groups)
    if weight.ndim != 4 or groups < 1 or weight.shape[0] % groups:
        raise ValueError(f"{_describe(name, node)}: the weight must be (out channels, in channels / groups, "
                         f"height, width) with out channels divisible by {groups} groups, not {weight.shape}")
    declared = getattr(node, "input_shape", None)
    shape = incoming if declared is None else (weight.shape[1] * groups, *_shape(declared))
    channels, height, width = _image(name, node, shape)
    if channels != weight.shape[1] * groups:
        raise ValueError(f"mismatched shapes: {_describe(name, node)} takes {weight.shape[1] * groups} channels, "
                         f"gets {channels}")
    stride, dilation = _pair(name, node, "stride"), _pair(name, node, "dilation")
    padding = _padding(name, node, weight.shape[2:], stride, dilation)
    bias = _parameter(name, node, "bias", (weight.shape[0],))
    return _unrolled(name, node, shape, weight, groups, stride, padding, dilation, bias)


def _padding(name, node, kernel, stride, dilation):
    """Padding before and after each spatial axis, ``((top, bottom), (left, right))``; 'same' as torch pads
    (the odd one after), for stride 1 only."""
    padding = _pair(name, node, "padding")
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{_describe(name, node)}: padding 'same' needs stride 1, not {stride}")
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((total // 2, total - total // 2) for total in totals)
    return tuple((p, p) for p in padding)


def _pool(name, node, incoming):
    channels, _, _ = _image(name, node, incoming)
    kernel, stride = _pair(name, node, "kernel_size"), _pair(name, node, "stride")
    padding = tuple((p, p) for p in _pair(name, node, "padding"))
    weight = np.ones((channels, 1, *kernel))
    if isinstance(node, nir.AvgPool2d):
        weight /= math.prod(kernel)
    return _unrolled(name, node, incoming, weight, channels, stride, padding, (1, 1), np.zeros(channels))


def _unrolled(name, node, shape, weight, groups, stride, padding, dilation, bias):
    """A 2-D convolution of ``shape`` = (channels, height, width) as a dense map of flattened images."""
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    _, height, width = shape
    out_h, out_w = (
        (size + before + after - d * (k - 1) - 1) // s + 1
        for size, (before, after), d, k, s in zip((height, width), padding, dilation, (kernel_h, kernel_w), stride))
    if out_h < 1 or out_w < 1:
        raise ValueError(f"mismatched shapes: {_describe(name, node)}: its kernel does not fit the input {shape}")
    rows, columns = out_channels * out_h * out_w, math.prod(shape)
    if rows * columns > MAX_WEIGHTS:
        raise ValueError(f"{_describe(name, node)}: its dense matrix would have {rows * columns} entries "
                         f"({rows} x {columns}), more than the limit of {MAX_WEIGHTS}")
    o, c, a, b, y, x = np.ix_(*(np.arange(n) for n in (out_channels, group_channels, kernel_h, kernel_w, out_h,
                                                         out_w)))
    channel = (o // (out_channels // groups)) * group_channels + c
    row_in = y * stride[0] - padding[0][0] + a * dilation[0]
    column_in = x * stride[1] - padding[1][0] + b * dilation[1]
    target = (o * out_h + y) * out_w + x
    source = (channel * height + row_in) * width + column_in
    inside = (row_in >= 0) & (row_in < height) & (column_in >= 0) & (column_in < width)
    full = np.broadcast_shapes(target.shape, source.shape, inside.shape)
    values = np.broadcast_to(weight[:, :, :, :, None, None], full)
    inside = np.broadcast_to(inside, full)
    matrix = np.zeros((rows, columns))
    matrix[np.broadcast_to(target, full)[inside], np.broadcast_to(source, full)[inside]] = values[inside]
    return _Map(shape, (out_channels, out_h, out_w), matrix, np.repeat(bias, out_h * out_w))


_MAPS = {"Affine": _affine, "Linear": _affine, "Scale": _scale, "Flatten": _flatten, "Conv2d": _conv2d,
         "SumPool2d": _pool, "AvgPool2d": _pool}


def _decay(tau, dt, integrator):
    """``(beta, 1 - beta)`` per step for time constants ``tau``."""
    if integrator == "euler":
        return 1 - dt / tau, dt / tau
    return np.exp(-dt / tau), -np.expm1(-dt / tau)


def _time_constant(name, node, field, shape, dt, integrator, notes):
    tau = _parameter(name, node, field, shape)
    if np.any(tau <= 0):
        raise ValueError(f"{_describe(name, node)}: {field} must be > 0 seconds, not {float(tau[tau <= 0].flat[0])!r}")
    if integrator == "euler" and np.any(tau <= dt):
        notes.append(f"{_describe(name, node)}: {field} <= dt, so the Euler decay per step is <= 0 (unstable)")
    return _decay(tau, dt, integrator)


def _population(name, node, shape, dt, integrator, notes):
    """``(population, gain)``: the neuron node as a Population with a zero bias, and its input gain."""
    model = _NEURONS[type(node).__name__]
    if name == INPUT:
        raise ValueError(f"{_describe(name, node)}: the name {INPUT!r} is reserved for the network's input")
    size = math.prod(shape)

    def get(field):
        return _parameter(name, node, field, shape).reshape(size).copy()

    def decay(field):
        return (x.reshape(size) for x in _time_constant(name, node, field, shape, dt, integrator, notes))

    alpha, leak = np.zeros(size), np.zeros(size)
    if model == "if":
        beta, gain = np.ones(size), get("r") * dt
    elif model == "lif":
        beta, complement = decay("tau")
        leak, gain = complement * get("v_leak"), get("r") * complement
    else:
        beta, complement = decay("tau_mem")
        alpha, synapse = decay("tau_syn")
        leak, gain = complement * get("v_leak"), get("r") * complement * get("w_in") * synapse
        if integrator == "exact":
            notes.append(f"{_describe(name, node)}: 'exact' solves the current and the voltage each with the other "
                         f"held over the step (the voltage sees the step's new current), not the pair jointly")
    population = Population(name, model, beta, alpha, get("v_threshold"), get("v_reset"), leak, np.zeros(size))
    return population, gain


def _check_size(name, node, matrix):
    if matrix is not None and matrix.size > MAX_WEIGHTS:
        raise ValueError(f"{_describe(name, node)}: its composed dense matrix would have {matrix.size} entries "
                         f"({matrix.shape[0]} x {matrix.shape[1]}), more than the limit of {MAX_WEIGHTS}")


def _dense(matrix, size):
    return np.eye(size) if matrix is None else matrix


def _projections(layers, populations, gains):
    """``({(source, target): weight}, {target: bias})``: every population's input composed over the weight-like
    nodes before it, with the population's gain folded in."""
    given = {}

    def gives(name, visiting):
        """``({source: matrix, None for the identity}, bias)``: what node ``name`` gives."""
        if name == layers.source:
            return {INPUT: None}, np.zeros(math.prod(layers.out_shape[name]))
        if name in populations:
            return {name: None}, np.zeros(populations[name].size)
        if name not in given:
            if name in visiting:
                raise ValueError(f"{_describe(name, layers.nodes[name])} is on a cycle without a neuron node")
            weights, bias = takes(name, visiting | {name})
            layer = layers.maps[name]
            weights = {source: layer.apply(matrix) for source, matrix in weights.items()}
            for matrix in weights.values():
                _check_size(name, layers.nodes[name], matrix)
            given[name] = weights, layer.apply(bias[:, None])[:, 0] + layer.bias
        return given[name]

    def takes(name, visiting):
        """What node ``name`` takes: the sum of what its predecessors give."""
        size = math.prod(layers.in_shape[name])
        weights, bias = {}, np.zeros(size)
        for predecessor in layers.predecessors[name]:
            more, more_bias = gives(predecessor, visiting)
            for source, matrix in more.items():
                weights[source] = (_dense(weights[source], size) + _dense(matrix, size) if source in weights
                                   else matrix)
            bias = bias + more_bias
        return weights, bias

    projections, biases = {}, {}
    for name, population in populations.items():
        weights, bias = takes(name, frozenset())
        for source, matrix in weights.items():
            projections[source, name] = gains[name][:, None] * _dense(matrix, population.size)
        biases[name] = gains[name] * bias
    return projections, biases


def _order(projections):
    """``(populations in order, recurrent (source, target) pairs)``: the depth-first search of the module's
    docstring, from the input, targets in name order."""
    targets = {}
    for source, target in sorted(projections):
        targets.setdefault(source, []).append(target)
    finished, stack, recurrent = [], [], set()

    def visit(name):
        stack.append(name)
        for target in targets.get(name, ()):
            if target in stack:
                recurrent.add((name, target))
            elif target not in finished:
                visit(target)
        stack.pop()
        finished.append(name)

    visit(INPUT)
    return finished[-2::-1], recurrent
