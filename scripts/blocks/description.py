"""The form of a block's description (see :mod:`spikeforge.scripts.blocks`)."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

from spikeforge.hdl.checks import check_choice, check_fraction, check_int


__all__ = ["BACKEND_NAMES", "Block", "BoardRun", "BoardRunDone", "MismatchError", "Simulation", "SweepWorkload",
           "Verdict", "check_workload", "counted", "fmax_hz", "lazy", "of_table"]


_SEEDS = (-(1 << 63), (1 << 63) - 1)

#: How progress lines name a simulate back end.
BACKEND_NAMES = {"model": "the golden model", "icarus": "the Verilog in Icarus",
                 "verilator": "the Verilog in Verilator"}


def lazy(module, name):
    """A function that calls ``name`` of ``module``, importing the module on the first call (so that loading a
    configuration does not import every generator, model and bench)."""
    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    call.__qualname__ = f"lazy({module}.{name})"
    return call


def counted(count, noun, plural=None):
    """``"1 spike"``, ``"2 spikes"``: ``count`` and its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def fmax_hz(reports):
    """The first board's fmax in Hz, or None without a board report (or an fmax)."""
    fmax = reports[0].get("fmax_mhz") if reports else None
    return fmax * 1e6 if fmax else None


def of_table(table, function):
    """``function`` applied to the parameters of ``table`` of a configuration."""
    def call(config, **options):
        return function(config.blocks[table], **options)
    return call


def check_workload(workload, *, counts, fractions=(), rtl):
    """Check a sweep workload: ``counts`` maps integer keys to their (lo, hi) range, ``fractions`` are numbers
    in 0..1, ``seed`` is any integer and ``rtl`` one of the back ends ``rtl``; raises TypeError or ValueError
    naming the key."""
    for key, (lo, hi) in counts.items():
        check_int(key, workload[key], lo, hi)
    for key in fractions:
        check_fraction(key, workload[key])
    check_int("seed", workload["seed"], *_SEEDS, "must be an integer")
    check_choice("rtl", workload["rtl"], rtl)


class MismatchError(Exception):
    """A sweep point's RTL run disagreed with the golden model."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of ``verify``: whether the RTL matched the golden model, and what was compared or the first
    mismatch, in words."""

    ok: bool
    message: str


@dataclasses.dataclass(frozen=True)
class Simulation:
    """What ``simulate`` does for a block.

    Attributes
    ----------
    input : str
        What ``--input`` holds (for the help text).
    outputs : str
        What it writes (for the help text).
    options : tuple of str
        The block-specific options it takes (``"weights"``, ``"steps"``, ``"dump_state"``...).
    run : callable
        ``run(config, request, stage, build_dir) -> str``: read the input, run it on ``request.backend``, write
        the outputs into the directory ``stage``, return the one-line summary. Bad input raises
        :class:`~spikeforge.scripts.errors.InputError`, a failing simulator
        :class:`~spikeforge.scripts.errors.ToolError`.
    """

    input: str
    outputs: str
    options: tuple
    run: Callable


@dataclasses.dataclass(frozen=True)
class BoardRunDone:
    """What ``run`` did on a board: the timesteps and input events it ran and what it wrote, in words."""

    timesteps: int
    events: int
    wrote: str


@dataclasses.dataclass(frozen=True)
class BoardRun:
    """What ``run`` does for a block on a board (:mod:`spikeforge.scripts.host.command`): ``simulate``'s input
    in, ``simulate``'s outputs out.

    Attributes
    ----------
    outputs : str
        What it writes (for the help text).
    read : callable
        ``read(config, request) -> inputs``: read and check the input and weights of ``request`` (with ``input``
        and ``options`` as :class:`~spikeforge.scripts.cli.SimulateRequest` has them), before the board is
        opened; bad input raises :class:`~spikeforge.scripts.errors.InputError`.
    run : callable
        ``run(config, inputs, board, stage, out_dir) -> BoardRunDone``: run them on the
        :class:`~spikeforge.scripts.host.board.Board` and write the outputs into the directory ``stage``.
    """

    outputs: str
    read: Callable
    run: Callable


@dataclasses.dataclass(frozen=True)
class SweepWorkload:
    """What a sweep measures on every point of a block.

    Attributes
    ----------
    defaults : dict
        The ``[sweep.workload]`` keys and their default values.
    check : callable
        ``check(workload)``: raise TypeError or ValueError naming the key when a value breaks its rule (see
        :func:`check_workload`).
    measure : callable
        ``measure(config, workload, build_dir, reports) -> dict``: the point's metrics, given the point's
        configuration and its board reports (the first is the primary board's; may be empty).
    objectives : dict
        The default objectives of an optimize sweep, metric -> ``minimize`` or ``maximize``.
    metrics : tuple of str
        Every metric ``measure`` gives (besides the board metrics), for checking objectives and constraints.
    refuse : callable or None
        ``refuse(config, workload)``: raise :class:`~spikeforge.scripts.errors.ConfigError` when this point
        cannot be measured with this workload; called before the point is built.
    """

    defaults: dict
    check: Callable
    measure: Callable
    objectives: dict
    metrics: tuple
    refuse: Callable = None


@dataclasses.dataclass(frozen=True)
class Block:
    """One kind of block, as every command sees it.

    Attributes
    ----------
    name : str
        Its configuration table, e.g. ``"lif_core"``.
    params : type
        Its parameter class: ``keys()``, ``create(**table)`` (validates; raises naming the parameter),
        ``to_dict()``.
    summary : str
        What it is, in a few words.
    extensions : dict
        Tables that extend it -> their parameter class, whose ``create`` takes this block's parameters first
        (``[stdp]`` extends ``[lif_core]``).
    toplevel : callable
        ``toplevel(config) -> str``: the name of its Verilog module.
    component : callable
        ``component(config) -> amaranth.lib.wiring.Component``: the generator.
    describe : callable
        ``describe(component) -> dict``: its part of the manifest (:func:`spikeforge.hdl.manifest.describe_block`).
    design : callable
        ``design(config) -> str``: a short label of the configuration for report tables.
    board_top : callable
        ``board_top(config, *, baud, clock_mhz=None) -> Elaboratable``: the component (the top's ``block``)
        behind the board's UART host link at ``baud``, every port reachable from the host, at ``clock_mhz``
        (None: the board's oscillator; :func:`spikeforge.boards.clocking.add_board_clock`).
    simulation : Simulation
    verify : callable
        ``verify(config, *, sim, steps, seed, build_dir, echo) -> Verdict``: the cocotb bench's randomized
        comparison with the golden model.
    verify_steps : callable or None
        ``verify_steps(config) -> int``: the default timesteps of ``verify`` for a block that runs in
        timesteps; None for a block that does not take ``--steps``.
    sweep : SweepWorkload
    board_run : BoardRun or None
        What ``run`` does on a board; None for a block the host runtime does not run.
    """

    name: str
    params: type
    summary: str
    toplevel: Callable
    component: Callable
    describe: Callable
    design: Callable
    board_top: Callable
    simulation: Simulation
    verify: Callable
    verify_steps: Callable
    sweep: SweepWorkload
    extensions: dict = dataclasses.field(default_factory=dict)
    board_run: BoardRun = None
