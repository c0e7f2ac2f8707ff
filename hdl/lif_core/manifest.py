"""The LIF core's part of its manifest (:mod:`spikeforge.hdl.manifest`): parameters, derived widths and the
memory map, see docs/lif_core.md.
"""

from ..export import describe_shape
from ..manifest import describe_block

from .core import CfgField, CfgOp, LifCore


__all__ = ["lif_core_manifest"]


# The addresses a configuration field uses (see CfgField); the others address a neuron.
_ADDRESSES = {
    CfgField.WEIGHT: ("axon", "neuron"),
    CfgField.ELIGIBILITY: ("axon", "neuron"),
    CfgField.X_TRACE: ("axon",),
    CfgField.FIRED: ("axon",),
    CfgField.LEARNING: (),
}


def _memory_map(core):
    p = core.params
    ranges = {"axon": [0, p.axons - 1], "neuron": [0, p.neurons - 1]}
    fields = {}
    for field, (width, is_signed) in core.field_widths().items():
        entry = {"code": field.value, "width": width, "signed": is_signed}
        for address in _ADDRESSES.get(field, ("neuron",)):
            entry[address] = ranges[address]
        fields[field.name] = entry
    return {
        "cfg": {
            "command": describe_shape(core.cfg_layout),
            "response": describe_shape(core.cfg_rsp_layout),
            "ops": {op.name: op.value for op in CfgOp},
            "fields": fields,
        },
        "memories": {
            "weight": {
                "depth": p.axons * p.groups,
                "width": p.lanes * p.weight_bits,
                "address": "axon * groups + neuron // lanes",
                "lane": "neuron % lanes",
                "lane_shape": {"width": p.weight_bits, "signed": True},
            },
            "state": {
                "depth": p.groups,
                "width": p.lanes * core.neuron_layout.size,
                "address": "neuron // lanes",
                "lane": "neuron % lanes",
                "lane_shape": describe_shape(core.neuron_layout),
            },
        },
    }


def lif_core_manifest(core):
    """Describe a :class:`~spikeforge.hdl.lif_core.core.LifCore` for its manifest.

    Returns
    -------
    dict
        For :func:`spikeforge.hdl.export.export`: ``parameters`` (the ``[lif_core]`` table, and the ``[stdp]``
        table of a core with a learning engine), ``derived`` (the counts and widths the ports and memories
        follow from) and ``memory_map`` (configuration fields with their widths and address ranges; weight and
        state memories with depth and width).
    """
    if not isinstance(core, LifCore):
        raise TypeError(f"core must be a LifCore, not {core!r}")
    p = core.params
    parameters = {"lif_core": p.to_dict()}
    if core.stdp is not None:
        parameters["stdp"] = core.stdp.to_dict()
    derived = {
        "groups": p.groups,
        "axon_bits": core.axon_bits,
        "neuron_bits": core.neuron_bits,
        "data_bits": core.data_bits,
        "state_bits": p.state_bits,
        "acc_bits": p.acc_bits,
        "u_bits": p.u_bits if p.has_current else None,
    }
    return describe_block("lif_core", parameters, derived=derived, memory_map=_memory_map(core))
