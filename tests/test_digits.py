"""The digits network end to end (examples/digits/): compiled with 8-bit weights for the iCEBreaker, the chip's
golden model is within 1 point of the float network's accuracy on the 360 test digits, and the chip's RTL equals
the golden model on the first test digits."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from spikeforge.scripts.cli import main


DIGITS = Path(__file__).parent.parent / "examples" / "digits"


def load_evaluate():
    spec = importlib.util.spec_from_file_location("digits_evaluate", DIGITS / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chip_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "chip"
    result = CliRunner().invoke(main, ["compile", str(DIGITS / "digits.nir"), "--dt", "1e-4", "--board", "icebreaker",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_compiled_network_is_within_one_point_of_the_float_network(chip_dir, capsys):
    assert load_evaluate().main([str(chip_dir), "--rtl-samples", "0", "-o", str(chip_dir.parent)]) == 0
    lines = capsys.readouterr().out.splitlines()
    float_accuracy = float(lines[0].split(": ")[1].split("%")[0])
    chip_accuracy = float(lines[1].split(": ")[1].split("%")[0])
    assert float_accuracy >= 90.0
    assert abs(chip_accuracy - float_accuracy) <= 1.0, lines
    assert (chip_dir.parent / "digits.png").stat().st_size > 10_000


@pytest.mark.cocotb
def test_the_chip_rtl_equals_the_golden_model_on_test_digits(chip_dir, capsys):
    evaluate = load_evaluate()
    assert evaluate.main([str(chip_dir), "--rtl-samples", "3", "-o", str(chip_dir.parent)]) == 0
    assert "equal to the golden model on every output spike" in capsys.readouterr().out
