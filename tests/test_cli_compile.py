"""``spikeforge compile`` and ``spikeforge simulate NET.nir`` from the command line: the compiled chip runs in every
other command and equals the float reference on an exact network; bad input is one line, exit code 2, and
nothing written."""

import json

import nir
import numpy as np
import pytest
from click.testing import CliRunner

from nir_graphs import DT, exact_graph, random_inputs
from spikeforge.scripts.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def graph(tmp_path):
    path = tmp_path / "net.nir"
    nir.write(path, exact_graph())
    np.savez(tmp_path / "in.npz", spikes=random_inputs(exact_graph(), 3, 16, 5))
    return path


def one_line_error(result, message):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"Error: {message}" and not any(line.startswith("Traceback") for line in lines), lines


def test_compile_writes_a_chip_that_simulate_runs_as_the_float_reference(graph, tmp_path):
    out = tmp_path / "chip"
    result = run("compile", graph, "--dt", DT, "--core-neurons", 4, "--calibrate", tmp_path / "in.npz", "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".spikeforge-outputs", "chip.toml", "report.json", "report.md",
                                                     "weights.npz"]
    report = json.loads((out / "report.json").read_text())
    assert [c["core"] for c in report["cores"]] == ["h_0", "h_1", "h_2", "o_0", "o_1"]
    assert report["output_agreement"] == 1.0
    assert "## Activity on the calibration input" in (out / "report.md").read_text()
    assert run("simulate", out / "chip.toml", "--input", tmp_path / "in.npz", "-o", tmp_path / "model").exit_code == 0
    result = run("simulate", graph, "--dt", DT, "--input", tmp_path / "in.npz", "-o", tmp_path / "float")
    assert result.exit_code == 0, result.output
    compiled = np.load(tmp_path / "model" / "out.npz")["spikes"]
    reference = np.load(tmp_path / "float" / "out.npz")
    assert compiled.sum() > 20
    np.testing.assert_array_equal(compiled, reference["spikes"])
    assert sorted(reference.files) == ["h.spikes", "o.spikes", "spikes"]


def test_a_network_that_fits_no_board_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    nodes = {"input": nir.Input({"input": np.array([128])}),
             "fc": nir.Linear(rng.normal(size=(4096, 128))),
             "h": nir.IF(r=np.ones(4096), v_threshold=np.ones(4096), v_reset=np.zeros(4096)),
             "output": nir.Output({"output": np.array([4096])})}
    path = tmp_path / "big.nir"
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "h"), ("h", "output")]))
    result = run("compile", path, "--dt", 1e-3, "--board", "icebreaker", "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: the chip of 64 cores fits no board (icebreaker: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--dt", DT, "--core-axons", 8], "node 'h': its fan-in is 16 axons, more than the largest core's 8 "
                                      "(--core-axons)"),
    ([], "{graph}: the graph's metadata states no dt: --dt is required (the step in seconds that the "
         "continuous-time neurons are discretized with)"),
])
def test_bad_compiles_are_one_line(graph, tmp_path, args, message):
    one_line_error(run("compile", graph, *args, "-o", tmp_path / "out"), message.format(graph=graph))
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_graph_is_one_line(tmp_path):
    path = tmp_path / "net.nir"
    path.write_text("not HDF5")
    result = run("compile", path, "--dt", 1e-4, "-o", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr.strip().splitlines()[-1].startswith(f"Error: {path}: ")
    assert not (tmp_path / "out").exists()


def test_simulate_refuses_options_of_a_configuration_for_a_graph(graph, tmp_path):
    one_line_error(run("simulate", graph, "--dt", DT, "--input", tmp_path / "in.npz", "--backend", "icarus", "-o",
                       tmp_path / "out"),
                   "--backend icarus does not apply to a NIR graph, which runs on its float reference only")
    assert not (tmp_path / "out").exists()


def _graph_with(tmp_path, node):
    nodes = {"input": nir.Input({"input": np.array([2])}), "fc": nir.Linear(np.ones((2, 2))), "h": node,
             "output": nir.Output({"output": np.array([2])})}
    path = tmp_path / "bad.nir"
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "h"), ("h", "output")],
                                 type_check=False))
    return path


@pytest.mark.parametrize("node, rule", [
    (nir.IF(r=np.ones(2), v_threshold=np.array([1.0, np.nan]), v_reset=np.zeros(2)), "NaN"),
    (nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)), "LI"),
])
def test_bad_nodes_are_one_line_naming_the_node(tmp_path, node, rule):
    result = run("compile", _graph_with(tmp_path, node), "--dt", 1e-4, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: {tmp_path / 'bad.nir'}: ") and "'h'" in line and rule in line, line
    assert not (tmp_path / "out").exists()
