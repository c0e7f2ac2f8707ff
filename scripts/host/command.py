"""The bodies of ``spikeforge run`` and ``spikeforge probe`` (:mod:`spikeforge.scripts.cli` wires their options).

``run`` reads what ``simulate`` reads, runs it on a board (a serial port, or the board top-level's RTL in a
simulator, :mod:`spikeforge.sim.board`) and writes what ``simulate`` writes; the block's part is its description's
:class:`~spikeforge.scripts.blocks.description.BoardRun`. A port that cannot be opened or does not answer as the
configuration's board is one line naming it (:class:`~spikeforge.scripts.errors.InputError`, exit code 2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import time
import warnings
from pathlib import Path

from ..errors import InputError
from .board import PROTOCOL_VERSION, STATUS_FIELDS, Board, describe_info, info_parameters, read_fields
from .link import INFO, STATUS, Link, LinkError
from .run import open_serial


__all__ = ["RunRequest", "run_on_board", "probe"]


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """What ``run`` was asked.

    Attributes
    ----------
    input, out_dir : Path
        The input file and where the outputs go (for messages), as ``simulate``'s.
    options : dict
        The block's options that were given (``weights``, ``steps``).
    port : str or None
        The serial device, or None for a simulated board.
    sim : str or None
        ``"icarus"`` or ``"verilator"`` for a simulated board.
    baud : int
        The serial port's bit rate (the board's build must use the same).
    link_errors : float
        With ``sim``: the rate per byte at which the simulated link damages bytes in both directions.
    seed : int
        The seed of that damage.
    build_dir : Path
        Where the simulator builds the board top-level (kept between runs).
    """

    input: Path
    out_dir: Path
    options: dict
    port: str | None
    sim: str | None
    baud: int
    link_errors: float
    seed: int
    build_dir: Path


@contextlib.contextmanager
def _opened(config, block, request, description):
    """The byte stream of the board: the serial port, or the simulated board (with damage when asked)."""
    if request.port is not None:
        port = open_serial(request.port, request.baud)
    else:
        from spikeforge.sim.board.faults import FaultyPort
        from spikeforge.sim.board.port import SimulatedPort

        port = SimulatedPort(block.board_top(config, baud=request.baud), description, sim=request.sim,
                             build_dir=request.build_dir)
        if request.link_errors:
            port = FaultyPort(port, rate=request.link_errors, seed=request.seed)
    try:
        yield port
    finally:
        port.close()


def _manifest(config, block):
    """The block's manifest description and its manifest, as ``generate`` writes them. The block is built to be
    described, never elaborated: its warnings that it was not used are silenced."""
    from amaranth.hdl import UnusedElaboratable

    from spikeforge.hdl.export import manifest_of
    from spikeforge.sim.harness.manifest import Manifest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        component = block.component(config)
        description = block.describe(component)
        manifest = Manifest(manifest_of(component, name=block.toplevel(config), description=description))
        del component
        gc.collect()
    return description, manifest


def run_on_board(config, block, request, stage, echo):
    """Run ``request`` on the board of ``config``'s ``block``, writing the outputs into ``stage``; returns the
    summary line.

    Raises
    ------
    InputError
        On bad input, or a port that is not (or stops being) the configuration's board.
    RuntimeError
        When the simulated board's simulator fails.
    """
    if block.board_run is None:
        raise InputError(f"run takes a [lif_core] or [chip] block, not [{block.name}]")
    inputs = block.board_run.read(config, request)
    description, manifest = _manifest(config, block)
    if request.sim is not None:
        echo(f"building and starting the [{block.name}] board top-level's Verilog in {request.sim}")
    try:
        with _opened(config, block, request, description) as port:
            link = Link(port, name=port.name)
            board = Board(link, manifest, name=port.name)
            before = board.status()
            start = time.monotonic()
            done = block.board_run.run(config, inputs, board, stage, request.out_dir)
            seconds = time.monotonic() - start
            after = board.status()
    except LinkError as exc:
        raise InputError(str(exc)) from None
    s = link.stats
    detected = s.bad_frames + sum(after[name] - before[name] for name in ("bad_frames", "link_errors"))
    damaged = f" ({port.faults} bytes damaged on purpose)" if request.link_errors else ""
    return (f"{done.timesteps} timesteps, {done.events} events, {s.bytes_out} bytes out, {s.bytes_in} bytes in, "
            f"{s.retransmissions} retransmissions, {detected} link errors detected{damaged}, {seconds:.2f} s, "
            f"{done.events / seconds:.0f} events/s; {done.wrote}")


def _listed(values):
    return ", ".join(f"{name} {value}" for name, value in values.items())


def probe(device, baud):
    """What the board on serial port ``device`` holds, in lines: block, protocol version, manifest digest, the
    parameters INFO tells, the STATUS counters and the link's statistics; InputError when it is not a board."""
    try:
        port = open_serial(device, baud)
    except LinkError as exc:
        raise InputError(str(exc)) from None
    name = device
    try:
        link = Link(port, name=name)
        info = link.ask(INFO)
        block, version, digest = describe_info(info)
        if block is None:
            raise InputError(f"{name}: the device's INFO is not a spikeforge board's ({info.hex()})")
        lines = [f"{name}: a [{block}] board, protocol version {version}, manifest digest {digest.hex()}"]
        if version != PROTOCOL_VERSION:
            lines.append(f"  this runtime speaks protocol version {PROTOCOL_VERSION}: build and program it again")
            return lines
        lines.append(f"  parameters: {_listed(info_parameters(block, info))}")
        lines.append(f"  counters: {_listed(read_fields(STATUS_FIELDS[block], link.ask(STATUS)))}")
    except LinkError as exc:
        raise InputError(str(exc)) from None
    finally:
        port.close()
    s = link.stats
    lines.append(f"  link at {baud} baud: {s.bytes_out} bytes out, {s.bytes_in} bytes in, {s.retransmissions} "
                 f"retransmissions, {s.bad_frames} damaged frames, {s.timeouts} timeouts")
    return lines
