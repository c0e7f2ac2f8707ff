"""The LIF core's per-neuron fields as the golden models name them, and the configuration fields that hold them.
Pure Python.

What a core of given parameters stores is defined once, in :meth:`LifParams.neuron_fields` (the neuron record;
docs/lif_core.md, "Memory map"); its fields carry the names of the golden models' attributes
(:class:`~spikeforge.sim.lif_core.model.LifModel`, :class:`~spikeforge.sim.stdp.model.StdpModel`).
"""

from __future__ import annotations


__all__ = ["NEURON_FIELDS", "state_names"]


# Field of the neuron record (model attribute) -> configuration field (CfgField member name).
NEURON_FIELDS = {"v": "V", "u": "U", "acc": "ACC", "refractory": "REFRACTORY", "threshold": "THRESHOLD",
                 "bias": "BIAS", "y": "Y_TRACE", "plastic": "PLASTIC"}


def state_names(params):
    """The dynamic per-neuron state a core of ``params`` stores, the state a tick changes: v, u (model cuba) and
    the refractory counter (refractory > 0), in this order."""
    record = params.neuron_fields()
    return tuple(name for name in ("v", "u", "refractory") if name in record)
