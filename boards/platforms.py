"""The boards a design can be built for, by name."""

from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from spikeforge.hdl.uart import uart_divisor

from .clocking import CLOCKS_MHZ, clock_hz


__all__ = ["BOARDS", "DEFAULT_BAUD", "board_platform", "board_family", "board_clock_hz", "board_uart_divisor",
           "board_clocks"]


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


def board_clock_hz(board, clock_mhz=None):
    """The frequency in Hz a board top-level at ``clock_mhz`` runs at on ``board``: its oscillator's for None,
    else what the board's PLL makes (:func:`spikeforge.boards.clocking.clock_hz`).

    Raises
    ------
    ValueError
        If ``board`` is unknown or the PLL cannot make ``clock_mhz``.
    """
    return clock_hz(board_family(board), board_platform(board).default_clk_frequency, clock_mhz)


def board_uart_divisor(board, baud, clock_mhz=None):
    """Clock cycles per UART bit at ``baud`` on ``board`` at ``clock_mhz`` (None: its oscillator).

    Raises
    ------
    TypeError, ValueError
        As :func:`spikeforge.hdl.uart.uart_divisor` (at least 4 cycles per bit, the rate within 2%), naming the
        board and the clock.
    """
    hz = board_clock_hz(board, clock_mhz)
    try:
        return uart_divisor(hz, baud)
    except ValueError as exc:
        where = f"the {board}'s clock" if clock_mhz is None else f"the {board} at {hz / 1e6:g} MHz"
        raise ValueError(f"{exc} ({where})") from None


def board_clocks(board, baud):
    """The clocks in MHz a build for ``board`` tries when none is chosen (:data:`~spikeforge.boards.clocking.CLOCKS_MHZ`),
    highest first, keeping those that make ``baud``.

    Raises
    ------
    ValueError
        If none makes ``baud``.
    """
    clocks = CLOCKS_MHZ[board_family(board)]
    usable = []
    for mhz in clocks:
        try:
            board_uart_divisor(board, baud, mhz)
        except ValueError:
            continue
        usable.append(mhz)
    if not usable:
        raise ValueError(f"Baud rate {baud} cannot be made (within 2%, at least 4 clock cycles per bit) from any "
                         f"of the {board}'s clocks ({', '.join(f'{mhz:g}' for mhz in clocks)} MHz)")
    return tuple(usable)
