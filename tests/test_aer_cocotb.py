"""The router's and the mesh's generated Verilog against the golden model, in Icarus and Verilator through cocotb.

Each configuration is built once per simulator into its own directory under ``tmp_path`` and runs
:mod:`spikeforge.sim.aer.bench`: the tables are loaded and read back through the configuration port, the traffic
is injected with random idle cycles and random backpressure at every sink, the network must drain (no deadlock),
and every output's deliveries (no loss, no duplication, order per flow) and every counter must equal the model's.
"""

import random
import re
import tomllib
from pathlib import Path

import pytest

from spikeforge.hdl.aer.params import MeshParams, RouterParams
from spikeforge.sim.aer.model import AerModel, Packet
from spikeforge.sim.aer.rtl import run_rtl
from spikeforge.sim.aer.simulate import read_packets, simulate
from spikeforge.sim.aer.traffic import multicast_tree_routes, random_routes, uniform_random
from spikeforge.sim.aer.verify import verify


pytestmark = pytest.mark.cocotb


def _router_xy():
    # XY router at the centre of a 3 x 3 mesh; destinations over the whole 2-bit fields, so some lie outside
    # the mesh and are dropped; a timestep tag; two-deep FIFOs.
    params = RouterParams.create(width=3, height=3, x=1, y=1, payload_bits=5, tag_bits=2, fifo_depth=2)
    return params, uniform_random(params, count=40, seed=1, out_of_range=True), dict(idle=0.3, stall=0.4)


def _router_table_multicast():
    # Random overlapping key/mask entries with multicast and empty routes; misses are dropped.
    params = RouterParams.create(routing="table", ports=4, key_bits=6, table_size=6, fifo_depth=3, payload_bits=8)
    params = RouterParams.create(**{**params.to_dict(), "routes": random_routes(params, entries=5, seed=3)})
    return params, uniform_random(params, count=40, seed=4), dict(idle=0.2, stall=0.3)


def _router_table_default():
    # Misses take the default route (ports 0 and 5); a table of 3 (refused commands at index 3); 5-bit counters
    # that saturate; one-deep FIFOs.
    params = RouterParams.create(routing="table", ports=6, key_bits=4, table_size=3, fifo_depth=1, payload_bits=3,
                                 miss="default", default_route=0b100001, counter_bits=5,
                                 routes=[{"key": 0x1, "mask": 0xF, "route": 0b000110},
                                         {"key": 0x8, "mask": 0x8, "route": 0b011000},
                                         {"key": 0x0, "mask": 0xE, "route": 0b000000}])
    return params, uniform_random(params, count=20, seed=5), dict(idle=0.1, stall=0.5)


def _mesh_2x2_xy():
    # Saturating uniform random traffic (everything ready at cycle 0) into a 2 x 2 mesh with two-deep FIFOs.
    params = MeshParams.create(width=2, height=2, payload_bits=8, fifo_depth=2)
    return params, uniform_random(params, count=60, seed=6), dict(idle=0.0, stall=0.3)


def _mesh_4x4_xy():
    # Saturating uniform random traffic on the 4 x 4 mesh of the benchmarks.
    params = MeshParams.create(width=4, height=4, payload_bits=16, fifo_depth=4)
    return params, uniform_random(params, count=40, seed=7), dict(idle=0.0, stall=0.2)


def _mesh_3x2_table():
    # Multicast trees: each node's key goes to a set of nodes; some keys match nothing and are dropped.
    params = MeshParams.create(width=3, height=2, routing="table", key_bits=3, table_size=6, payload_bits=6,
                               fifo_depth=2, tag_bits=1)
    targets = {0: [5, 2, 3], 1: [0, 1], 2: [3], 3: [0, 1, 2, 3, 4, 5], 4: [], 5: [4, 0]}
    params = MeshParams.create(**{**params.to_dict(), "routes": multicast_tree_routes(params, targets)})
    packets = uniform_random(params, count=30, seed=8, keys=[0, 1, 2, 3, 4, 5, 7])
    return params, packets, dict(idle=0.2, stall=0.3)


def _mesh_4x4_table():
    # Saturating traffic (everything ready at cycle 0) on a 4 x 4 mesh of table routers with every node on up to
    # 16 random XY multicast trees (its own key to a random set of nodes); one packet in eight has a key no table
    # holds (dropped at its first router).
    params = MeshParams.create(width=4, height=4, routing="table", key_bits=5, table_size=16, payload_bits=8,
                               fifo_depth=4)
    rng = random.Random(12)
    targets = {k: rng.sample(range(16), rng.randrange(1, 9)) for k in range(16)}
    params = MeshParams.create(**{**params.to_dict(), "routes": multicast_tree_routes(params, targets)})
    packets = [Packet(t=0, src=p.src, dest=31 if p.payload % 8 == 0 else p.src, payload=p.payload)
               for p in uniform_random(params, count=40, seed=13)]
    return params, packets, dict(idle=0.0, stall=0.2)


CONFIGS = {
    "router_xy": _router_xy,
    "router_table_multicast": _router_table_multicast,
    "router_table_default": _router_table_default,
    "mesh_2x2_xy": _mesh_2x2_xy,
    "mesh_4x4_xy": _mesh_4x4_xy,
    "mesh_3x2_table": _mesh_3x2_table,
    "mesh_4x4_table": _mesh_4x4_table,
}


@pytest.mark.parametrize("name", CONFIGS)
def test_aer_matches_model(name, sim, build_dir):
    params, packets, stalls = CONFIGS[name]()
    result = run_rtl(params, packets, sim=sim, build_dir=build_dir, seed=11, **stalls)
    assert result.ok, result.message
    expected = AerModel(params).run(packets)
    assert sum(map(len, result.delivered.values())) == sum(map(len, expected.delivered.values()))
    assert len(result.injected) == len(packets)


def test_stimulus_covers_the_corners():
    """The configurations exercise what they claim: drops, multicast, default routes, saturated counters."""
    params, packets, _ = _router_xy()
    assert AerModel(params).run(packets).dropped.sum() > 0
    params, packets, _ = _router_table_multicast()
    model = AerModel(params)
    assert any(len(model.reach(p.dest)) > 1 for p in packets) and model.run(packets).dropped.sum() > 0
    params, packets, _ = _router_table_default()
    traffic = AerModel(params).run(packets)
    assert (traffic.forwarded == params.counter_max).any() and traffic.dropped.sum() > 0
    params, packets, _ = _mesh_3x2_table()
    traffic = AerModel(params).run(packets)
    assert traffic.dropped.sum() > 0 and max(map(len, traffic.delivered.values())) > 30
    params, packets, _ = _mesh_4x4_table()
    model = AerModel(params)
    traffic = model.run(packets)
    assert traffic.dropped.sum() > 0 and max(len(model.reach(k, src=k)) for k in range(16)) > 4


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_simulate_example_on_icarus(icarus, tmp_path):
    """The RTL back end of ``simulate`` delivers, at each output, what the model delivers (times aside)."""
    params = RouterParams.create(**tomllib.loads((EXAMPLES / "router_table.toml").read_text())["router"])
    packets = read_packets(EXAMPLES / "router_table_packets.csv", params)
    rtl = simulate(params, packets, icarus, tmp_path)
    model = simulate(params, packets, "model")
    assert sorted(row[1:] for row in rtl) == sorted(row[1:] for row in model)
    assert all(row[0] >= 0 for row in rtl)


def test_verify_on_icarus(icarus, tmp_path):
    ok, message = verify(RouterParams.create(routing="table", ports=3, key_bits=4, table_size=4, payload_bits=4),
                         sim=icarus, packets=20, seed=3, build_dir=tmp_path)
    assert ok, message
    assert re.match(r"^icarus: 60 packets from seed 3 matched the model: \d+ deliveries in \d+ cycles, flows in "
                    r"order, counters equal, drained$", message)
