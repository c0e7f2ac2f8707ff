"""The host runtime (scripts/host) end to end on the simulated board (sim/board): a board top-level's RTL in
Verilator behind a socket, with and without damaged bytes, equal to the golden model; and the refusals."""

import numpy as np
import pytest

from spikeforge.boards.chip_top import ChipTop
from spikeforge.boards.lif_top import LifTop
from spikeforge.hdl.chip.manifest import chip_manifest
from spikeforge.hdl.export import manifest_of
from spikeforge.hdl.lif_core.manifest import lif_core_manifest
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.scripts.blocks.chip import read_weights
from spikeforge.scripts.config import load_config
from spikeforge.scripts.host.board import Board
from spikeforge.scripts.host.link import Link, LinkError
from spikeforge.scripts.host.run import open_serial, run_chip, run_lif_core
from spikeforge.sim.board.faults import FaultyPort
from spikeforge.sim.board.port import SimulatedPort
from spikeforge.sim.chip.model import run_chip as model_chip
from spikeforge.sim.harness.manifest import Manifest
from spikeforge.sim.lif_core.model import LifModel


pytestmark = pytest.mark.cocotb

LIF = LifParams.create(neurons=8, axons=6, lanes=2, weight_bits=6, threshold=20)


def lif_workload(seed=1, steps=10):
    rng = np.random.default_rng(seed)
    weights = rng.integers(-8, 24, size=(LIF.axons, LIF.neurons))
    events = [[int(a) for a in rng.integers(0, LIF.axons, size=5)] for _ in range(steps)]
    model = LifModel(LIF, weights)
    return weights, events, sorted((t, int(n)) for t, axons in enumerate(events) for n in model.step(axons))


def manifest_of_top(top, description):
    return Manifest(manifest_of(top.block, name="top", description=description))


@pytest.fixture(scope="module")
def lif_build(tmp_path_factory):
    return tmp_path_factory.mktemp("lif-board")


@pytest.mark.parametrize("rate", [0.0, 0.01])
def test_lif_core_on_the_simulated_board_equals_the_model(lif_build, rate):
    top = LifTop(LIF, baud=3_000_000)
    description = lif_core_manifest(top.block)
    weights, events, expected = lif_workload()
    with SimulatedPort(top, description, sim="verilator", build_dir=lif_build) as port:
        link = Link(FaultyPort(port, rate=rate, seed=3), name=port.name)
        board = Board(link, manifest_of_top(top, description), name=port.name)
        assert sorted(run_lif_core(board, LIF, weights, events)) == expected
        status = board.status()
    assert status["timestep"] == len(events) and status["bad_events"] == status["bad_config"] == 0
    if rate:
        # Damage was seen on both sides and repaired by sending again.
        assert link.stats.bad_frames and status["bad_frames"] and link.stats.retransmissions
    else:
        assert link.stats.retransmissions == link.stats.bad_frames == status["bad_frames"] == 0


def test_reads_back_to_back_over_a_damaged_link_return_what_was_written(lif_build):
    # Reads one after another: when the host's ACK of a read's answer is lost, the next read reaches a device
    # that still holds that answer (docs/host_protocol.md). Every value must come back, once, in order.
    top = LifTop(LIF, baud=3_000_000)
    description = lif_core_manifest(top.block)
    rng = np.random.default_rng(4)
    weights = rng.integers(-32, 32, size=(LIF.axons, LIF.neurons))
    cells = [(a, n) for a in range(LIF.axons) for n in range(LIF.neurons)]
    writes = [{"op": "WRITE", "field": "WEIGHT", "axon": a, "neuron": n, "data": int(weights[a, n])} for a, n in cells]
    reads = [{"op": "READ", "field": "WEIGHT", "axon": a, "neuron": n, "data": 0} for a, n in cells]
    with SimulatedPort(top, description, sim="verilator", build_dir=lif_build) as port:
        link = Link(FaultyPort(port, rate=0.03, seed=11), name=port.name, timeout=0.1)
        board = Board(link, manifest_of_top(top, description), name=port.name)
        board.configure(writes)
        assert board.configure(reads) == [int(weights[a, n]) for a, n in cells]
    assert link.stats.retransmissions


def test_lif_core_through_the_uart_gateware_bit_by_bit(tmp_path):
    top = LifTop(LIF, baud=3_000_000)
    description = lif_core_manifest(top.block)
    weights, events, expected = lif_workload(seed=2, steps=4)
    with SimulatedPort(top, description, sim="verilator", build_dir=tmp_path, uart=True) as port:
        link = Link(port, name=port.name)
        board = Board(link, manifest_of_top(top, description), name=port.name)
        assert sorted(run_lif_core(board, LIF, weights, events)) == expected


def test_chip_on_the_simulated_board_with_damaged_bytes_equals_the_model(tmp_path):
    config = load_config("examples/chip_2x2.toml", ())
    params = config.blocks["chip"]
    weights = read_weights("examples/chip_2x2_weights.npz", params)
    spikes = np.load("examples/chip_2x2_input.npz")["spikes"][..., :6, :]
    top = ChipTop(params, baud=3_000_000)
    description = chip_manifest(top.block)
    with SimulatedPort(top, description, sim="verilator", build_dir=tmp_path) as port:
        link = Link(FaultyPort(port, rate=0.01, seed=5), name=port.name)
        board = Board(link, manifest_of_top(top, description), name=port.name)
        out = run_chip(board, params, weights, spikes)
    assert np.array_equal(out, model_chip(params, spikes, weights))
    assert link.stats.retransmissions


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_a_board_of_other_parameters_is_refused(lif_build):
    top = LifTop(LIF, baud=3_000_000)
    other = LifTop(LifParams.create(neurons=8, axons=6, lanes=2, weight_bits=6, threshold=21))
    with SimulatedPort(top, lif_core_manifest(top.block), sim="verilator", build_dir=lif_build) as port:
        with pytest.raises(LinkError, match=r"^--sim verilator: the board's \[lif_core\] was built with other "
                                             r"parameters than the configuration's \(manifest digest [0-9a-f]{8}, "
                                             r"not [0-9a-f]{8}\)$"):
            Board(Link(port, name=port.name), manifest_of_top(other, lif_core_manifest(other.block)),
                  name=port.name)


class Silent:
    """A port that never answers."""
    timeout = 0.01
    name = "silent"

    def write(self, data):
        return len(data)

    def read(self, size=1):
        return b""


def test_a_device_that_does_not_answer_is_one_line():
    link = Link(Silent(), name="/dev/ttyUSB9", timeout=0.01, retries=3)
    with pytest.raises(LinkError, match=r"^/dev/ttyUSB9: no answer from the device after 4 tries \(is it the "
                                        r"board, programmed, at this baud rate\?\)$"):
        link.ask(0)
    link.command(0x04, b"\x01")
    with pytest.raises(LinkError, match=r"^/dev/ttyUSB9: the device stopped answering \(waiting for an "
                                        r"acknowledgement, 3 retries\)$"):
        link.flush()
    assert link.stats.retransmissions == 3


def test_no_such_port_is_one_line():
    with pytest.raises(LinkError, match=r"^/dev/no-such-port: cannot open the serial port \(.*\)$"):
        open_serial("/dev/no-such-port", 115200)
