"""One core shape everywhere (``spikeforge compile --uniform``): every core gets the neurons and axons of the
largest, the widest membrane, the fewest lanes, and its threshold and bias per neuron, so that one bitstream
runs any network whose layers fit that shape (the rest, its tables and maps, is loaded at run time).

A core smaller than the shape gets padding neurons that never fire (their threshold is the largest membrane
value, which ``v > threshold`` never passes) and are no output, and padding axons that nothing drives. The
layers must share the neuron model and the decays, which are part of the hardware.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import CompileError


__all__ = ["uniform"]


#: The ``[lif_core]`` keys that are hardware and must agree between every layer's cores.
_SHARED = ("model", "decay", "decay_v", "decay_u", "compare", "reset", "v_reset", "bias_into", "weight_bits")


def _check_shared(cores):
    first_name, first = next(iter(cores.items()))
    for name, core in cores.items():
        for key in _SHARED:
            if core.get(key) != first.get(key):
                raise CompileError(f"--uniform needs one neuron model and one decay for every core: '{first_name}' "
                                   f"has {key} = {first.get(key)!r}, '{name}' {core.get(key)!r}")


def _padded(values, size, fill):
    out = np.full(size, fill, dtype=np.int64)
    out[:len(values)] = values
    return out


def uniform(cores, arrays):
    """``(cores, arrays)`` of one shape; ``cores`` are ``[lif_core]`` tables with a ``node``, ``arrays`` the
    network's weights and per-neuron values (docs/chip.md)."""
    _check_shared(cores)
    neurons = max(c["neurons"] for c in cores.values())
    axons = max(c["axons"] for c in cores.values())
    state_bits = max(c["state_bits"] for c in cores.values())
    lanes = math.gcd(neurons, min(c["lanes"] for c in cores.values()))
    never = (1 << (state_bits - 1)) - 1
    shaped, values = {}, {}
    for name, core in cores.items():
        count = core["neurons"]
        weights = np.zeros((axons, neurons), dtype=np.int64)
        weights[:core["axons"], :count] = arrays[name]
        values[name] = weights
        for key, fill in (("threshold", never), ("bias", 0)):
            given = arrays.get(f"{name}.{key}", np.full(count, core[key]))
            values[f"{name}.{key}"] = _padded(given, neurons, fill)
        shaped[name] = {**core, "neurons": neurons, "axons": axons, "lanes": lanes, "state_bits": state_bits,
                        "threshold": "per_neuron", "bias": "per_neuron"}
    return shaped, values
