"""The configuration commands that load a network onto a chip (pure Python; docs/chip.md).

A generated chip starts with empty tables; :func:`load_commands` gives, for a :class:`ChipParams` and its
weights, every command of the chip's ``cfg`` port that makes it run that network: each tile's key, phase and
input map, the cores' weights, the routers' tables, the number of phases and the output map. Commands are dicts
of the chip's command fields with enumeration members by name (``"WRITE"``, ``"MAP"``, ``"WEIGHT"``), as the
manifest's layouts pack them.
"""

from __future__ import annotations

import numpy as np

from spikeforge.sim.lif_core.fields import NEURON_FIELDS, state_names
from spikeforge.sim.stdp.rest import rest_writes


__all__ = ["load_commands", "rest_commands", "state_reads", "learning_reads", "neuron_arrays", "NEURON_ARRAYS",
           "LEARNING_STATE"]


#: The per-neuron parameters a network may give a core whose ``[lif_core]`` sets them ``"per_neuron"``: the name
#: after the core's in the network's arrays (``"hidden.threshold"``) -> the configuration field they load.
NEURON_ARRAYS = {"threshold": "THRESHOLD", "bias": "BIAS"}


def neuron_arrays(core):
    """The names of :data:`NEURON_ARRAYS` that ``core`` (a :class:`~spikeforge.hdl.chip.params.ChipCore`) takes
    per neuron."""
    p = core.params
    return [name for name, on in (("threshold", p.per_neuron_threshold), ("bias", p.per_neuron_bias)) if on]


def _write(unit, **fields):
    return {"op": "WRITE", "unit": unit, **fields}


def _entry(entry):
    return {"enable": 1, "key": entry.key, "first": entry.first, "count": entry.count, "base": entry.base}


def load_commands(params, weights=None):
    """Every command that loads the network of ``params`` with the arrays ``weights``: core name -> (axons,
    neurons) integer weights, and ``"<core>.threshold"`` / ``"<core>.bias"`` -> (neurons,) integers for a core
    that takes them per neuron (:func:`neuron_arrays`); zeros when missing. Everything is written whole, zeros
    included, as a board's memories start undefined."""
    weights = weights or {}
    commands = []
    for core in params.cores:
        node = core.node
        commands.append(_write("KEY", node=node, data=core.key))
        commands.append(_write("PHASE", node=node, data=core.phase))
        for index, entry in enumerate(params.input_map(core.name)):
            commands.append(_write("MAP", node=node, index=index, entry=_entry(entry)))
        w = np.zeros((core.params.axons, core.params.neurons), dtype=np.int64)
        if core.name in weights:
            w = np.asarray(weights[core.name], dtype=np.int64)
        for axon in range(core.params.axons):
            for neuron in range(core.params.neurons):
                commands.append(_write("CORE", node=node, field="WEIGHT", axon=axon, neuron=neuron,
                                       data=int(w[axon, neuron])))
        for name in neuron_arrays(core):
            values = weights.get(f"{core.name}.{name}", np.zeros(core.params.neurons, dtype=np.int64))
            commands += [_write("CORE", node=node, field=NEURON_ARRAYS[name], neuron=n, data=int(values[n]))
                         for n in range(core.params.neurons)]
    per_node = {}
    for row in params.routes():
        index = per_node.get(row["node"], 0)
        per_node[row["node"]] = index + 1
        commands.append(_write("ROUTE", node=row["node"], index=index,
                               route={"enable": 1, "key": row["key"], "mask": row["mask"], "route": row["route"]}))
    commands.append(_write("PHASES", data=params.phases))
    for index, entry in enumerate(params.output_map()):
        commands.append(_write("OUTPUT", index=index, entry=_entry(entry)))
    return commands


def rest_commands(params):
    """WRITE commands that return every core to the state a reset chip starts from, as between the samples of a
    batch: every neuron's state, and a learning core's learning state
    (:func:`~spikeforge.sim.stdp.rest.rest_writes`: traces, fired bits, LFSRs, plastic bits...) and the events
    its tile holds for its next tick (those that came after the last tick: a recurrent connection's). The state
    in memories survives a reset; the LFSRs and the tile's events are registers, but a chip is reset once, not
    between samples."""
    commands = []
    for c in params.cores:
        commands += [_write("CORE", node=c.node, field=NEURON_FIELDS[field], neuron=n, data=0)
                     for field in ("acc", *state_names(c.params)) for n in range(c.params.neurons)]
        if c.stdp:
            commands += [_write("CORE", node=c.node, **write) for write in rest_writes(c.params, c.stdp)]
            commands += [_write("PENDING", node=c.node, axon=a, data=0) for a in range(c.params.axons)]
    return commands


def state_reads(params, names):
    """READ commands of the per-neuron fields ``names`` (configuration field names, e.g. ``"V"``) of every
    neuron of every core, in the order (core, field, neuron)."""
    return [{"op": "READ", "unit": "CORE", "node": core.node, "field": field, "neuron": n}
            for core in params.cores for field in names for n in range(core.params.neurons)]


#: A learning core's state beyond its neurons': the configuration field -> its golden model attribute
#: (:class:`~spikeforge.sim.stdp.model.StdpModel`) and what addresses it.
LEARNING_STATE = {"WEIGHT": ("weights", "synapse"), "X_TRACE": ("x", "axon"), "FIRED": ("fired", "axon"),
                  "Y_TRACE": ("y", "neuron"), "LFSR": ("lfsr", "lane")}


def learning_reads(params):
    """READ commands of every learning core's state beyond its neurons' (:data:`LEARNING_STATE`; the LFSRs with
    stochastic rounding only), each with where the golden model holds it: a list of ``(command, core name,
    model attribute, index)``, the index an axon, a neuron, a lane or an ``(axon, neuron)`` pair."""
    reads = []
    for c in params.cores:
        if not c.stdp:
            continue
        p = c.params
        indices = {"synapse": [(a, n) for a in range(p.axons) for n in range(p.neurons)], "axon": range(p.axons),
                   "neuron": range(p.neurons), "lane": range(p.lanes if c.stdp.has_lfsr else 0)}
        for field, (attribute, by) in LEARNING_STATE.items():
            for index in indices[by]:
                axon, neuron = index if by == "synapse" else (index, 0) if by == "axon" else (0, index)
                reads.append(({"op": "READ", "unit": "CORE", "node": c.node, "field": field, "axon": axon,
                               "neuron": neuron}, c.name, attribute, index))
    return reads
