"""What a memory declares about itself for the build flow, as Yosys attributes on the memory.

A block marks its memories when it creates them (``Memory(..., attrs=memory_attrs(...))``); the build flow
(:mod:`spikeforge.boards.build`) reads the marks from the design and chooses the RAM for each memory by them,
never by the memory's name:

- ``host_loaded``: the host writes every word before the contents are used, so the initial contents may be
  dropped (on the iCE40UP5K a memory with initial contents cannot map to SPRAM);
- ``single_port``: one access per cycle, one address for reads and writes and no read during a write, so the
  memory may map to single-port RAM (the UP5K's SPRAM);
- ``collision_free``: no read ever addresses the word written in the same cycle, so what such a read would
  return does not matter. Block RAMs do not forward a write to a read of the same word, and Yosys otherwise
  builds the read port's behaviour on a collision (a transparent or a read-first port) from a register and a
  multiplexer per bit of the word, in front of whatever uses the data.
"""

__all__ = ["HOST_LOADED", "SINGLE_PORT", "COLLISION_FREE", "memory_attrs"]


HOST_LOADED = "spikeforge_host_loaded"
SINGLE_PORT = "spikeforge_single_port"
COLLISION_FREE = "spikeforge_collision_free"


def memory_attrs(*, host_loaded=False, single_port=False, collision_free=False):
    """The ``attrs`` of a :class:`amaranth.lib.memory.Memory` that declares these roles."""
    attrs = {}
    if host_loaded:
        attrs[HOST_LOADED] = 1
    if single_port:
        attrs[SINGLE_PORT] = 1
    if collision_free:
        attrs[COLLISION_FREE] = 1
    return attrs
