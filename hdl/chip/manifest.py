"""A chip's part of its manifest (:mod:`spikeforge.hdl.manifest`): its parameters (the ``[chip]`` table, which
describes the network too) and the layouts of its configuration commands, see docs/chip.md."""

from ..export import describe_shape
from ..manifest import describe_block
from .chip import Chip


__all__ = ["chip_manifest"]


def chip_manifest(chip):
    """Describe a :class:`~spikeforge.hdl.chip.chip.Chip`: ``parameters`` (the ``[chip]`` table), ``derived``
    (the phases, sources, key and neuron widths and the tiles' nodes) and ``memory_map`` (the configuration
    command and response layouts, and the sizes of the tables they address)."""
    if not isinstance(chip, Chip):
        raise TypeError(f"chip must be a Chip, not {chip!r}")
    p = chip.params
    derived = {"phases": p.phases, "sources": p.sources, "key_bits": p.key_bits, "neuron_bits": p.neuron_bits,
               "tiles": {c.name: {"node": c.node, "key": c.key, "phase": c.phase} for c in p.cores},
               "outputs": p.output_count}
    memory_map = {"cfg": {"command": describe_shape(chip.cfg_layout), "response": describe_shape(chip.cfg_rsp_layout),
                          "map_size": p.map_size, "table_size": p.table_size, "output_map_size": len(p.outputs)}}
    return describe_block("chip", {"chip": p.to_dict()}, derived=derived, memory_map=memory_map)
