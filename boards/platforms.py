"""The boards a design can be built for, by name."""

from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from spikeforge.hdl.uart import uart_divisor


__all__ = ["BOARDS", "DEFAULT_BAUD", "board_platform", "board_family", "board_uart_divisor"]


# name -> (platform class, FPGA family). The family selects the synthesis and place-and-route tools.
BOARDS = {
    "icebreaker": (ICEBreakerPlatform, "ice40"),     # iCE40UP5K-SG48, 12 MHz oscillator, FTDI UART
    "ulx3s-85f": (ULX3S_85F_Platform, "ecp5"),       # LFE5U-85F-BG381, 25 MHz oscillator, FTDI UART
}

#: The UART bit rate of a board top-level unless its ``baud`` says otherwise.
DEFAULT_BAUD = 115200


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


def board_uart_divisor(board, baud):
    """Clock cycles per UART bit at ``baud`` from ``board``'s default clock.

    Raises
    ------
    TypeError, ValueError
        As :func:`spikeforge.hdl.uart.uart_divisor` (at least 4 cycles per bit, the rate within 2%), naming the
        board.
    """
    try:
        return uart_divisor(board_platform(board).default_clk_frequency, baud)
    except ValueError as exc:
        raise ValueError(f"{exc} (the {board}'s clock)") from None
