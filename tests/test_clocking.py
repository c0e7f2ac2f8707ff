"""The board clock: PLL settings against the vendor calculators (yowasp-icepll, yowasp-ecppll), the PLL in a
board top-level, the clock/baud pairs a build refuses, the simulated board's divisor and a missed clock."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from spikeforge.boards.build import TimingMissed
from spikeforge.boards.clocking import CLOCKS_MHZ, ecp5_pll, ice40_pll
from spikeforge.boards.lif_top import LifTop
from spikeforge.boards.platforms import board_clocks, board_platform, board_uart_divisor
from spikeforge.boards.simulated import SimulatedBoard
from spikeforge.hdl.lif_core.params import LifParams
from spikeforge.scripts.cli import main


LIF = LifParams.create(neurons=8, axons=4, lanes=2, weight_bits=4, state_bits=8)
# Clocks of the default lists and a few no PLL makes exactly.
ICE40_MHZ = sorted(set(CLOCKS_MHZ["ice40"]) - {12.0}) + [17.3, 31, 100, 250]
ECP5_MHZ = sorted(set(CLOCKS_MHZ["ecp5"]) - {25.0}) + [33.3, 47.1, 83, 200]


def _tool(name):
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def _icepll(mhz):
    """(divr, divf, divq, filter_range, achieved MHz) as icepll prints them for 12 MHz in, SB_PLL40_PAD."""
    text = subprocess.run([_tool("yowasp-icepll"), "-i", "12", "-o", str(mhz), "-p"], capture_output=True,
                          text=True, check=True).stdout
    field = {key: int(re.search(rf"{key}:\s+(\d+)", text)[1]) for key in ("DIVR", "DIVF", "DIVQ", "FILTER_RANGE")}
    achieved = float(re.search(r"F_PLLOUT:\s+([\d.]+) MHz \(achieved\)", text)[1])
    return field["DIVR"], field["DIVF"], field["DIVQ"], field["FILTER_RANGE"], achieved


def _ecppll(mhz, directory):
    """(CLKI_DIV, CLKFB_DIV, CLKOP_DIV, CLKOP_CPHASE, achieved MHz) of the Verilog ecppll writes for 25 MHz in."""
    result = subprocess.run([_tool("yowasp-ecppll"), "-i", "25", "-o", str(mhz), "-f", "pll.v"], cwd=directory,
                            capture_output=True, text=True, check=True)
    verilog = (directory / "pll.v").read_text()
    value = {key: int(re.search(rf"\.{key}\((\d+)\)", verilog)[1])
             for key in ("CLKI_DIV", "CLKFB_DIV", "CLKOP_DIV", "CLKOP_CPHASE")}
    achieved = float(re.search(r"clkout0 frequency: ([\d.]+) MHz", result.stdout)[1])
    return value["CLKI_DIV"], value["CLKFB_DIV"], value["CLKOP_DIV"], value["CLKOP_CPHASE"], achieved


@pytest.mark.parametrize("mhz", ICE40_MHZ)
def test_ice40_pll_settings_are_icepll_s(mhz):
    pll = ice40_pll(12, mhz)
    divr, divf, divq, filter_range, achieved = _icepll(mhz)
    assert (pll.divr, pll.divf, pll.divq, pll.filter_range) == (divr, divf, divq, filter_range), \
        f"{mhz} MHz: DIVR/DIVF/DIVQ/FILTER_RANGE {pll} against icepll's {divr}/{divf}/{divq}/{filter_range}"
    assert pll.f_out_mhz == pytest.approx(achieved, abs=5e-4)


def test_ecp5_pll_settings_are_ecppll_s(tmp_path):
    for mhz in ECP5_MHZ:
        pll = ecp5_pll(25, mhz)
        expected = _ecppll(mhz, tmp_path)
        assert (pll.clki_div, pll.clkfb_div, pll.clkop_div, pll.clkop_cphase) == expected[:4], \
            f"{mhz} MHz: CLKI/CLKFB/CLKOP_DIV, CPHASE {pll} against ecppll's {expected[:4]}"
        assert pll.f_out_mhz == pytest.approx(expected[4], rel=1e-5)


def test_pll_ranges_are_checked():
    with pytest.raises(ValueError, match=r"^PLL output frequency must be within 16..275 MHz, not 300$"):
        ice40_pll(12, 300)
    with pytest.raises(TypeError, match=r"^PLL output frequency must be a number of MHz, not '100'$"):
        ecp5_pll(25, "100")
    with pytest.raises(TypeError, match=r"^Clock must be None or a positive number of MHz, not 0$"):
        LifTop(LIF, clock_mhz=0)


@pytest.mark.parametrize("board, mhz, primitive, setting", [
    ("icebreaker", 33, "SB_PLL40_PAD", "DIVF 87"),          # as icepll -o 33
    ("ulx3s-85f", 100, "EHXPLLL", "CLKOP_DIV 6"),
])
def test_a_board_top_runs_from_the_pll(board, mhz, primitive, setting):
    plan = board_platform(board).prepare(LifTop(LIF, clock_mhz=mhz), name="top")
    rtlil = plan.files["top.il"]
    assert f"cell \\{primitive}" in rtlil and f"parameter \\{setting}" in rtlil
    constraints = next(text for name, text in plan.files.items() if name.endswith((".pcf", ".lpf")))
    assert re.search(rf"pll_clk\S*\"? {mhz}", constraints.replace("000000.0 HZ", "")), constraints


def test_the_oscillator_needs_no_pll():
    rtlil = board_platform("icebreaker").prepare(LifTop(LIF, clock_mhz=12), name="top").files["top.il"]
    assert "SB_PLL40" not in rtlil


def test_the_uart_divisor_follows_the_clock():
    assert board_uart_divisor("icebreaker", 3_000_000, 30) == 10
    assert board_uart_divisor("ulx3s-85f", 115200, 100) == 868
    simulated = SimulatedBoard(LifTop(LIF, baud=3_000_000, clock_mhz=30), clk_freq=12e6, uart=True)
    assert simulated.clk_freq == 30e6
    assert SimulatedBoard(LifTop(LIF, baud=3_000_000), clk_freq=12e6, uart=True).clk_freq == 12e6
    # 3,000,000 baud is out of reach of the ULX3S's 25 MHz oscillator (8.33 cycles per bit): not tried.
    assert board_clocks("ulx3s-85f", 3_000_000) == tuple(c for c in CLOCKS_MHZ["ecp5"] if c != 25.0)


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("args, message", [
    (("--board", "icebreaker", "--clock", 31, "--baud", 3000000),
     "--clock 31 --baud 3000000: Baud rate 3000000 must be reachable within 2% from a 3.1125e+07 Hz clock; "
     "the divisor 10 is 3.75% off (the icebreaker at 31.125 MHz)"),
    (("--board", "ulx3s-85f", "--clock", 500),
     "--clock 500 --baud 115200: PLL output frequency must be within 10..400 MHz, not 500"),
    (("--board", "icebreaker", "--baud", 20000000),
     "--baud 20000000: Baud rate 20000000 cannot be made (within 2%, at least 4 clock cycles per bit) from any of "
     "the icebreaker's clocks (42, 39, 36, 33, 30, 27, 24, 21, 18, 12 MHz)"),
])
def test_build_refuses_a_clock_and_baud_rate_that_do_not_go_together(tmp_path, args, message):
    result = _run("build", Path(__file__).parents[1] / "examples" / "lif_core.toml", *args, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == f"Error: {message}"
    assert not (tmp_path / "out").exists()


def test_a_missed_clock_says_by_how_much():
    report = {"fmax_mhz": 62.74, "clock_mhz": 100.0}
    assert str(TimingMissed(report)) == "timing: fmax 62.7 MHz misses the 100 MHz clock by 37.3 MHz (37.3%)"


@pytest.mark.build
def test_a_build_whose_fmax_misses_its_clock_fails_with_one_line(tmp_path):
    config = tmp_path / "core.toml"
    config.write_text("[lif_core]\nneurons = 8\naxons = 4\nlanes = 2\nweight_bits = 4\nstate_bits = 8\n")
    result = _run("build", config, "--board", "icebreaker", "--clock", 125, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["clock_mhz"] == 124.5 and report["fmax_mhz"] < 100      # icepll's nearest to 125 MHz
    fmax, miss = report["fmax_mhz"], 124.5 - report["fmax_mhz"]
    assert result.output.strip().splitlines()[-1] == (
        f"Error: timing: fmax {fmax:.1f} MHz misses the 124.5 MHz clock by {miss:.1f} MHz "
        f"({100 * miss / 124.5:.1f}%)")
