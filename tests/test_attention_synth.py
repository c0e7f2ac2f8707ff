"""Synthesis of the attention unit maps it to LUTs, carries, flip-flops and RAM: no DSP block, no multiplier."""

import pytest

from spikeforge.hdl.attention.params import SCHEDULES, AttentionParams
from spikeforge.scripts.bench.attention import MULTIPLIER_CELLS, synth_cells


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
@pytest.mark.parametrize("variant", ["v1", "v2"])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_no_multipliers(variant, family, schedule, tmp_path):
    params = AttentionParams.create(variant=variant, tokens=12, channels=16, heads=2, timesteps=4, lanes=4,
                                    schedule=schedule)
    cells = synth_cells(params, family, tmp_path)
    multipliers = {cell: n for cell, n in cells.items() if cell.startswith(MULTIPLIER_CELLS)}
    assert not multipliers, f"multiplier cells in the {family} netlist: {multipliers}"
    # The memories are inferred as RAM: EBR on iCE40; on ECP5, memories this small go to LUT RAM.
    ram = ("SB_RAM40_4K",) if family == "ice40" else ("DP16KD", "TRELLIS_DPR16X4")
    assert any(cells.get(cell, 0) for cell in ram), f"no RAM in the {family} netlist: {cells}"
