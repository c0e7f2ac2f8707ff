"""The STDP demonstrations of issue 3 run from one command each and show what they claim: the window measured on
the RTL equals the golden model; a neuron becomes selective for a pattern hidden in noise."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(script, *args):
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.cocotb
def test_window_rtl_equals_model(tmp_path):
    out = run("stdp_window.py", "-o", tmp_path)
    assert "RTL equals the golden model at all 41 points: True" in out
    assert (tmp_path / "stdp_window.png").stat().st_size > 10000


@pytest.mark.parametrize("rule", ["stdp", "reward"])
def test_pattern_selectivity_grows(tmp_path, rule):
    out = run("stdp_pattern.py", "--rule", rule, "-o", tmp_path)
    before, after = map(float, re.search(r"selectivity \(hits - false alarms\): ([-+.\d]+) -> ([-+.\d]+)",
                                         out).groups())
    assert after >= 0.5 and after > before + 0.3, out
    assert (tmp_path / f"stdp_{rule}.png").stat().st_size > 10000
