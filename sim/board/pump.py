"""cocotb test of the simulated board: bytes between a TCP socket and the design, until the host closes it.

The run configuration (:mod:`spikeforge.sim.harness.run_config`) holds ``port`` (the host's TCP port on
127.0.0.1), ``uart`` (drive the serial lines ``uart_rx`` / ``uart_tx`` bit by bit, else the byte streams ``rx`` /
``tx``) and ``divisor`` (clock cycles per bit). With ``output``, the test writes the cycles it ran.
"""

from __future__ import annotations

import json
import select
import socket
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge

from spikeforge.sim.harness import run_config
from spikeforge.sim.harness.clocking import CLOCK_PERIOD_NS, Timeout, reset, start_clock
from spikeforge.sim.harness.streams import StreamPorts
from cocotb.utils import get_sim_time


# Cycles the design runs between two looks at the socket when there is nothing to do.
_IDLE_CYCLES = 32
# Cycles a byte may wait for the design before the pump looks whether the host has gone.
_PATIENCE_CYCLES = 20_000


def _receive(sock):
    """Bytes the host sent (empty when none), or None when it closed the connection."""
    if not select.select([sock], [], [], 0)[0]:
        return b""
    data = sock.recv(65536)
    return data or None


async def _pump_bytes(dut, manifest, sock):
    ports = StreamPorts(dut, manifest, seed=0, patience=_PATIENCE_CYCLES)
    source, sink = ports.source("rx"), ports.sink("tx")
    sink.start()
    pending = bytearray()       # bytes from the host the design has not taken yet
    while True:
        data = _receive(sock)
        if data is None:
            return
        pending += data
        if pending:
            # A design that stops taking bytes must not keep the simulation running once the host has gone:
            # every _PATIENCE_CYCLES the socket is read again.
            first = source.sent
            try:
                await source.send(pending)
            except Timeout:
                pass
            del pending[:source.sent - first]
        out = sink.take_all()
        if out:
            sock.sendall(bytes(out))
        if not data and not out:
            await ClockCycles(dut.clk, _IDLE_CYCLES)


async def _uart_receiver(dut, divisor, sock):
    """Every byte the design sends on ``uart_tx``, to the socket."""
    while True:
        await FallingEdge(dut.uart_tx)
        await ClockCycles(dut.clk, divisor + divisor // 2)     # the middle of data bit 0
        byte = 0
        for bit in range(8):
            byte |= int(dut.uart_tx.value) << bit
            await ClockCycles(dut.clk, divisor)
        sock.sendall(bytes([byte]))       # now in the stop bit


async def _pump_uart(dut, divisor, sock):
    dut.uart_rx.value = 1
    cocotb.start_soon(_uart_receiver(dut, divisor, sock))
    while True:
        data = _receive(sock)
        if data is None:
            return
        for byte in data:
            for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                dut.uart_rx.value = bit
                await ClockCycles(dut.clk, divisor)
        if not data:
            await ClockCycles(dut.clk, 10 * divisor)


@cocotb.test()
async def pump(dut):
    """Move bytes between the host's socket and the design until the host closes the socket."""
    config = run_config.load()
    manifest = run_config.load_manifest(config)
    sock = socket.create_connection(("127.0.0.1", config["port"]))
    start_clock(dut.clk)
    await reset(dut.clk, dut.rst)
    try:
        if config["uart"]:
            await _pump_uart(dut, config["divisor"], sock)
        else:
            await _pump_bytes(dut, manifest, sock)
    finally:
        sock.close()
    if config.get("output"):
        cycles = round(get_sim_time("ns") / CLOCK_PERIOD_NS)
        Path(config["output"]).write_text(json.dumps({"cycles": cycles}) + "\n")
