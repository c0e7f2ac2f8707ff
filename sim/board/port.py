"""The host's end of a simulated board: build the board top-level's RTL, start it with the byte pump
(:mod:`spikeforge.sim.board.pump`) and read and write its bytes as a serial port's."""

from __future__ import annotations

import socket
import threading

from spikeforge.boards.simulated import SimulatedBoard
from spikeforge.hdl.export import export
from spikeforge.hdl.uart import uart_divisor
from spikeforge.sim.harness.runner import build, run_with_output


__all__ = ["SimulatedPort", "SIM_CLOCK_HZ"]


#: The simulated board's oscillator (the iCEBreaker's): its UART counts bit times in it unless the top asks for
#: a clock of its own (``clock_mhz``).
SIM_CLOCK_HZ = 12_000_000
# Seconds the simulator may take to start and connect once built.
_CONNECT_SECONDS = 120


class SimulatedPort:
    """A board top-level in a simulator, read and written like a :class:`serial.Serial`.

    Parameters
    ----------
    top : LifTop or ChipTop
        The board top-level.
    description : dict
        Its block's manifest description (:func:`spikeforge.hdl.manifest.describe_block`).
    sim : str
        ``"icarus"`` or ``"verilator"``.
    build_dir : path-like
        Where the simulator builds (kept between runs: a rebuild happens only when the Verilog changed).
    uart : bool
        Through the UART gateware bit by bit at the top's baud rate, or a byte per cycle into the bridge.

    Attributes
    ----------
    timeout : float
        Seconds :meth:`read` waits for a first byte.
    name : str
        ``"--sim <sim>"``, for messages.
    cycles : int or None
        Clock cycles the simulation ran, once closed.
    """

    def __init__(self, top, description, *, sim, build_dir, uart=False):
        self.name = f"--sim {sim}"
        self.timeout = 1.0
        self.cycles = None
        component = SimulatedBoard(top, clk_freq=SIM_CLOCK_HZ, uart=uart)
        verilog, manifest = export(component, name="board", build_dir=build_dir, description=description)
        built = build(sim, sources=[verilog], manifest=manifest, build_dir=build_dir)
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(_CONNECT_SECONDS)
        config = {"port": server.getsockname()[1], "uart": uart,
                  "divisor": uart_divisor(component.clk_freq, top.baud) if uart else 0}
        self._result = None
        self._thread = threading.Thread(target=self._simulate, args=(built, config), daemon=True)
        self._thread.start()
        try:
            self._sock, _ = server.accept()
        except TimeoutError:
            raise RuntimeError(f"{self.name}: the simulation did not start within {_CONNECT_SECONDS} s") from None
        finally:
            server.close()

    def _simulate(self, built, config):
        self._result = run_with_output(built, test_module="spikeforge.sim.board.pump", config=config, name="pump")

    def write(self, data):
        self._sock.sendall(bytes(data))
        return len(data)

    def read(self, size=1):
        """Up to ``size`` bytes: what has arrived, waiting up to :attr:`timeout` for the first."""
        self._sock.settimeout(self.timeout)
        try:
            return self._sock.recv(size)
        except TimeoutError:
            return b""

    def close(self):
        """Stop the simulation; raise RuntimeError when it failed."""
        self._sock.close()
        self._thread.join()
        result, output = self._result
        if not result.ok:
            raise RuntimeError(f"{self.name}: the simulation failed: {result.message}")
        self.cycles = output["cycles"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
