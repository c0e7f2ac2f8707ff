"""The chip's generated Verilog in cocotb on Icarus and Verilator against the golden model: every output and every
neuron's state after every step, over the shared chip configurations, with idle inputs and output backpressure,
two samples each (the chip is reloaded between them)."""

import pytest

from chips import CHIPS, weights_for
from spikeforge.sim.chip.rtl import verify


@pytest.mark.cocotb
@pytest.mark.parametrize("name", CHIPS)
def test_chip_rtl_matches_the_model(name, sim, build_dir):
    params = CHIPS[name]
    ok, message = verify(params, weights_for(params, 1), sim=sim, steps=5, samples=2, seed=3, build_dir=build_dir)
    assert ok, message
    assert message.startswith(f"{sim}: 10 steps of 2 sample(s) from seed 3 matched the model")
