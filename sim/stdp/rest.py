"""The configuration writes that give a learning core the state a fresh golden model starts from. Pure Python.

A reset clears the learning engine's registers but not its memories, and a board is reset once, when it is
programmed: before a run (or between the samples of a batch) a host writes every trace, fired bit and
eligibility to 0, makes every neuron plastic, turns learning on and seeds the LFSRs, as
:class:`~spikeforge.sim.stdp.model.StdpModel` starts.
"""

from __future__ import annotations

from spikeforge.hdl.stdp.lfsr import lfsr_seeds


__all__ = ["rest_writes"]


def rest_writes(params, stdp):
    """The writes, as ``{"field": name, "axon": a, "neuron": n, "data": value}`` (configuration field names of
    :class:`~spikeforge.hdl.lif_core.core.CfgField`), that return a learning core of ``params`` and ``stdp`` to
    a fresh model's learning state; the neuron state (v, u, acc, refractory) is not among them."""
    def write(field, axon=0, neuron=0, data=0):
        return {"field": field, "axon": axon, "neuron": neuron, "data": int(data)}

    writes = [write(field, axon=a) for field in ("X_TRACE", "FIRED") for a in range(params.axons)]
    writes += [write(field, neuron=n, data=value) for field, value in (("Y_TRACE", 0), ("PLASTIC", 1))
               for n in range(params.neurons)]
    if stdp.reward:
        writes += [write("ELIGIBILITY", axon=a, neuron=n) for a in range(params.axons) for n in range(params.neurons)]
    if stdp.has_lfsr:
        writes += [write("LFSR", neuron=lane, data=seed) for lane, seed in enumerate(lfsr_seeds(stdp.seed, params.lanes))]
    writes.append(write("LEARNING", data=1))
    return writes
