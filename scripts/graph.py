"""``spikeforge simulate NET.nir``: a NIR graph on its float reference (:mod:`spikeforge.sim.nir.reference`)."""

from __future__ import annotations

import numpy as np

from spikeforge.sim.nir.graph import read_network
from spikeforge.sim.files import read_spikes
from spikeforge.sim.nir.reference import run


__all__ = ["simulate_graph"]


def simulate_graph(path, input_path, stage, *, dt, integrator):
    """Run the graph at ``path`` on the input spikes of ``input_path``; write ``stage/out.npz`` (``spikes``, the
    output populations' spikes, and ``<population>.spikes`` for every population) and return a summary.
    Raises ValueError (one line) for a bad graph or input."""
    network = read_network(path, dt=dt, integrator=integrator)
    result = run(network, read_spikes(input_path, network.inputs))
    layers = {f"{name}.spikes": spikes for name, spikes in result.populations.items()}
    np.savez(stage / "out.npz", spikes=result.spikes, **layers)
    return f"{int(result.spikes.sum())} output spikes of shape {result.spikes.shape} on the float reference"
