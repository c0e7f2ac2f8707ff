"""The command line on a chip: generate, simulate on the model and the RTL (the same outputs), verify, and bad
input (one line, exit code 2, nothing written)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.scripts.cli import main
from spikeforge.scripts.config import load_config
from spikeforge.sim.chip.model import run_chip


EXAMPLES = Path(__file__).parent.parent / "examples"
CHIP = EXAMPLES / "chip_2x2.toml"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def example(tmp_path):
    """The example chip, its weights and input, copied where a test may change them."""
    for name in ("chip_2x2.toml", "chip_2x2_weights.npz", "chip_2x2_input.npz"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path / "chip_2x2.toml"


def expected_outputs(config_path, spikes):
    chip = load_config(config_path).blocks["chip"]
    weights = dict(np.load(Path(config_path).parent / chip.weights))
    return run_chip(chip, spikes, weights)


def test_generate_writes_the_chip_and_its_manifest(tmp_path):
    result = run("generate", CHIP, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "chip.json").read_text())
    assert manifest["block"] == "chip" and manifest["toplevel"] == "chip"
    assert manifest["derived"]["phases"] == 3
    assert manifest["derived"]["tiles"]["c"] == {"node": 2, "key": 3, "phase": 1}
    assert set(manifest["memory_map"]["cfg"]["command"]["enums"]["unit"]) == {
        "CORE", "MAP", "KEY", "PHASE", "PHASES", "ROUTE", "OUTPUT", "PENDING"}
    assert "module chip(" in (tmp_path / "out" / "chip.v").read_text()


def test_simulate_on_the_model_batch_and_single(example, tmp_path):
    spikes = np.load(example.parent / "chip_2x2_input.npz")["spikes"]
    batch = np.stack([spikes, spikes[::-1]])
    np.savez(tmp_path / "batch.npz", spikes=batch)
    result = run("simulate", example, "--input", tmp_path / "batch.npz", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = np.load(tmp_path / "out" / "out.npz")["spikes"]
    assert out.shape == (2, 20, 8) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected_outputs(example, batch))
    assert out.any() and not out.all()
    result = run("simulate", example, "--input", example.parent / "chip_2x2_input.npz", "-o", tmp_path / "one")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "one" / "out.npz")["spikes"], out[0])


def test_dump_state_and_plot(example, tmp_path):
    """Every core's spikes and state after every step (from the golden model), and the picture of the run."""
    from spikeforge.sim.chip.model import ChipModel

    result = run("simulate", example, "--input", example.parent / "chip_2x2_input.npz", "--dump-state", "--plot",
                 "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    state = np.load(tmp_path / "out" / "state.npz")
    assert sorted(state.files) == ["a.spikes", "a.v", "b.spikes", "b.v", "c.refractory", "c.spikes", "c.v",
                                   "out.spikes", "out.u", "out.v"]
    chip = load_config(example).blocks["chip"]
    model = ChipModel(chip, dict(np.load(example.parent / "chip_2x2_weights.npz")))
    for t, row in enumerate(np.load(example.parent / "chip_2x2_input.npz")["spikes"]):
        model.step(np.flatnonzero(row))
        assert sorted(np.flatnonzero(state["c.spikes"][t])) == model.spikes["c"], f"step {t}"
        np.testing.assert_array_equal(state["out.u"][t], model.cores["out"].u)
    assert state["c.spikes"].sum() > 0
    assert (tmp_path / "out" / "chip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = run("simulate", example, "--input", example.parent / "chip_2x2_input.npz", "--plot", "--backend",
                 "icarus", "-o", tmp_path / "rtl")
    _one_line_error(result, "--dump-state and --plot of a chip come from the golden model (which the RTL "
                            "equals); use --backend model")
    assert not (tmp_path / "rtl").exists()


@pytest.mark.cocotb
def test_simulate_on_the_rtl_gives_the_model_outputs(example, tmp_path, icarus):
    spikes = np.load(example.parent / "chip_2x2_input.npz")["spikes"][:6]
    np.savez(tmp_path / "in.npz", spikes=spikes)
    result = run("simulate", example, "--input", tmp_path / "in.npz", "--backend", icarus, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "out.npz")["spikes"], expected_outputs(example, spikes))


@pytest.mark.cocotb
def test_verify_the_example(icarus):
    result = run("verify", CHIP, "--sim", icarus, "--steps", 4, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("icarus: 8 steps of 2 sample(s) from seed 1 matched the model")


def _one_line_error(result, message):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"Error: {message}", result.stderr


@pytest.mark.parametrize("shape", [(20, 15), (2, 20, 17), (16,)])
def test_input_of_the_wrong_shape_is_refused(example, tmp_path, shape):
    np.savez(tmp_path / "bad.npz", spikes=np.zeros(shape, dtype=np.uint8))
    result = run("simulate", example, "--input", tmp_path / "bad.npz", "-o", tmp_path / "out")
    _one_line_error(result, f"{tmp_path / 'bad.npz'}: 'spikes' must be (batch, steps, 16) or (steps, 16) with at "
                            f"least one step, not {shape}")
    assert not (tmp_path / "out").exists()


def test_weights_of_a_missing_core_are_refused(example, tmp_path):
    np.savez(tmp_path / "w.npz", nowhere=np.zeros((4, 4), dtype=np.int64))
    result = run("simulate", example, "--input", example.parent / "chip_2x2_input.npz", "--weights",
                 tmp_path / "w.npz", "-o", tmp_path / "out")
    _one_line_error(result, f"{tmp_path / 'w.npz'}: array 'nowhere' is not one of this chip's: a, b, c, out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, message", [
    (('target = "out"\naxon = 16', 'target = "out"\naxon = 20'),
     "[chip] Parameter 'connections[6].axon' must leave room for 16 axons in core 'out', which has 32: 0..16; 20 is "
     "out of range"),
    (('source = "b"', 'source = "nobody"'),
     "[chip] Parameter 'connections[3].source' names no core: 'nobody' (cores: a, b, c, out; or 'input')"),
    (("node = 3", "node = 4"), "[chip] Parameter 'cores.out.node' must be a node of the mesh, 0..3; 4 is out of "
                               "range"),
])
def test_a_bad_chip_is_refused_in_one_line(example, tmp_path, change, message):
    text = example.read_text()
    assert change[0] in text
    example.write_text(text.replace(change[0], change[1], 1))
    result = run("generate", example, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {example} line ") and line.endswith(message), line
    assert not (tmp_path / "out").exists()


@pytest.mark.build
def test_the_icebreaker_example_builds_and_fits(tmp_path):
    # At the oscillator's clock: one place and route (the clock search is test_build's).
    result = run("build", EXAMPLES / "chip_icebreaker.toml", "--board", "icebreaker", "--clock", 12,
                 "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["block"], report["design"]) == ("chip", "2x1 mesh, 2 cores")
    assert report["resources"]["logic_cells"] <= report["available"]["logic_cells"]
    assert report["fmax_mhz"] > report["clock_constraint_mhz"]
    assert json.loads((tmp_path / "out" / "chip.json").read_text())["derived"]["phases"] == 2
