"""The ``spikeforge`` command line: generate, simulate, verify and build a block from a configuration file.

Every command takes a TOML configuration file (see :mod:`spikeforge.scripts.config`) and repeatable
``--set key=value`` overrides, and works on the block the file describes, through that block's description
(:mod:`spikeforge.scripts.blocks`): nothing here is particular to one block.

Problems with the input (configuration, input file, weights, options) print one line on stderr and exit with
code 2 before anything is written; output files are written to a staging directory and moved into place only
when the command succeeds. A simulator or build tool that fails exits with code 1. Progress goes to stderr,
results to stdout.
"""

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from spikeforge.boards.clocking import CLOCKS_MHZ, FASTEST
from spikeforge.boards.platforms import BOARDS, DEFAULT_BAUD, board_clocks, board_family, board_uart_divisor

from .blocks import BLOCKS, block_of, build_block, export_block
from .config import load_config
from .data_files import DataFileError
from .errors import ConfigError, InputError, Interrupted, ToolError
from .interrupts import terminate_like_interrupt
from .progress import still_running
from .workers import check_scheduler


__all__ = ["main"]

RTL_BACKENDS = ("icarus", "verilator")
MAX_VERIFY_STEPS = 10_000      # verify reads every state back after every step
#: In an output directory, the names of the files the last command wrote there: the next command to write there
#: removes those it does not write again, and never a file spikeforge did not write.
OUTPUTS_RECORD = ".spikeforge-outputs"


class _OneLineErrors(click.Group):
    """A command group whose errors, click's usage errors included, are a single ``Error: ...`` line."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        if args is None:                # the real command line, not a caller's (a test's) in-process run
            terminate_like_interrupt()
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" Try '{exc.ctx.command_path} --help'." if exc.ctx is not None else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:       # Ctrl-C, or SIGTERM (see spikeforge.scripts.interrupts)
            raise Interrupted("interrupted; the outputs were not written") from None


def _stage(message):
    click.echo(f"spikeforge: {message}", err=True)


@contextlib.contextmanager
def _input_errors():
    """Turn configuration and data-file errors into one-line exit-code-2 errors."""
    try:
        yield
    except (ConfigError, DataFileError) as exc:
        raise InputError(str(exc)) from None


def _writable(directory, named=None):
    """Create ``directory`` when missing; raise InputError in one line, naming the output ``named`` (default
    ``directory``), when it cannot be created or written. Returns the directories it created, deepest first."""
    directory = Path(directory)
    named = directory if named is None else named
    missing = []
    for parent in [directory, *directory.absolute().parents]:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{named}: {parent} is not a directory")
        if parent.exists():
            break
        missing.append(parent)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{named}: cannot write there ({exc.strerror or exc})") from None
    if not os.access(directory, os.W_OK):
        raise InputError(f"{named}: cannot write there (permission denied)")
    return missing


def _recorded_outputs(out_dir):
    """The file names :data:`OUTPUTS_RECORD` of ``out_dir`` lists (none when it has no record)."""
    try:
        lines = (out_dir / OUTPUTS_RECORD).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in lines if line and not line.startswith("#") and line == Path(line).name
            and line not in (".", "..", OUTPUTS_RECORD)}


def _replace_outputs(stage, out_dir):
    """Move the files of ``stage`` into ``out_dir`` and remove the files of the previous command there that this
    one did not write again (those its record lists); then record this command's."""
    out_dir.mkdir(exist_ok=True)
    written = sorted(item.name for item in stage.iterdir())
    for name in written:
        os.replace(stage / name, out_dir / name)
    for name in _recorded_outputs(out_dir) - set(written):
        if (out_dir / name).is_file():
            (out_dir / name).unlink()
    (out_dir / OUTPUTS_RECORD).write_text("# Written by spikeforge: the files its last command wrote here.\n"
                                          + "".join(f"{name}\n" for name in written), encoding="utf-8")


@contextlib.contextmanager
def _staged_output(out_dir):
    """Yield an empty staging directory beside ``out_dir``; on success move its files into ``out_dir`` in place
    of the previous command's outputs (see :data:`OUTPUTS_RECORD`).

    On failure nothing is left behind (not even the parent directories it created), so an existing ``out_dir``
    keeps its old contents.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a directory")
    target = out_dir.absolute()
    created = _writable(target.parent, named=out_dir)
    done = False
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot write there ({exc.strerror or exc})") from None
    try:
        yield stage
        _replace_outputs(stage, out_dir)
        done = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        for directory in created if not done else ():
            with contextlib.suppress(OSError):
                directory.rmdir()


@contextlib.contextmanager
def _build_dir(path):
    """The build directory given with ``--build-dir``, or a temporary one removed afterwards."""
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
    else:
        with tempfile.TemporaryDirectory(prefix="spikeforge-build-") as tmp:
            yield Path(tmp)


def _load(config, overrides):
    """The loaded configuration and the :class:`~spikeforge.scripts.blocks.Block` it describes."""
    with _input_errors():
        loaded = load_config(config, overrides)
        block = block_of(loaded)
    return loaded, block


def _takers(option):
    """``[lif_core]`` or ``[router] or [mesh]``...: the blocks whose ``simulate`` takes ``option``."""
    return " or ".join(f"[{b.name}]" for b in BLOCKS.values() if option in b.simulation.options)


@contextlib.contextmanager
def _tool_errors():
    """Turn a simulator's failure to build or run the design into a ToolError."""
    try:
        yield
    except RuntimeError as exc:
        raise ToolError(str(exc)) from None


_config_argument = click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
_set_option = click.option("--set", "overrides", metavar="KEY=VALUE", multiple=True,
                           help="Override a configuration value, e.g. --set lanes=4 or "
                                "--set lif_core.model=cuba (repeatable).")
_build_dir_option = click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
                                 help="Keep simulator build products here (default: a temporary directory).")
_baud_option = click.option("--baud", type=click.IntRange(min=1), default=DEFAULT_BAUD, show_default=True,
                            help="The UART's bit rate (the FTDI parts of both boards run up to 3000000).")
_output_option = click.option("-o", "--output", "out_dir", metavar="DIR", required=True,
                              type=click.Path(file_okay=False, path_type=Path), help="Output directory.")


def _block_help(what):
    """One line per block: its table and what ``what(block)`` says of it."""
    return "\n".join(f"  [{b.name}]  {what(b)}" for b in BLOCKS.values())


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spikeforge", prog_name="spikeforge", message="%(prog)s %(version)s")
def main():
    """Generate, simulate, verify and build spiking neural network hardware."""


@main.command()
@_config_argument
@_set_option
@_output_option
def generate(config, overrides, out_dir):
    """Write the Verilog of the block described by CONFIG and its manifest to DIR/<top>.v and DIR/<top>.json.

    The manifest (docs/architecture.md) names the block and its parameters, describes the ports (streams as
    name__valid, name__ready, name__payload with the payload's field offsets), the derived widths, the memory
    map where there is one, and the tool versions."""
    loaded, block = _load(config, overrides)
    with _staged_output(out_dir) as stage:
        _stage(f"converting the [{block.name}] block to Verilog (the first run compiles Yosys)")
        verilog, manifest = export_block(loaded, stage)
    click.echo(f"wrote {out_dir / verilog.name} and {out_dir / manifest.name}")


@dataclasses.dataclass(frozen=True)
class SimulateRequest:
    """What ``simulate`` was asked: the input file, the back end, where the outputs go (for messages) and the
    block-specific options that were given (name -> value)."""

    input: Path
    backend: str
    out_dir: Path
    options: dict


_SIMULATE_OPTIONS = {
    "weights": click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path),
                            help="Integer weights, zero when omitted: [lif_core] a .npy array of shape (axons, "
                                 "neurons); [chip] an .npz file of one such array per core name (default: the "
                                 "[chip] table's weights file)."),
    "steps": click.option("--steps", type=int, help="[lif_core] timesteps to run (default: the last event's "
                                                    "t + 1)."),
    "dump_state": click.option("--dump-state", is_flag=True, help="[lif_core] also write state.npz: v (and u) "
                                                                  "after every timestep; [chip] every core's "
                                                                  "spikes and state after every timestep."),
    "plot": click.option("--plot", is_flag=True, help="[chip] also write chip.png: every core's spike raster and "
                                                      "the packets on every link."),
    "dt": click.option("--dt", type=float, help="[NET.nir] seconds per timestep (see compile --help)."),
    "integrator": click.option("--integrator", type=click.Choice(("euler", "exact")),
                               help="[NET.nir] euler (default) or exact."),
    "dump_weights": click.option("--dump-weights", is_flag=True, help="[lif_core] with [stdp]: also write "
                                 "weights.npy, the learned weights at the end, shape (axons, neurons)."),
    "trace_weights": click.option("--trace-weights", is_flag=True, help="[lif_core] with [stdp]: write "
                                  "weights.npy with the weights after every timestep, shape (steps, axons, "
                                  "neurons)."),
    "jobs": click.option("-j", "--jobs", type=click.IntRange(min=1), help="[chip] on an RTL back end: split the "
                         "batch of samples into N parts run at once on local processes (or on the --scheduler's "
                         "workers)."),
    "scheduler": click.option("--scheduler", metavar="tcp://HOST:PORT", help="[chip] on an RTL back end: run the "
                              "parts of the batch on this Dask cluster."),
}


def _simulate_options(command):
    for option in reversed(_SIMULATE_OPTIONS.values()):
        command = option(command)
    return command


@main.command(help=f"""Run an input through the block described by CONFIG, on the golden model or the
generated Verilog.

\b
{_block_help(lambda b: f"{b.simulation.input} in, {b.simulation.outputs} out")}""")
@_config_argument
@_set_option
@click.option("--input", "input_path", metavar="FILE", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The input (see above for each block).")
@_simulate_options
@click.option("--backend", type=click.Choice(("model",) + RTL_BACKENDS), default="model", show_default=True,
              help="The golden model, or the generated Verilog in Icarus Verilog or Verilator.")
@_output_option
@_build_dir_option
def simulate(config, overrides, input_path, backend, out_dir, build_dir, **options):
    given = {name: value for name, value in options.items() if value is not None and value is not False}
    if config.suffix == ".nir":
        _simulate_graph(config, overrides, input_path, backend, out_dir, given)
        return
    for name in ("dt", "integrator"):
        if name in given:
            raise InputError(f"--{name} applies to a NIR graph (NET.nir), not a configuration file")
    if problem := check_scheduler(given.get("scheduler")):
        raise InputError(problem)
    loaded, block = _load(config, overrides)
    for name in given:
        if name not in block.simulation.options:
            raise InputError(f"--{name.replace('_', '-')} applies to a {_takers(name)} block, not [{block.name}]")
    request = SimulateRequest(input=input_path, backend=backend, out_dir=out_dir, options=given)
    running = still_running(f"simulating in {backend}") if backend in RTL_BACKENDS else contextlib.nullcontext()
    with _staged_output(out_dir) as stage, _build_dir(build_dir) as build, _input_errors(), _tool_errors(), running:
        summary = block.simulation.run(loaded, request, stage, build)
    click.echo(summary)


def _simulate_graph(graph, overrides, input_path, backend, out_dir, given):
    """``simulate NET.nir``: the float reference of the graph (docs/nir.md)."""
    from .graph import simulate_graph

    refused = (["--set"] if overrides else []) + ([f"--backend {backend}"] if backend != "model" else []) + \
        [f"--{name.replace('_', '-')}" for name in sorted(set(given) - {"dt", "integrator"})]
    if refused:
        raise InputError(f"{refused[0]} does not apply to a NIR graph, which runs on its float reference only")
    with _staged_output(out_dir) as stage:
        try:
            summary = simulate_graph(graph, input_path, stage, dt=given.get("dt"),
                                     integrator=given.get("integrator", "euler"))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    click.echo(f"{summary}; wrote {out_dir / 'out.npz'}")


@main.command()
@_config_argument
@_set_option
@click.option("--sim", type=click.Choice(RTL_BACKENDS), default="icarus", show_default=True,
              help="Verilog simulator running the cocotb bench.")
@click.option("--steps", type=int, help="[lif_core] or [chip]: timesteps of random input (default 30 for a core, 20 "
                                       "with [stdp], 8 for a chip).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the random input (a non-negative integer).")
@_build_dir_option
@click.pass_context
def verify(ctx, config, overrides, sim, steps, seed, build_dir):
    """Check the generated Verilog of CONFIG against the golden model on random input, in cocotb; print what
    was compared or the first mismatch (exit code 1)."""
    loaded, block = _load(config, overrides)
    if steps is not None:
        if block.verify_steps is None:
            takers = " or ".join(f"[{b.name}]" for b in BLOCKS.values() if b.verify_steps is not None)
            raise InputError(f"--steps applies to a {takers} block, not [{block.name}]")
        if not 1 <= steps <= MAX_VERIFY_STEPS:
            raise InputError(f"--steps {steps}: the number of timesteps must be in 1..{MAX_VERIFY_STEPS}")
    elif block.verify_steps is not None:
        steps = block.verify_steps(loaded)
    with _build_dir(build_dir) as build, _tool_errors(), still_running("verifying"):
        verdict = block.verify(loaded, sim=sim, steps=steps, seed=seed, build_dir=build, echo=_stage)
    click.echo(verdict.message)
    ctx.exit(0 if verdict.ok else 1)


@main.command()
@_config_argument
@_set_option
@click.option("--board", required=True, type=click.Choice(list(BOARDS)), help="Target board.")
@click.option("-o", "--output", "out_dir", metavar="DIR", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the bitstream, logs, report.json and the block's manifest.")
@_baud_option
@click.option("--clock", "clock_mhz", metavar="MHZ", type=click.FloatRange(min=0, min_open=True),
              help="The clock the bitstream runs at, made by the board's PLL from its oscillator; the UART divisor "
                   "follows it. Default: the highest of " + "; ".join(
                       f"{', '.join(f'{mhz:g}' for mhz in CLOCKS_MHZ[board_family(board)])} MHz ({board})"
                       for board in BOARDS) + " that meets timing and makes the baud rate (each tried in "
                                              "DIR/clocks/).")
def build(config, overrides, board, out_dir, baud, clock_mhz):
    """Synthesize, place and route the block described by CONFIG on its board top-level (the block behind the
    board's UART host link) for BOARD and print the resource report. A build whose fmax misses its clock fails
    (exit code 2) saying by how much.

    Logs are written to DIR as the build goes, so a failed build leaves them there to read.
    """
    loaded, block = _load(config, overrides)
    try:
        if clock_mhz is None:
            board_clocks(board, baud)
        else:
            board_uart_divisor(board, baud, clock_mhz)
    except ValueError as exc:
        raise InputError(f"{'' if clock_mhz is None else f'--clock {clock_mhz:g} '}--baud {baud}: {exc}") from None
    from spikeforge.boards.build import BuildError, TimingMissed
    from spikeforge.boards.report import format_table

    _writable(out_dir)
    _stage(f"building the [{block.name}] block {block.design(loaded)} for {board} in {out_dir}")
    try:
        report = build_block(loaded, board, out_dir, baud=baud, clock_mhz=FASTEST if clock_mhz is None else clock_mhz)
    except TimingMissed as exc:
        raise InputError(str(exc)) from None
    except BuildError as exc:           # a tool failed, or the design does not fit the device
        raise ToolError(str(exc)) from None
    click.echo(format_table(report))


@main.command(help=f"""Run an input through the block described by CONFIG on its board: a board on serial port
DEVICE (built with spikeforge build at the same --baud), or the board top-level's Verilog in a simulator; reads
and writes what simulate does and prints the link's summary (docs/board_bringup.md).

\b
{_block_help(lambda b: f"{b.simulation.input} in, {b.board_run.outputs} out" if b.board_run
            else "not run on a board")}""")
@_config_argument
@_set_option
@click.option("--port", metavar="DEVICE", help="The board's serial port, e.g. /dev/ttyUSB1.")
@_baud_option
@click.option("--sim", type=click.Choice(RTL_BACKENDS), help="A simulated board: the board top-level's Verilog in "
                                                             "this simulator, behind the same link.")
@click.option("--input", "input_path", metavar="FILE", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The input, as simulate's.")
@_SIMULATE_OPTIONS["weights"]
@_SIMULATE_OPTIONS["steps"]
@_SIMULATE_OPTIONS["dump_weights"]
@click.option("--link-errors", type=click.FloatRange(0, 1, max_open=True), metavar="RATE",
              help="With --sim: damage this fraction of the link's bytes in both directions (flip, drop, insert).")
@click.option("--seed", type=int, help="With --sim: the seed of --link-errors (default 0).")
@_output_option
@_build_dir_option
def run(config, overrides, port, baud, sim, input_path, weights, steps, dump_weights, link_errors, seed, out_dir,
        build_dir):
    from .host.command import RunRequest, run_on_board

    if (port is None) == (sim is None):
        raise InputError("give the board as --port DEVICE or as --sim icarus|verilator, one of the two")
    for name, value in (("--link-errors", link_errors), ("--seed", seed)):
        if value is not None and sim is None:
            raise InputError(f"{name} applies to a simulated board (--sim), not to --port {port}")
    loaded, block = _load(config, overrides)
    given = {name: value for name, value in (("weights", weights), ("steps", steps), ("dump_weights", dump_weights))
             if value not in (None, False)}
    for name in given:
        if name not in block.simulation.options:
            raise InputError(f"--{name} applies to a {_takers(name)} block, not [{block.name}]")
    with _staged_output(out_dir) as stage, _build_dir(build_dir) as build, _input_errors(), _tool_errors():
        request = RunRequest(input=input_path, out_dir=out_dir, options=given, port=port, sim=sim, baud=baud,
                             link_errors=link_errors or 0.0, seed=seed or 0, build_dir=build)
        summary = run_on_board(loaded, block, request, stage, _stage)
    click.echo(summary)


@main.command()
@click.option("--port", metavar="DEVICE", required=True, help="The board's serial port, e.g. /dev/ttyUSB1.")
@_baud_option
def probe(port, baud):
    """Print what the board on serial port DEVICE holds: its block, protocol version and manifest digest, the
    parameters it tells, its counters and the link's statistics."""
    from .host.command import probe as probe_board

    for line in probe_board(port, baud):
        click.echo(line)


@main.command(name="compile")
@click.argument("graph", metavar="NET.nir", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dt", type=float, help="Seconds per timestep the continuous-time neurons are discretized with; "
                                       "required unless the graph's metadata states it (snnTorch: 1e-4).")
@click.option("--integrator", type=click.Choice(("euler", "exact")), default="euler", show_default=True,
              help="euler: beta = 1 - dt/tau (snnTorch, Norse); exact: beta = exp(-dt/tau).")
@click.option("--weight-bits", type=click.IntRange(2, 16), default=8, show_default=True,
              help="Bits of a signed weight.")
@click.option("--core-neurons", type=click.IntRange(1, 65536),
              help="The most neurons of one core; a larger layer is split (default: the board's largest core).")
@click.option("--core-axons", type=click.IntRange(1, 65536),
              help="The most axons of one core: a layer's fan-in (default: the board's largest core).")
@click.option("--board", type=click.Choice(list(BOARDS)), help="Size the cores for this board and check that "
                                                               "the chip fits it (default: any board).")
@click.option("--uniform", is_flag=True, help="One core shape everywhere (the largest layer's), thresholds and "
                                             "biases per neuron: one bitstream for many networks.")
@click.option("--calibrate", "calibration", metavar="IN.npz", type=click.Path(dir_okay=False, path_type=Path),
              help="Input spikes (batch, steps, inputs): the float and the compiled network's activity per layer.")
@_output_option
def compile_command(graph, dt, integrator, weight_bits, core_neurons, core_axons, board, uniform, calibration,
                    out_dir):
    """Compile the NIR graph NET.nir into a chip: DIR/chip.toml (the [chip] format every command takes), its
    weights.npz, and report.md and report.json (cores, layers, quantization, fit per board)."""
    from .compile.command import CompileRequest, compile_file

    request = CompileRequest(graph=graph, dt=dt, integrator=integrator, weight_bits=weight_bits,
                             core_neurons=core_neurons, core_axons=core_axons, board=board, uniform=uniform,
                             calibration=calibration)
    _stage(f"compiling {graph}")
    with _staged_output(out_dir) as stage:
        try:
            summary = compile_file(request, stage, _stage)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    click.echo(f"{summary} in {out_dir}")


@main.command()
@click.argument("space_path", metavar="SPACE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", metavar="DIR", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for results.csv, results.jsonl, pareto.png and the point cache.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Points evaluated at once (local process pool, or batch size on a cluster).")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run the points on this Dask cluster.")
@click.option("--resume", is_flag=True, help="Continue the optimize study in DIR instead of starting anew "
                                             "(finished points always come from the cache).")
def sweep(space_path, out_dir, jobs, scheduler, resume):
    """Explore the parameters SPACE names: build, simulate and measure every point, then print the Pareto
    front of the objectives (docs/sweep.md)."""
    from spikeforge.scripts.sweep.pareto import label
    from spikeforge.scripts.sweep.run import run_sweep
    from spikeforge.scripts.sweep.space import load_space

    with _input_errors():
        space = load_space(space_path)
    if problem := check_scheduler(scheduler):
        raise InputError(problem)
    _writable(out_dir)
    executor = f"Dask cluster {scheduler}" if scheduler else f"{jobs} local worker{'s' if jobs > 1 else ''}"
    _stage(f"{space.mode} sweep of {space_path} on {executor}, results in {out_dir}")
    try:
        rows, front, result = run_sweep(space, out_dir, jobs=jobs, scheduler=scheduler, resume=resume)
    except OSError as exc:
        raise ToolError(f"{scheduler or 'local pool'}: {exc}") from None
    statuses = {}
    for row in {r["key"]: r for r in rows}.values():
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    click.echo(f"{len(rows)} points ({result.computed} computed, {len(rows) - result.computed} from the cache): "
               + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    objectives = list(space.objectives)
    click.echo(f"Pareto front ({', '.join(f'{m} {d}' for m, d in space.objectives.items())}):")
    for row in front:
        values = "  ".join(f"{m}={row[m]:.4g}" for m in objectives)
        click.echo(f"  {label(row, space.parameters):40s} {values}")
    if not front:
        click.echo("  (no feasible point)")
    click.echo(f"wrote {out_dir / 'results.csv'}, {out_dir / 'results.jsonl'}, {out_dir / 'pareto.png'}")
