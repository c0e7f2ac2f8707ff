"""A whole chip under the worst traffic we can make: eight cores on a 4 x 4 mesh (every other node, so every
router carries traffic), each multicasting every spike to the seven others (all to all, recurrent) and to the
host, almost every input firing, and the host port not ready
in most cycles. The RTL must lose, duplicate and deadlock nothing: every output and every neuron's state after
every step equal the golden model's, on both simulators."""

import numpy as np
import pytest

from chips import CORE, network
from spikeforge.sim.chip.model import ChipModel
from spikeforge.sim.chip.rtl import verify


NODES = {"a": 0, "b": 2, "c": 5, "d": 7, "e": 8, "f": 10, "g": 13, "h": 15}


def _connections():
    connections = []
    for name in NODES:
        connections.append({"source": "input", "target": name})
        others = [other for other in NODES if other != name]
        connections += [{"source": other, "target": name, "axon": 8 + 4 * i, "recurrent": True}
                        for i, other in enumerate(others)]
    return connections


ALL_TO_ALL = network(4, 4, {name: dict(CORE, neurons=4, axons=36, node=node) for name, node in NODES.items()},
                     _connections(), map_size=8, table_size=9)
STEPS, RATE, SEED = 5, 0.9, 5


def _weights():
    rng = np.random.default_rng(SEED)
    return {c.name: rng.integers(-8, 32, size=(c.params.axons, c.params.neurons)) for c in ALL_TO_ALL.cores}


def test_the_traffic_is_heavy():
    # Most neurons fire in most steps, so every step sends a spike from most neurons to seven cores and the host.
    model = ChipModel(ALL_TO_ALL, _weights())
    rng = np.random.default_rng(0)
    fired = [len(model.step([int(i) for i in np.flatnonzero(rng.random(8) < RATE)])) for _ in range(STEPS)]
    assert min(fired[1:]) >= 24, fired          # of 32 neurons


@pytest.mark.cocotb
def test_a_4x4_chip_all_to_all_under_host_backpressure_matches_the_model(sim, build_dir):
    ok, message = verify(ALL_TO_ALL, _weights(), sim=sim, steps=STEPS, seed=SEED, build_dir=build_dir, rate=RATE,
                         stall=0.8)
    assert ok, message
