"""Validation of the router and mesh parameters and of the routing table: every rule raises a message naming
the parameter, the value and the rule."""

import pytest

from spikeforge.hdl.aer.params import LOCAL, MeshParams, PacketFormat, RouterParams, RouteTable, TableEntry


def test_defaults_and_round_trip():
    router = RouterParams.create()
    assert (router.ports, router.routing, router.fifo_depth, router.payload_bits) == (5, "xy", 4, 16)
    table = RouterParams.create(routing="table", routes=[{"key": 1, "mask": 3, "route": 5}])
    assert table.routes.entries == ((TableEntry(key=1, mask=3, route=5),),)
    mesh = MeshParams.create(width=3, height=2, routing="table", key_bits=4,
                             routes=[{"node": 4, "key": 2, "mask": 15, "route": 1 << LOCAL}])
    wide = MeshParams.create(width=2, height=2, routing="table", lookups=3)
    assert wide.router(0).lookups == 3 and "lookups" not in router.to_dict()
    for params in (router, table, mesh, wide, MeshParams.create(width=4, height=4)):
        assert type(params).create(**params.to_dict()) == params


def test_packet_formats():
    assert MeshParams.create(width=4, height=4).packet == PacketFormat(
        routing="xy", x_bits=2, y_bits=2, key_bits=0, src_bits=4, payload_bits=16, tag_bits=0)
    fmt = RouterParams.create(routing="table", ports=6, key_bits=10, tag_bits=3).packet
    assert fmt.fields() == [("key", 10), ("src", 3), ("payload", 16), ("tag", 3)]
    assert fmt.width == 32


def test_mesh_geometry():
    mesh = MeshParams.create(width=3, height=2)
    assert mesh.position(5) == (2, 1) and mesh.node(2, 1) == 5
    assert [mesh.neighbour(4, port) for port in range(5)] == [1, 5, None, 3, None]
    assert mesh.links(0) == 0b10110   # east, south, local
    router = mesh.router(4)
    assert (router.x, router.y, router.width, router.height, router.src_bits) == (1, 1, 3, 2, 3)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(ports=4), ValueError,
     r"Parameter 'ports' must be 5 \(north, east, south, west, local\) for routing = 'xy'; 4 is out of range"),
    (dict(routing="mesh"), ValueError, r"Parameter 'routing' must be one of 'xy', 'table', not 'mesh'"),
    (dict(width=17), ValueError, r"Parameter 'width' must be in the range 1..16; 17 is out of range"),
    (dict(width=3, x=3), ValueError,
     r"Parameter 'x' must be a column of the 3-wide mesh \(0..2\); 3 is out of range"),
    (dict(payload_bits=33), ValueError, r"Parameter 'payload_bits' must be in the range 1..32; 33 is out of range"),
    (dict(payload_bits="8"), TypeError, r"Parameter 'payload_bits' must be an integer, not '8'"),
    (dict(fifo_depth=0), ValueError, r"Parameter 'fifo_depth' must be in the range 1..256; 0 is out of range"),
    (dict(route_ram=False), ValueError, r"Parameter 'route_ram' is only used by routing = 'table', not 'xy'"),
    (dict(routing="table", route_ram=1), TypeError, r"Parameter 'route_ram' must be true or false, not 1"),
    (dict(counter_bits=-1), ValueError,
     r"Parameter 'counter_bits' must be in the range 0..32 \(0: no counters\); -1 is out of range"),
    (dict(tag_bits=True), TypeError, r"Parameter 'tag_bits' must be an integer, not True"),
    (dict(key_bits=8), ValueError, r"Parameter 'key_bits' is only used by routing = 'table', not 'xy'"),
    (dict(miss="default"), ValueError, r"Parameter 'miss' is only used by routing = 'table', not 'xy'"),
    (dict(routes=[{"key": 0, "mask": 0, "route": 1}]), ValueError,
     r"Parameter 'routes' is only used by routing = 'table', not 'xy'"),
    (dict(routing="table", ports=33), ValueError, r"Parameter 'ports' must be in the range 1..32; 33 is out of range"),
    (dict(routing="table", x=1), ValueError, r"Parameter 'x' is only used by routing = 'xy', not 'table'"),
    (dict(routing="table", miss="default"), ValueError,
     r"Parameter 'default_route' must be a nonzero mask of the 4 output ports \(1..15\) when miss = 'default'; "
     r"0 is out of range"),
    (dict(routing="table", default_route=3), ValueError,
     r"Parameter 'default_route' is only used by miss = 'default', not 'drop'"),
    (dict(routing="table", table_size=0), ValueError,
     r"Parameter 'table_size' must be in the range 1..1024; 0 is out of range"),
    (dict(routing="table", lookups=5), ValueError,
     r"Parameter 'lookups' must be in the range 1..4 \(at most one per port\); 5 is out of range"),
    (dict(routing="table", lookups="2"), TypeError, r"Parameter 'lookups' must be an integer, not '2'"),
    (dict(lookups=2), ValueError, r"Parameter 'lookups' is only used by routing = 'table', not 'xy'"),
    (dict(colour="red"), ValueError, r"Unknown parameter 'colour'; known parameters are routing, .*"),
])
def test_router_rules(kwargs, error, message):
    with pytest.raises(error, match=rf"^{message}$"):
        RouterParams.create(**kwargs)


@pytest.mark.parametrize("routes, error, message", [
    ("nope", TypeError, r"Parameter 'routes' must be a list of tables of key, mask, route, not 'nope'"),
    ([3], TypeError, r"Parameter 'routes' entry 0 must be a table of key, mask, route, not 3"),
    ([{"key": 1, "mask": 1}], ValueError, r"Parameter 'routes' entry 0 has no field 'route'; its fields are key, "
                                          r"mask, route"),
    ([{"key": 1, "mask": 1, "route": 1, "node": 0}], ValueError,
     r"Parameter 'routes' entry 0 has an unknown field 'node'; its fields are key, mask, route"),
    ([{"key": 0, "mask": 0, "route": 1}, {"key": 16, "mask": 1, "route": 1}], ValueError,
     r"Parameter 'routes' entry 1: field 'key' must be in the range 0..15; 16 is out of range"),
    ([{"key": 0, "mask": 0, "route": 8}], ValueError,
     r"Parameter 'routes' entry 0: field 'route' must be in the range 0..7; 8 is out of range"),
    ([{"key": 5, "mask": 4, "route": 1}], ValueError,
     r"Parameter 'routes' entry 0: field 'key' 0x5 has bits outside its mask 0x4, so no packet can match it"),
    ([{"key": 0, "mask": 0.5, "route": 1}], TypeError,
     r"Parameter 'routes' entry 0: field 'mask' must be an integer, not 0.5"),
    ([{"key": 0, "mask": 0, "route": 1}] * 3, ValueError, r"Parameter 'routes' has 3 entries; 'table_size' allows 2"),
])
def test_route_rules(routes, error, message):
    with pytest.raises(error, match=rf"^{message}$"):
        RouterParams.create(routing="table", ports=3, key_bits=4, table_size=2, routes=routes)


def test_mesh_rules():
    with pytest.raises(TypeError, match=r"missing 1 required keyword-only argument: 'height'"):
        MeshParams.create(width=2)
    with pytest.raises(ValueError, match=r"^Parameter 'height' must be in the range 1..16; 0 is out of range$"):
        MeshParams.create(width=2, height=0)
    with pytest.raises(ValueError, match=r"^Parameter 'routes' entry 0: field 'node' must be in the range 0..3; "
                                         r"4 is out of range$"):
        MeshParams.create(width=2, height=2, routing="table",
                          routes=[{"node": 4, "key": 0, "mask": 0, "route": 1}])
    with pytest.raises(ValueError, match=r"^Parameter 'lookups' must be in the range 1..5 \(at most one per port\); "
                                         r"6 is out of range$"):
        MeshParams.create(width=2, height=2, routing="table", lookups=6)
    with pytest.raises(ValueError, match=r"^Parameter 'routes' has 2 entries for node 1; 'table_size' allows 1$"):
        MeshParams.create(width=2, height=1, routing="table", table_size=1,
                          routes=[{"node": 1, "key": 0, "mask": 0, "route": 1}] * 2)


def test_table_lookup_first_match_wins():
    table = RouteTable.create([{"key": 0x10, "mask": 0xF0, "route": 1}, {"key": 0x12, "mask": 0xFF, "route": 2}],
                              key_bits=8, ports=2, nodes=1, table_size=2, mesh=False)
    assert table.match(0, 0x12) == TableEntry(key=0x10, mask=0xF0, route=1) and table.match(0, 0x12).row == 0
    assert table.match(0, 0x22) is None


def test_a_board_needs_counters():
    """A router without counters (``counter_bits = 0``, as a chip's) is refused by the board top-level, whose
    COUNTERS command reads them."""
    from spikeforge.boards.aer_top import NetworkTop

    params = RouterParams.create(routing="table", ports=3, key_bits=2, table_size=2, counter_bits=0)
    with pytest.raises(ValueError, match=r"^Parameter 'counter_bits' must be in the range 1..32 on a board \(the "
                                         r"host link's COUNTERS command reads the counters\); 0 is out of range$"):
        NetworkTop(params)
