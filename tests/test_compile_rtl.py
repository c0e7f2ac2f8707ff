"""Compiled NIR graphs in the RTL (cocotb, Icarus and Verilator) against the chip's golden model: a graph with a
split layer, a branch, a merge with a skip from the input, a recurrent connection and a CubaLIF layer, whose
compilation is exact, so the RTL also equals the float reference (tests/test_compile.py holds model = float)."""

import pytest

from nir_graphs import DT, exact_graph
from spikeforge.scripts.compile import compile_network
from spikeforge.sim.chip.rtl import verify
from spikeforge.sim.nir.graph import network_from_graph


@pytest.mark.cocotb
def test_a_compiled_graph_runs_in_the_rtl_as_in_the_model(sim, build_dir):
    network = network_from_graph(exact_graph(seed=3, inputs=6, hidden=6, out=5), dt=DT)
    placement = compile_network(network, core_neurons=4, core_axons=64).placement
    assert len(placement.chip.cores) == 4          # h and o, each split in two
    ok, message = verify(placement.chip, placement.arrays, sim=sim, steps=6, samples=2, seed=1, build_dir=build_dir)
    assert ok, message
