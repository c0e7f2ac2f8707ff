"""Activity-based energy estimates: counts of operations times energies per operation.

The defaults are 45 nm CMOS figures from M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014: an 8-bit integer add costs 0.03 pJ and a 32-bit add 0.1 pJ; reading 64 bits from an 8 KB SRAM
costs about 10 pJ (0.16 pJ per bit). A synaptic operation is one add of a weight into an accumulator (0.05 pJ,
between the 8- and 32-bit adds); a neuron update is a handful of adds, shifts and a compare (0.5 pJ). FPGA
fabric spends roughly ten times more; the figures are for comparing design points with each other, not for
predicting a board's power. A sweep's space file overrides any of them in its ``[energy]`` table.
"""

from __future__ import annotations


__all__ = ["DEFAULT_PJ", "energy_pj"]


#: Energy per operation in picojoules.
DEFAULT_PJ = {
    "synaptic_op": 0.05,
    "neuron_update": 0.5,
    "memory_read_bit": 0.16,
    "memory_write_bit": 0.16,
}


def energy_pj(activity, energies=None):
    """Total energy of an :class:`~spikeforge.sim.lif_core.workload.Activity` in pJ."""
    e = dict(DEFAULT_PJ)
    e.update(energies or {})
    unknown = sorted(set(e) - set(DEFAULT_PJ))
    if unknown:
        raise ValueError(f"Unknown energy '{unknown[0]}'; known energies are {', '.join(DEFAULT_PJ)}")
    return (activity.synaptic_ops * e["synaptic_op"]
            + activity.neuron_updates * e["neuron_update"]
            + (activity.weight_reads_bits + activity.state_reads_bits) * e["memory_read_bit"]
            + (activity.weight_writes_bits + activity.state_writes_bits) * e["memory_write_bit"])
