"""The router and the mesh on the batch harness: every delivery and counter equals the golden model's (the run
checks them), and the deliveries come in the cycles the cocotb bench measures."""

import pytest

from spikeforge.hdl.aer.params import MeshParams, RouterParams
from spikeforge.sim.aer.rtl import run_rtl
from spikeforge.sim.aer.traffic import random_routes, uniform_random


pytestmark = pytest.mark.cocotb


def _table_router():
    params = RouterParams.create(routing="table", ports=4, key_bits=6, table_size=6, fifo_depth=2, payload_bits=8)
    params = RouterParams.create(**{**params.to_dict(), "routes": random_routes(params, entries=5, seed=3)})
    return params, uniform_random(params, count=40, seed=4)


def test_batch_mesh_matches_the_model(tmp_path):
    params = MeshParams.create(width=2, height=2, payload_bits=8, fifo_depth=2)
    packets = uniform_random(params, count=60, seed=6)
    result = run_rtl(params, packets, sim="verilator", build_dir=tmp_path)
    assert result.ok, result.message
    assert sum(len(rows) for rows in result.delivered.values()) == len(packets) > 0    # xy: one delivery a packet
    assert result.forwarded.shape == (4, 5)


def test_batch_router_delivers_in_the_cocotb_cycles(icarus, tmp_path):
    params, packets = _table_router()
    batch = run_rtl(params, packets, sim="verilator", build_dir=tmp_path / "verilator")
    cocotb = run_rtl(params, packets, sim=icarus, build_dir=tmp_path / "icarus")
    assert batch.ok and cocotb.ok, batch.message or cocotb.message
    assert batch.delivered == cocotb.delivered
    assert batch.injected == cocotb.injected
    assert batch.cycles == cocotb.cycles
    assert (batch.dropped == cocotb.dropped).all() and (batch.forwarded == cocotb.forwarded).all()
