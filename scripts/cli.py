"""The ``spikeforge`` command line: generate, simulate, verify and build a block from a configuration file.

Every command takes a TOML configuration file (see :mod:`spikeforge.scripts.config`) and repeatable
``--set key=value`` overrides, and works on the block the file describes: ``[lif_core]`` (with ``[stdp]``),
``[router]``, ``[mesh]`` or ``[attention]``; ``build`` is for the LIF core.

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
import numpy as np

from spikeforge.boards.platforms import BOARDS

from .config import ConfigError, load_config
from .data_files import DataFileError, read_events, read_weights, write_spikes, write_state


__all__ = ["main"]

TOP = "lif_core"
RTL_BACKENDS = ("icarus", "verilator")
LIF_VERIFY_STEPS = 30
STDP_VERIFY_STEPS = 20     # every weight, trace and eligibility is read back after every tick
ATTENTION_VERIFY_CALLS = 2


class InputError(click.ClickException):
    """Bad input from the user: printed as one line, exit code 2."""
    exit_code = 2


class ToolError(click.ClickException):
    """A simulator or build tool failed: printed as its message, exit code 1."""
    exit_code = 1


class _OneLineErrors(click.Group):
    """A command group whose errors, click's usage errors included, are a single ``Error: ...`` line."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, standalone_mode=False, **extra)
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


def _stage(message):
    click.echo(f"spikeforge: {message}", err=True)


@contextlib.contextmanager
def _input_errors():
    """Turn configuration and data-file errors into one-line exit-code-2 errors."""
    try:
        yield
    except (ConfigError, DataFileError) as exc:
        raise InputError(str(exc)) from None


@contextlib.contextmanager
def _staged_output(out_dir):
    """Yield an empty staging directory beside ``out_dir``; on success move its files into ``out_dir``.

    On failure nothing is left behind, so an existing ``out_dir`` keeps its old contents.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a directory")
    target = out_dir.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        yield stage
        out_dir.mkdir(exist_ok=True)
        for item in stage.iterdir():
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
    """The configuration, and the name and parameters of the block it describes."""
    with _input_errors():
        loaded = load_config(config, overrides)
        block, params = loaded.top()
    return loaded, block, params


def _learning(loaded):
    """The [stdp] parameters when the configuration builds the learning engine, else None."""
    stdp = loaded.blocks.get("stdp")
    return stdp if stdp is not None and stdp.enabled else None


def _only_for(block, allowed, what):
    if block not in allowed:
        raise InputError(f"{what} applies to a {' or '.join(f'[{b}]' for b in allowed)} block, not [{block}]")


_config_argument = click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
_set_option = click.option("--set", "overrides", metavar="KEY=VALUE", multiple=True,
                           help="Override a configuration value, e.g. --set lanes=4 or "
                                "--set lif_core.model=cuba (repeatable).")
_build_dir_option = click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
                                 help="Keep simulator build products here (default: a temporary directory).")


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Generate, simulate, verify and build spiking neural network hardware."""


@main.command()
@_config_argument
@_set_option
@click.option("-o", "--output", "out_dir", metavar="DIR", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the Verilog module and its JSON manifest.")
def generate(config, overrides, out_dir):
    """Write the Verilog of the block described by CONFIG and its manifest to DIR/<top>.v and DIR/<top>.json.

    The manifest describes the ports (streams as name__valid, name__ready, name__payload with the payload's
    field offsets) and, under "extra", the parameters, memory map and tool versions."""
    loaded, block, params = _load(config, overrides)
    with _staged_output(out_dir) as stage:
        _stage(f"converting the [{block}] block to Verilog (the first run compiles Yosys)")
        verilog, manifest = _export(loaded, block, params, stage)
    click.echo(f"wrote {out_dir / verilog.name} and {out_dir / manifest.name}")


def _export(loaded, block, params, out_dir):
    """Write the Verilog and the manifest of the configuration's block to ``out_dir``; return their paths."""
    from spikeforge.hdl.manifest import tool_versions
    from spikeforge.sim.harness.export import export

    if block == "lif_core":
        from spikeforge.hdl.lif_core.core import LifCore
        from spikeforge.hdl.lif_core.manifest import lif_core_manifest

        core = LifCore(params, stdp=loaded.blocks.get("stdp"))
        return export(core, name=TOP, build_dir=out_dir, extra=lif_core_manifest(core))
    if block in ("router", "mesh"):
        from spikeforge.sim.aer.rtl import export_network

        return export_network(params, out_dir)
    from spikeforge.hdl.attention.unit import AttentionUnit
    from spikeforge.sim.attention.rtl import TOPLEVEL

    extra = {"block": block, "parameters": params.to_dict(), "tools": tool_versions()}
    return export(AttentionUnit(params), name=TOPLEVEL, build_dir=out_dir, extra=extra)


def _run_model(params, weights, events, steps, dump_state):
    from spikeforge.sim.lif_core.model import LifModel

    model = LifModel(params, weights)
    by_step = [[] for _ in range(steps)]
    for t, axon in events:
        by_step[t].append(axon)
    spikes, v, u = [], [], []
    with click.progressbar(range(steps), label="simulating", file=sys.stderr) as bar:
        for t in bar:
            spikes.extend((t, int(n)) for n in model.step(by_step[t]))
            if dump_state:
                v.append(model.v.copy())
                u.append(model.u.copy())
    state = {}
    if dump_state:
        state["v"] = np.array(v, dtype=np.int64).reshape(steps, params.neurons)
        if params.has_current:
            state["u"] = np.array(u, dtype=np.int64).reshape(steps, params.neurons)
    return spikes, state


@main.command()
@_config_argument
@_set_option
@click.option("--input", "input_path", metavar="FILE", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Input: [lif_core] events, a CSV file t,addr (addr: axon; with [stdp] reward = true also "
                   "reward rows t,reward,value under the header t,addr,value); [router]/[mesh] packets, a CSV "
                   "file t,src,dest,payload; [attention] an .npz file of q, k and v.")
@click.option("--weights", "weights_path", type=click.Path(dir_okay=False, path_type=Path),
              help="[lif_core] integer weights, a .npy array of shape (axons, neurons); zero when omitted.")
@click.option("--steps", type=int, help="[lif_core] timesteps to run (default: the last event's t + 1).")
@click.option("--backend", type=click.Choice(("model",) + RTL_BACKENDS), default="model", show_default=True,
              help="The golden model, or the generated Verilog in Icarus Verilog or Verilator.")
@click.option("-o", "--output", "out_dir", metavar="DIR", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the output: spikes.csv (and state.npz), delivered.csv or out.npz.")
@click.option("--dump-state", is_flag=True, help="[lif_core] also write state.npz: v (and u) after every "
                                                  "timestep.")
@click.option("--dump-weights", is_flag=True, help="[lif_core] with [stdp]: also write weights.npy, the learned "
                                                    "weights at the end, shape (axons, neurons).")
@click.option("--trace-weights", is_flag=True, help="[lif_core] with [stdp]: write weights.npy with the weights "
                                                     "after every timestep, shape (steps, axons, neurons).")
@_build_dir_option
def simulate(config, overrides, input_path, weights_path, steps, backend, out_dir, dump_state, dump_weights,
             trace_weights, build_dir):
    """Run an input through the block described by CONFIG, on the golden model or the generated Verilog.

    \b
    [lif_core]           events in, DIR/spikes.csv (t,addr; addr = neuron) out
      with [stdp]        also rewards in (rows t,reward,value), DIR/weights.npy out
    [router] or [mesh]   packets in, DIR/delivered.csv (t,node,src,payload) out
    [attention]          q, k, v in, DIR/out.npz (o) out
    """
    loaded, block, params = _load(config, overrides)
    lif_options = {"--weights": weights_path is not None, "--steps": steps is not None, "--dump-state": dump_state,
                   "--dump-weights": dump_weights, "--trace-weights": trace_weights}
    for option in (option for option, given in lif_options.items() if given):
        _only_for(block, ("lif_core",), option)
    if block == "lif_core":
        for option in ("--dump-weights", "--trace-weights"):
            if lif_options[option] and _learning(loaded) is None:
                raise InputError(f"{option} needs a learning core: {loaded.path} has no enabled [stdp] table")
        outputs = _LifOutputs(state=dump_state, weights=dump_weights or trace_weights, trace=trace_weights)
        _simulate_lif(loaded, params, input_path, weights_path, steps, backend, out_dir, outputs, build_dir)
    elif block in ("router", "mesh"):
        _simulate_aer(params, input_path, backend, out_dir, build_dir)
    else:
        _simulate_attention(params, input_path, backend, out_dir, build_dir)


@contextlib.contextmanager
def _tool_errors():
    """Turn a simulator's failure to build or run the design into a ToolError."""
    try:
        yield
    except RuntimeError as exc:
        raise ToolError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class _LifOutputs:
    """What ``simulate`` writes for a LIF core besides spikes.csv."""
    state: bool         # state.npz
    weights: bool       # weights.npy
    trace: bool         # weights.npy holds every step's weights


def _simulate_lif(loaded, params, events_path, weights_path, steps, backend, out_dir, outputs, build_dir):
    stdp = _learning(loaded)
    if steps is not None and steps < 1:
        raise InputError(f"--steps {steps}: the number of timesteps must be at least 1")
    reward_bits = stdp.reward_bits if stdp is not None and stdp.reward else None
    with _input_errors():
        events, rewards = read_events(events_path, axons=params.axons, steps=steps, reward_bits=reward_bits)
        weights = read_weights(weights_path, params) if weights_path is not None else None
    if steps is None:
        if not events and not rewards:
            raise InputError(f"{events_path}: no events, so the number of timesteps is unknown; give --steps")
        steps = max(t for t, _ in events + rewards) + 1
    events.sort(key=lambda event: event[0])
    rewards.sort(key=lambda reward: reward[0])

    with _staged_output(out_dir) as stage:
        if stdp is not None:
            spikes, state, learned = _simulate_learning(params, stdp, weights, events, rewards, steps, backend,
                                                        outputs, build_dir)
        elif backend == "model":
            spikes, state = _run_model(params, weights, events, steps, outputs.state)
        else:
            from spikeforge.sim.lif_core.rtl import simulate_rtl

            _stage(f"simulating {steps} timesteps of the generated Verilog in {backend}")
            with _build_dir(build_dir) as build, _tool_errors():
                spikes, state = simulate_rtl(params, weights=weights, events=events, steps=steps, sim=backend,
                                             build_dir=build, dump_state=outputs.state)
        written = ["spikes.csv"]
        write_spikes(stage / "spikes.csv", spikes)
        if outputs.state:
            write_state(stage / "state.npz", state)
            written.append("state.npz")
        if outputs.weights:
            np.save(stage / "weights.npy", learned["trace" if outputs.trace else "weights"])
            written.append("weights.npy")
    rewarded = f" and {len(rewards)} rewards" if rewards else ""
    paths = [str(out_dir / name) for name in written]
    listed = paths[0] if len(paths) == 1 else f"{', '.join(paths[:-1])} and {paths[-1]}"
    click.echo(f"{len(spikes)} spikes in {steps} timesteps{rewarded}; wrote {listed}")


def _simulate_learning(params, stdp, weights, events, rewards, steps, backend, outputs, build_dir):
    """Spikes, state and learned weights of a learning core, on the model or the RTL."""
    if backend == "model":
        from spikeforge.sim.stdp.simulate import simulate_model

        with click.progressbar(length=steps, label="simulating", file=sys.stderr) as bar:
            return simulate_model(params, stdp, weights=weights, events=events, rewards=rewards, steps=steps,
                                  dump_state=outputs.state, trace_weights=outputs.trace,
                                  on_step=lambda: bar.update(1))
    from spikeforge.sim.stdp.rtl import simulate_rtl

    _stage(f"simulating {steps} timesteps of the generated Verilog of the learning core in {backend}")
    with _build_dir(build_dir) as build, _tool_errors():
        return simulate_rtl(params, stdp, weights=weights, events=events, rewards=rewards, steps=steps,
                            sim=backend, build_dir=build, dump_state=outputs.state, trace_weights=outputs.trace)


def _simulate_aer(params, packets_path, backend, out_dir, build_dir):
    from spikeforge.sim.aer.simulate import PacketFileError, read_packets, simulate, write_delivered

    try:
        packets = read_packets(packets_path, params)
    except PacketFileError as exc:
        raise InputError(str(exc)) from None
    with _staged_output(out_dir) as stage:
        _stage(f"delivering {len(packets)} packets on the {backend}")
        with _build_dir(build_dir) as build, _tool_errors():
            try:
                rows = simulate(params, packets, backend, build_dir=build)
            except ValueError as exc:   # the routing tables send a packet around a loop
                raise InputError(str(exc)) from None
        write_delivered(stage / "delivered.csv", rows, params)
    click.echo(f"{len(rows)} deliveries of {len(packets)} packets; wrote {out_dir / 'delivered.csv'}")


def _simulate_attention(params, qkv_path, backend, out_dir, build_dir):
    from spikeforge.sim.attention.simulate import read_qkv, simulate

    try:
        q, k, v = read_qkv(qkv_path, params)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    with _staged_output(out_dir) as stage:
        _stage(f"computing attention on the {backend}")
        with _build_dir(build_dir) as build, _tool_errors():
            o = simulate(params, q, k, v, backend, build_dir=build)
        np.savez(stage / "out.npz", o=o)
    click.echo(f"{int(o.sum())} output spikes of shape {o.shape}; wrote {out_dir / 'out.npz'}")


@main.command()
@_config_argument
@_set_option
@click.option("--sim", type=click.Choice(RTL_BACKENDS), default="icarus", show_default=True,
              help="Verilog simulator running the cocotb bench.")
@click.option("--steps", type=int, help=f"[lif_core] timesteps of random input (default {LIF_VERIFY_STEPS}, "
                                       f"{STDP_VERIFY_STEPS} with [stdp]).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random input.")
@_build_dir_option
@click.pass_context
def verify(ctx, config, overrides, sim, steps, seed, build_dir):
    """Check the generated Verilog of CONFIG against the golden model on random input, in cocotb; print what
    was compared or the first mismatch (exit code 1)."""
    loaded, block, params = _load(config, overrides)
    if steps is not None:
        _only_for(block, ("lif_core",), "--steps")
        if steps < 1:
            raise InputError(f"--steps {steps}: the number of timesteps must be at least 1")
    with _build_dir(build_dir) as build, _tool_errors():
        if block == "lif_core" and _learning(loaded) is not None:
            from spikeforge.sim.stdp.verify import verify as verify_learning

            steps = STDP_VERIFY_STEPS if steps is None else steps
            _stage(f"verifying {steps} random timesteps of the learning core (seed {seed}) in {sim} against the "
                   f"golden model")
            ok, message = verify_learning(params, _learning(loaded), sim=sim, steps=steps, seed=seed,
                                          build_dir=build)
        elif block == "lif_core":
            from spikeforge.sim.lif_core.verify import verify as verify_core

            steps = LIF_VERIFY_STEPS if steps is None else steps
            _stage(f"verifying {steps} random timesteps (seed {seed}) in {sim} against the golden model")
            ok, message = verify_core(params, sim=sim, steps=steps, seed=seed, build_dir=build)
        elif block in ("router", "mesh"):
            from spikeforge.sim.aer.verify import verify as verify_network

            _stage(f"verifying random packets (seed {seed}) in {sim} against the golden model")
            ok, message = verify_network(params, sim=sim, seed=seed, build_dir=build)
        else:
            from spikeforge.sim.attention.rtl import verify_rtl

            _stage(f"verifying {ATTENTION_VERIFY_CALLS} random calls (seed {seed}) in {sim} against the "
                   f"golden model")
            result = verify_rtl(params, sim=sim, build_dir=build, seed=seed, calls=ATTENTION_VERIFY_CALLS)
            ok = result.ok
            message = result.message if not ok else (f"{sim}: {ATTENTION_VERIFY_CALLS} random calls from seed "
                                                     f"{seed} matched the model")
    click.echo(message)
    ctx.exit(0 if ok else 1)


@main.command()
@_config_argument
@_set_option
@click.option("--board", required=True, type=click.Choice(list(BOARDS)), help="Target board.")
@click.option("-o", "--output", "out_dir", metavar="DIR", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the bitstream, logs and report.")
def build(config, overrides, board, out_dir):
    """Synthesize, place and route the core described by CONFIG (with its learning engine when [stdp] is
    enabled) for BOARD and print the resource report.

    Logs are written to DIR as the build goes, so a failed build leaves them there to read.
    """
    loaded, block, params = _load(config, overrides)
    _only_for(block, ("lif_core",), "build")
    from spikeforge.boards.build import BuildError
    from spikeforge.boards.build import build as build_board
    from spikeforge.boards.report import format_table

    stdp = _learning(loaded)
    _stage(f"building {'the learning core' if stdp else 'the core'} for {board} in {out_dir}")
    try:
        report = build_board(params, board, out_dir, stdp=stdp)
    except BuildError as exc:           # a tool failed, or the design does not fit the device
        raise ToolError(str(exc)) from None
    click.echo(format_table(report))


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
    if scheduler and not scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise InputError(f"--scheduler {scheduler}: expected an address such as tcp://HOST:8786")
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
