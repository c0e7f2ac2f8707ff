"""The boards a design can be built for, by name."""

from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform


__all__ = ["BOARDS", "board_platform", "board_family"]


# name -> (platform class, FPGA family). The family selects the synthesis and place-and-route tools.
BOARDS = {
    "icebreaker": (ICEBreakerPlatform, "ice40"),     # iCE40UP5K-SG48, 12 MHz oscillator, FTDI UART
    "ulx3s-85f": (ULX3S_85F_Platform, "ecp5"),       # LFE5U-85F-BG381, 25 MHz oscillator, FTDI UART
}


def _check_board(board):
    if board not in BOARDS:
        raise ValueError(f"Board must be one of {', '.join(repr(b) for b in BOARDS)}, not {board!r}")


def board_platform(board):
    """A new Amaranth platform instance for ``board`` (a platform can build one design only).

    Raises
    ------
    ValueError
        If ``board`` is not a key of :data:`BOARDS`.
    """
    _check_board(board)
    return BOARDS[board][0]()


def board_family(board):
    """``"ice40"`` or ``"ecp5"``."""
    _check_board(board)
    return BOARDS[board][1]
