"""The golden model of the router and the mesh, its comparison rules, the packet files and the model back end of
``simulate``, with the shipped examples."""

import tomllib
from pathlib import Path

import pytest

from spikeforge.hdl.aer.params import EAST, LATENCY, LOCAL, NORTH, SOUTH, WEST, MeshParams, RouterParams
from spikeforge.sim.aer.model import AerModel, Delivery, Packet
from spikeforge.sim.aer.simulate import PacketFileError, read_packets, simulate, write_delivered
from spikeforge.sim.aer.traffic import injection_times, multicast_tree_routes, uniform_random


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_xy_routes_x_first():
    mesh = MeshParams.create(width=4, height=3)
    model = AerModel(mesh)
    assert model.route(mesh.node(1, 1), (3, 0)) == 1 << EAST
    assert model.route(mesh.node(3, 1), (3, 0)) == 1 << NORTH
    assert model.route(mesh.node(3, 0), (3, 2)) == 1 << SOUTH
    assert model.route(mesh.node(3, 2), (0, 2)) == 1 << WEST
    assert model.route(mesh.node(0, 2), (0, 2)) == 1 << LOCAL
    traffic = model.run([Packet(t=10, src=mesh.node(0, 0), dest=(3, 2), payload=1)])
    delivery, = traffic.delivered[mesh.node(3, 2)]
    assert delivery.t == 10 + LATENCY * 6          # 5 hops, 6 routers
    # The path: east along row 0, then south down column 3.
    assert traffic.forwarded[mesh.node(0, 0), EAST] == 1 and traffic.forwarded[mesh.node(3, 0), SOUTH] == 1
    assert traffic.forwarded.sum() == 6


def test_standalone_xy_router_drops_off_mesh_destinations():
    model = AerModel(RouterParams.create(width=3, height=3, x=1, y=1))
    traffic = model.run([Packet(t=0, src=NORTH, dest=(3, 1), payload=0), Packet(t=0, src=EAST, dest=(1, 1), payload=0)])
    assert traffic.dropped.tolist() == [[1, 0, 0, 0, 0]]
    assert traffic.forwarded.tolist() == [[0, 0, 0, 0, 1]]


def test_table_multicast_default_and_saturation():
    params = RouterParams.create(routing="table", ports=3, key_bits=4, table_size=2, miss="default",
                                 default_route=0b100, counter_bits=2,
                                 routes=[{"key": 0x4, "mask": 0xC, "route": 0b011}, {"key": 0x5, "mask": 0xF,
                                                                                      "route": 0b100}])
    model = AerModel(params)
    assert model.reach(0x5) == [0, 1]      # the first match wins, not the exact one
    assert model.reach(0x1) == [2]
    traffic = model.run([Packet(t=0, src=0, dest=0x6, payload=p) for p in range(5)])
    assert traffic.forwarded.tolist() == [[3, 3, 0]]     # 5 copies each, saturated at 2 bits


def test_mesh_table_ignores_routes_off_the_mesh():
    params = MeshParams.create(width=2, height=1, routing="table", key_bits=2, table_size=1,
                               routes=[{"node": 0, "key": 1, "mask": 3, "route": (1 << NORTH) | (1 << EAST)},
                                       {"node": 1, "key": 1, "mask": 3, "route": 1 << SOUTH}])
    traffic = AerModel(params).run([Packet(t=0, src=0, dest=1, payload=9)])
    assert not any(traffic.delivered.values())
    assert traffic.forwarded[0].tolist() == [0, 1, 0, 0, 0] and traffic.dropped[1].tolist() == [0, 0, 0, 1, 0]


def test_multicast_trees_reach_their_targets_once():
    params = MeshParams.create(width=4, height=4, routing="table", key_bits=4, table_size=16)
    targets = {n: [(n * 7 + k) % 16 for k in range(5)] for n in range(16)}
    params = MeshParams.create(**{**params.to_dict(), "routes": multicast_tree_routes(params, targets)})
    model = AerModel(params)
    for src, dests in targets.items():
        assert model.reach(src, src=src) == sorted(dests)


def test_compare_names_the_first_difference():
    model = AerModel(MeshParams.create(width=2, height=1))
    a, b = (Delivery(t=0, node=1, src=0, dest=(1, 0), payload=p) for p in (1, 2))
    assert model.compare({1: [a, b]}, {1: [a, b]}) is None
    assert model.compare({1: [a, b]}, {1: [b, a]}) == (
        "node 1: a flow is out of order at its packet 0: the RTL delivered packet src 0 -> (1, 0) payload 2 "
        "where the model expects packet src 0 -> (1, 0) payload 1")
    assert model.compare({1: [a, b]}, {1: [a]}) == (
        "node 1: packet src 0 -> (1, 0) payload 2 was delivered 0 time(s) by the RTL, 1 by the model")
    assert model.compare({1: [a]}, {1: [a, a]}) == (
        "node 1: packet src 0 -> (1, 0) payload 1 was delivered 2 time(s) by the RTL, 1 by the model")
    # Different flows may interleave freely.
    c = Delivery(t=0, node=1, src=1, dest=(1, 0), payload=3)
    assert model.compare({1: [a, c]}, {1: [c, a]}) is None


def test_traffic_generators():
    rng_times = injection_times(200, load=0.25, rng=__import__("random").Random(0))
    assert rng_times == sorted(rng_times) and 500 < rng_times[-1] < 1100
    mesh = MeshParams.create(width=3, height=3)
    packets = uniform_random(mesh, count=10, seed=1)
    assert len(packets) == 90 and all(mesh.node(*p.dest) != p.src for p in packets)


def _write(tmp_path, text):
    path = tmp_path / "packets.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("t,src,payload\n", r"line 1: expected the header 't,src,dest,payload', found 't,src,payload'"),
    ("", r"line 1: expected the header 't,src,dest,payload', found 'an empty file'"),
    ("t,src,dest,payload\n0,1,2\n", r"line 2: expected 4 integers 't,src,dest,payload', found '0,1,2'"),
    ("t,src,dest,payload\n0,1,2,x\n", r"line 2: expected 4 integers 't,src,dest,payload', found '0,1,2,x'"),
    ("t,src,dest,payload\n\n-1,0,0,0\n", r"line 3: time -1 is negative"),
    ("t,src,dest,payload\n0,4,0,0\n", r"line 2: src 4 is out of range 0..3 \(the mesh's nodes\)"),
    ("t,src,dest,payload\n0,0,4,0\n", r"line 2: dest 4 is out of range 0..3 \(the mesh's nodes\)"),
    ("t,src,dest,payload\n0,0,0,256\n", r"line 2: payload 256 is out of range 0..255 \(payload_bits = 8\)"),
])
def test_packet_file_errors(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(PacketFileError, match=rf"^{path} {message}$"):
        read_packets(path, MeshParams.create(width=2, height=2, payload_bits=8))


def test_packet_file_with_tags_and_keys(tmp_path):
    params = RouterParams.create(routing="table", ports=2, key_bits=4, tag_bits=2)
    path = _write(tmp_path, "t,src,dest,payload,tag\n3,1,15,7,3\n")
    assert read_packets(path, params) == [Packet(t=3, src=1, dest=15, payload=7, tag=3)]
    with pytest.raises(PacketFileError, match=r"line 2: src 2 is out of range 0..1 \(the router's input ports\)$"):
        read_packets(_write(tmp_path, "t,src,dest,payload\n0,2,0,0\n"), params)
    with pytest.raises(PacketFileError, match=r"line 2: dest 16 is out of range 0..15 \(key_bits = 4\)$"):
        read_packets(_write(tmp_path, "t,src,dest,payload\n0,1,16,0\n"), params)


@pytest.mark.parametrize("config, packets, kind", [
    ("mesh_4x4.toml", "mesh_4x4_packets.csv", "mesh"),
    ("router_table.toml", "router_table_packets.csv", "router"),
])
def test_examples_simulate_on_the_model(config, packets, kind, tmp_path):
    tables = tomllib.loads((EXAMPLES / config).read_text())
    params = (MeshParams if kind == "mesh" else RouterParams).create(**tables[kind])
    packet_list = read_packets(EXAMPLES / packets, params)
    rows = simulate(params, packet_list, "model")
    expected = AerModel(params).run(packet_list)
    assert len(rows) == sum(map(len, expected.delivered.values())) > 0
    assert rows == sorted(rows, key=lambda row: (row[0], row[1]))
    write_delivered(tmp_path / "delivered.csv", rows, params)
    lines = (tmp_path / "delivered.csv").read_text().splitlines()
    assert lines[0] == "t,node,src,payload" and len(lines) == len(rows) + 1
