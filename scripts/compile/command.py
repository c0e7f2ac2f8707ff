"""``spikeforge compile``: read a NIR graph, compile it, check it against the boards, write it (docs/compile.md)."""

from __future__ import annotations

import dataclasses

from spikeforge.sim.nir.graph import read_network

from . import compile_network
from .calibrate import calibrate, read_calibration
from .files import CHIP_FILE, write
from .fit import BOARD_LIMITS, fit
from .errors import CompileError
from .report import report


__all__ = ["CompileRequest", "compile_file"]


@dataclasses.dataclass(frozen=True)
class CompileRequest:
    """The options of ``spikeforge compile``; None where the user gave none."""

    graph: object
    dt: object
    integrator: str
    weight_bits: int
    core_neurons: object
    core_axons: object
    board: object
    uniform: bool
    calibration: object


def _limits(request):
    """The largest core (neurons, axons): the options, else the board's (the largest board's without one)."""
    neurons, axons = BOARD_LIMITS[request.board or "ulx3s-85f"]
    return request.core_neurons or neurons, request.core_axons or axons


def _check_fit(chip, request):
    boards = [request.board] if request.board else list(BOARD_LIMITS)
    fits = {board: fit(chip, board) for board in boards}
    if not any(f.fits for f in fits.values()):
        worst = ", ".join(f"{b}: logic ~{f.logic}/{f.logic_available}, block RAM {f.bram}/{f.bram_available}"
                          + (f", SPRAM {f.spram}/{f.spram_available}" if f.spram_available else "")
                          for b, f in fits.items())
        raise CompileError(f"the chip of {len(chip.cores)} cores fits no board ({worst}); use fewer or smaller "
                           f"layers, or fewer weight bits")


def compile_file(request, stage, say):
    """Compile ``request.graph`` into the directory ``stage``; ``say(message)`` reports progress and warnings.
    Returns the one-line summary. Raises ValueError (one line) for bad input and a network that cannot be
    compiled."""
    network = read_network(request.graph, dt=request.dt, integrator=request.integrator)
    calibration = read_calibration(request.calibration, network) if request.calibration else None
    neurons, axons = _limits(request)
    compiled = compile_network(network, weight_bits=request.weight_bits, core_neurons=neurons, core_axons=axons,
                               board=request.board, uniform=request.uniform)
    chip = compiled.placement.chip
    _check_fit(chip, request)
    measured = calibrate(compiled, calibration) if calibration is not None else None
    data = report(compiled, source=request.graph, calibration=measured)
    for warning in data["warnings"]:
        say(f"warning: {warning}")
    write(compiled, data, stage)
    return (f"{len(network.populations)} layers on {len(chip.cores)} cores of a {chip.width} x {chip.height} mesh; "
            f"wrote {CHIP_FILE}, weights.npz, report.md and report.json")
