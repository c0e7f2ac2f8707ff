"""The network compiler (scripts/compile): a network whose compilation is exact equals its float reference spike
for spike on every layer; quantization follows its rules (checked against values computed here); the mapping
splits, merges and places as docs/compile.md says; bad networks are refused in one line."""

import numpy as np
import pytest

from nir_graphs import DT, exact_graph, random_inputs
from spikeforge.scripts.compile import CompileError, compile_network
from spikeforge.scripts.compile.calibrate import calibrate
from spikeforge.sim.chip.model import run_chip
from spikeforge.sim.nir.graph import network_from_graph
from spikeforge.sim.nir.network import Network, Population, Projection
from spikeforge.sim.nir.reference import run


def layer_spikes(compiled, spikes):
    """Every population's spikes on the compiled chip's golden model, (batch, steps, size)."""
    placement = compiled.placement
    out = {p.name: np.zeros(spikes.shape[:2] + (p.size,), dtype=np.uint8) for p in compiled.network.populations}

    def record(b, t, chip):
        for piece in placement.slices:
            fired = np.array(chip.spikes[piece.name], dtype=np.int64)
            out[piece.population][b, t, piece.first + fired] = 1

    run_chip(placement.chip, spikes, placement.arrays, on_step=record)
    return out


@pytest.mark.parametrize("core_neurons", [4, 64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_exact_network_equals_its_float_reference_on_every_layer(seed, core_neurons):
    network = network_from_graph(exact_graph(seed), dt=DT)
    compiled = compile_network(network, core_neurons=core_neurons, core_axons=64)
    assert all(layer.scale == 1.0 for layer in compiled.layers.values())
    spikes = random_inputs(exact_graph(seed), 3, 24, seed + 10)
    reference = run(network, spikes)
    chip = layer_spikes(compiled, spikes)
    for pop in network.populations:
        ref = reference.populations[pop.name]
        assert ref.sum() > 10, f"layer {pop.name} must spike for the comparison to mean something"
        diff = np.argwhere(ref != chip[pop.name])
        assert not len(diff), f"layer {pop.name}: first difference at (sample, step, neuron) {tuple(diff[0])}"


def test_a_split_layer_becomes_cores_with_one_connection_per_core_pair():
    compiled = compile_network(network_from_graph(exact_graph(), dt=DT), core_neurons=4, core_axons=64)
    chip = compiled.placement.chip
    assert [(c.name, c.params.neurons, c.params.axons, c.phase) for c in chip.cores] == [
        ("h_0", 4, 16, 0), ("h_1", 4, 16, 0), ("h_2", 2, 16, 0), ("o_0", 4, 16, 1), ("o_1", 1, 16, 1)]
    into_h1 = [(c.source, c.first, c.count, c.axon, c.recurrent) for c in chip.connections if c.target == "h_1"]
    # The inputs at axons 0..5, then h's own last step: its three cores at 6, 10 and 14.
    assert into_h1 == [("input", 0, 6, 0, False), ("h_0", 0, 4, 6, True), ("h_1", 0, 4, 10, True),
                       ("h_2", 0, 2, 14, True)]
    into_o0 = [(c.source, c.axon, c.recurrent) for c in chip.connections if c.target == "o_0"]
    assert into_o0 == [("input", 0, False), ("h_0", 6, False), ("h_1", 10, False), ("h_2", 14, False)]
    assert [r.core for r in chip.outputs] == ["o_0", "o_1"]
    assert (chip.width, chip.height, chip.map_size) == (3, 2, 4)


def _population(name, size, model="lif", beta=0.9, alpha=0.0, threshold=1.0, bias=0.0):
    full = lambda value: np.full(size, value, dtype=np.float64)    # noqa: E731
    return Population(name=name, model=model, beta=full(beta), alpha=full(alpha), threshold=full(threshold),
                      v_reset=full(0.0), leak=full(0.0), bias=full(bias))


def _network(weights, **population):
    return Network(inputs=weights.shape[1], populations=(_population("p", weights.shape[0], **population),),
                   projections=(Projection("input", "p", weights),), outputs=("p",), dt=1e-3, integrator="euler")


def test_quantization_scales_a_layer_to_its_largest_weight():
    weights = np.array([[0.5, -0.25, 0.1], [0.02, 0.3, -0.4]])
    layer = compile_network(_network(weights, beta=0.95, threshold=1.3, bias=0.05), weight_bits=6).layers["p"]
    scale = 31 / 0.5
    assert layer.scale == scale
    np.testing.assert_array_equal(layer.weights[0], [[31, -16, 6], [1, 19, -25]])
    assert layer.lif["threshold"] == round(1.3 * scale) == 81
    assert layer.lif["bias"] == round(0.05 * scale) == 3
    assert layer.lif["decay_v"] == round(0.05 * 4096) == 205
    assert layer.beta == 1 - 205 / 4096
    assert layer.weight_error == pytest.approx(abs(-16 / scale + 0.25) / 0.5)


def test_a_cuba_layer_takes_its_bias_into_the_current():
    layer = compile_network(_network(np.eye(2), model="cuba", alpha=0.5, bias=0.25)).layers["p"]
    assert (layer.lif["bias_into"], layer.lif["bias"], layer.lif["decay_u"]) == ("current", 32, 2048)


def test_a_float_network_keeps_its_activity_after_quantization():
    rng = np.random.default_rng(4)
    network = Network(inputs=32, populations=(_population("h", 48, threshold=1.0), _population("o", 8, model="cuba",
                                                                                              alpha=0.8)),
                      projections=(Projection("input", "h", rng.normal(0.1, 0.3, (48, 32))),
                                   Projection("h", "o", rng.normal(0.05, 0.3, (8, 48)))),
                      outputs=("o",), dt=1e-3, integrator="euler")
    spikes = (rng.random((4, 30, 32)) < 0.3).astype(np.uint8)
    calibration = calibrate(compile_network(network, weight_bits=8), spikes)
    for row in calibration.rows():
        assert row["float"] > 0.02
        assert row["compiled"] == pytest.approx(row["float"], rel=0.1), row
    assert calibration.output_agreement > 0.97
    assert calibration.warnings == ()


def test_a_silent_layer_after_quantization_is_a_warning():
    # Weights of 0.004 round to 0 in 2 bits against a largest weight of 1: the second neuron never fires.
    weights = np.array([[1.0, 0.0], [0.004, 0.004]])
    network = Network(inputs=2, populations=(_population("p", 2, threshold=0.0005),
                                             _population("q", 1, threshold=0.5)),
                      projections=(Projection("input", "p", weights), Projection("p", "q", np.array([[0.0, 1.0]]))),
                      outputs=("q",), dt=1e-3, integrator="euler")
    calibration = calibrate(compile_network(network, weight_bits=2), np.ones((1, 5, 2), dtype=np.uint8))
    assert calibration.warnings == ("layer 'q' is silent after quantization (float: 1.000 spikes per neuron per "
                                    "step)",)


def test_a_fan_in_larger_than_a_core_is_refused():
    network = _network(np.ones((4, 300)))
    with pytest.raises(CompileError, match=r"^node 'p': its fan-in is 300 axons, more than the largest core's 256 "
                                           r"\(--core-axons\)$"):
        compile_network(network)


def test_a_network_of_too_many_cores_is_refused():
    with pytest.raises(CompileError, match=r"needs 300 cores, more than a 16 x 16 mesh holds"):
        compile_network(_network(np.ones((300, 4))), core_neurons=1)


def test_a_decay_of_one_minus_a_power_of_two_is_a_shift():
    layer = compile_network(_network(np.eye(2), model="cuba", beta=0.875, alpha=0.5)).layers["p"]
    assert (layer.lif["decay"], layer.lif["decay_v"], layer.lif["decay_u"]) == ("shift", 3, 1)
    assert (layer.beta, layer.alpha) == (0.875, 0.5)
    mixed = compile_network(_network(np.eye(2), model="cuba", beta=0.875, alpha=0.8)).layers["p"]
    assert (mixed.lif["decay"], mixed.lif["decay_v"], mixed.lif["decay_u"]) == ("mult", 512, 819)


def _digits():
    from pathlib import Path

    from spikeforge.sim.nir.graph import read_network
    return read_network(Path(__file__).parent.parent / "examples" / "digits" / "digits.nir", dt=1e-4)


def test_the_block_ram_estimate_is_what_the_icebreaker_build_used():
    # nextpnr placed the memories of the digits chip for the iCEBreaker (lanes 2 and 1) in 27 EBRs: the cores'
    # state and weight memories, the first tile's event and spike FIFOs, the second tile's event FIFO, the two
    # routers' two input buffers each and the host link's receive FIFO.
    from spikeforge.scripts.compile.fit import fit
    chip = compile_network(_digits(), core_neurons=64, core_axons=128, board="icebreaker").placement.chip
    assert [c.params.lanes for c in chip.cores] == [2, 1]
    assert fit(chip, "icebreaker").bram == 27


def test_with_a_board_cores_give_up_lanes_until_the_chip_fits():
    from spikeforge.scripts.compile.fit import fit
    chip = compile_network(_digits(), core_neurons=64, core_axons=128, board="icebreaker").placement.chip
    # Halving the first core's lanes saves 5 EBRs (its state memory is 168 bits wide at 4 lanes, 84 at 2); then
    # halving either saves 3, and the second, smaller one gives up its lanes, which leaves the logic estimate
    # within 90% of the device.
    assert [c.params.lanes for c in chip.cores] == [2, 1]
    assert fit(chip, "icebreaker").fits


def test_uniform_cores_share_one_shape_and_run_as_the_float_reference():
    network = network_from_graph(exact_graph(1, out_model="lif"), dt=DT)
    placement = compile_network(network, core_neurons=4, core_axons=64, uniform=True).placement
    shapes = {(c.params.neurons, c.params.axons, c.params.lanes, c.params.state_bits, c.params.threshold,
               c.params.bias) for c in placement.chip.cores}
    assert shapes == {(4, 16, 1, 24, "per_neuron", "per_neuron")}
    spikes = random_inputs(exact_graph(1), 2, 20, 3)
    np.testing.assert_array_equal(run_chip(placement.chip, spikes, placement.arrays), run(network, spikes).spikes)


def test_uniform_cores_need_one_neuron_model():
    with pytest.raises(CompileError, match=r"^--uniform needs one neuron model and one decay for every core: 'h_0' "
                                           r"has model = 'lif', 'o_0' 'cuba'$"):
        compile_network(network_from_graph(exact_graph(), dt=DT), core_neurons=4, uniform=True)


def test_the_block_ram_estimate_is_what_the_ecp5_builds_used():
    # The ULX3S builds placed 7 DP16KD for the digits chip (its two weight memories take 2 and 1, the routers'
    # four input buffers one each) and 16 for examples/chip_2x2.toml (four weight memories, twelve buffers).
    from pathlib import Path

    from spikeforge.scripts.compile.fit import fit
    from spikeforge.scripts.config import load_config
    digits = compile_network(_digits(), core_neurons=64, core_axons=128, board="icebreaker").placement.chip
    example = load_config(Path(__file__).parent.parent / "examples" / "chip_2x2.toml").blocks["chip"]
    assert (fit(digits, "ulx3s-85f").bram, fit(example, "ulx3s-85f").bram) == (7, 16)
