"""Benchmark the chip: what the timestep's barrier and the mesh cost, the packets a step carries, and the board
builds of the example chips.

- Cycles per timestep of ``examples/chip_2x2.toml`` on the RTL (Verilator, through the cocotb bench, every output
  checked against the golden model), from the first input spike offered to ``done``, against the sum of its cores'
  own cycles for the same step (the LIF cycle model, :mod:`spikeforge.sim.lif_core.cycles`, with the events each
  core integrated and the spikes it fired in the golden model), at 10% and 30% input activity over 20 steps of
  random input. The ratio is what the phases, the quiescence barrier and the network add; cores of one phase
  tick in parallel, which takes some of it back.
- Packets per timestep: router outputs crossed per step (the golden model counts every packet on its tree); and
  the most the mesh carries, on the heaviest traffic at hand (:data:`ALL_TO_ALL`, the chip of
  tests/test_chip_saturation.py: eight cores on every other node of a 4 x 4 mesh, each multicasting every spike
  to the seven others and to the host, 90% of the inputs firing), as packets per step and per cycle.
- Board builds (:func:`spikeforge.scripts.blocks.build_block`, the chip behind the UART host link, at the
  highest clock of the board's list that meets timing):
  ``examples/chip_2x2.toml`` on the ULX3S-85F, ``examples/chip_icebreaker.toml`` on the iCEBreaker, and a 1 x 1
  chip of one 64 x 64 core on both, for the cost of a tile with its router and the host link.

Writes docs/benchmarks_chip.md (``--out``); builds and RTL runs go to ``--build-dir`` and are reused when their
inputs did not change.

Usage: python -m spikeforge.scripts.bench.chip [--build-dir build/bench_chip] [--out docs/benchmarks_chip.md]
"""

import statistics
from pathlib import Path

import click
import numpy as np

from spikeforge.scripts.bench.report import machine_line, verdict
from spikeforge.scripts.blocks import build_block
from spikeforge.scripts.config import Config, load_config


__all__ = ["main"]


EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
ACTIVITIES = (0.10, 0.30)
STEPS = 20
SEED = 1
OVERHEAD_GOAL = 1.3          # chip cycles per step at most this times the sum of its cores' own, at 10%
TILE = {"width": 1, "height": 1, "inputs": 64, "table_size": 2, "map_size": 1,
        "cores": {"core": {"node": 0, "neurons": 64, "axons": 64, "lanes": 4}},
        "connections": [{"source": "input", "target": "core"}], "outputs": [{"core": "core"}]}


#: The heaviest traffic at hand: eight cores of 4 neurons on every other node of a 4 x 4 mesh, each taking the 8
#: inputs and every spike of the seven others (recurrent), every neuron an output.
ALL_TO_ALL_NODES = {"a": 0, "b": 2, "c": 5, "d": 7, "e": 8, "f": 10, "g": 13, "h": 15}
ALL_TO_ALL = {
    "width": 4, "height": 4, "inputs": 8, "map_size": 8, "table_size": 9,
    "cores": {name: {"node": node, "neurons": 4, "axons": 36, "lanes": 2, "weight_bits": 6, "threshold": 20}
              for name, node in ALL_TO_ALL_NODES.items()},
    "connections": [connection for name in ALL_TO_ALL_NODES for connection in [{"source": "input", "target": name}] + [
        {"source": other, "target": name, "axon": 8 + 4 * i, "recurrent": True}
        for i, other in enumerate(o for o in ALL_TO_ALL_NODES if o != name)]],
    "outputs": [{"core": name} for name in ALL_TO_ALL_NODES],
}
ALL_TO_ALL_RATE = 0.9


def _echo(message):
    click.echo(f"bench_chip: {message}", err=True)


def cores_cycles(params, spikes, weights):
    """Per step, the sum over the chip's cores of their own cycles (events and spikes from the golden model), the
    most of one core, and the packets the step carried."""
    from spikeforge.sim.chip.model import ChipModel
    from spikeforge.sim.lif_core.cycles import step_cycles

    model = ChipModel(params, weights)
    own, slowest, packets = [], [], []
    for row in spikes:
        before = sum(model.traffic.values())
        model.step(np.flatnonzero(row))
        cycles = [step_cycles(c.params, model.events[c.name], len(model.spikes[c.name]), stdp=c.stdp)
                  for c in params.cores]
        own.append(sum(cycles))
        slowest.append(max(cycles))
        packets.append(sum(model.traffic.values()) - before)
    return own, slowest, packets


def measure_overhead(config, build_dir):
    """{activity: (median chip cycles per step, median of the cores' own sum, median ratio, packets per step)}."""
    from spikeforge.sim.chip.rtl import simulate_rtl

    params = config.blocks["chip"]
    weights = dict(np.load(config.path.parent / params.weights))
    rows = {}
    for activity in ACTIVITIES:
        spikes = (np.random.default_rng(SEED).random((STEPS, params.inputs)) < activity).astype(np.uint8)
        _echo(f"RTL run of {config.path.name} at {activity:.0%} activity")
        out, cycles = simulate_rtl(params, spikes, weights, sim="verilator", build_dir=build_dir / "rtl")
        own, _, packets = cores_cycles(params, spikes, weights)
        from spikeforge.sim.chip.model import run_chip
        if not np.array_equal(out, run_chip(params, spikes, weights)):
            raise click.ClickException("the RTL outputs differ from the golden model")
        ratios = [c / o for c, o in zip(cycles.tolist(), own)]
        rows[activity] = (statistics.median(cycles.tolist()), statistics.median(own), statistics.median(ratios),
                          statistics.median(packets))
    return rows


def measure_heaviest(build_dir):
    """(median packets per step, median cycles per step, median packets per cycle, median cycles of the slowest
    core's own step) of :data:`ALL_TO_ALL` on the RTL (Verilator, the host always ready), its outputs checked
    against the golden model."""
    from spikeforge.hdl.chip.params import ChipParams
    from spikeforge.sim.chip.model import run_chip
    from spikeforge.sim.chip.rtl import simulate_rtl

    params = ChipParams.create(**ALL_TO_ALL)
    rng = np.random.default_rng(SEED)
    weights = {c.name: rng.integers(-8, 32, size=(c.params.axons, c.params.neurons)) for c in params.cores}
    spikes = (rng.random((STEPS, params.inputs)) < ALL_TO_ALL_RATE).astype(np.uint8)
    _echo("RTL run of the all-to-all 4 x 4 chip")
    out, cycles = simulate_rtl(params, spikes, weights, sim="verilator", build_dir=build_dir / "rtl_all_to_all")
    if not np.array_equal(out, run_chip(params, spikes, weights)):
        raise click.ClickException("the RTL outputs of the all-to-all chip differ from the golden model")
    _, slowest, packets = cores_cycles(params, spikes, weights)
    cycles = cycles.tolist()
    return (statistics.median(packets), statistics.median(cycles),
            statistics.median(n / c for n, c in zip(packets, cycles)), statistics.median(slowest))


def _build(config, board, out_dir):
    from spikeforge.boards.build import BuildError
    from spikeforge.boards.clocking import FASTEST

    _echo(f"building {config.path.name} for {board}")
    try:
        return build_block(config, board, out_dir, clock_mhz=FASTEST, echo=None)
    except BuildError as error:
        return {"board": board, "error": str(error)}


def render(overhead, heaviest, builds):
    lines = ["## Chip", "", f"Generated by `python -m spikeforge.scripts.bench.chip` (scripts/bench/chip.py). "
             f"{machine_line()}", "",
             f"Cycles per timestep of `examples/chip_2x2.toml` (four cores on a 2 x 2 mesh, three phases) on the "
             f"RTL in Verilator, from the first input offered to `done`, against the sum of its cores' own cycles "
             f"for the same steps (the LIF cycle model with each core's events and spikes from the golden model); "
             f"{STEPS} steps of random input, seed {SEED}, medians over the steps.", "",
             "| input activity | chip cycles / step | cores' own cycles / step (sum) | ratio | packets / step |",
             "|---:|---:|---:|---:|---:|"]
    for activity, (chip, own, ratio, packets) in overhead.items():
        lines.append(f"| {activity:.0%} | {chip:.0f} | {own:.0f} | {ratio:.2f} | {packets:.0f} |")
    ratio = overhead[ACTIVITIES[0]][2]
    packets, cycles, rate, slowest = heaviest
    lines += ["", f"Goal: at most {OVERHEAD_GOAL}x at 10% activity: {verdict(ratio <= OVERHEAD_GOAL)} "
              f"({ratio:.2f}x).", "",
              f"The most the mesh carries: the heaviest traffic at hand, eight cores of 4 neurons on every other node "
              f"of a 4 x 4 mesh, each multicasting every spike to the seven others (recurrent) and to the host, "
              f"{ALL_TO_ALL_RATE:.0%} of the 8 inputs firing (the chip of tests/test_chip_saturation.py, the host "
              f"always ready here), {STEPS} steps on the RTL in Verilator, outputs equal to the golden model's: "
              f"a median {packets:.0f} packets per step (router outputs crossed) in {cycles:.0f} cycles, "
              f"{rate:.2f} packets per cycle over the mesh ({rate / 16:.3f} per node). Every core is in phase 0 "
              f"(all its inputs but the host's are recurrent), so the eight tick together; the slowest core's own "
              f"step takes a median {slowest:.0f} cycles.", "",
              "Board builds (the chip behind the UART host link, nextpnr seed 1), each at the highest clock of the "
              "board's list that meets timing (from its PLL; `spikeforge build`'s default):", "",
              "| chip | board | logic cells | FFs | block RAM | fmax MHz | clock MHz |",
              "|---|---|---:|---:|---:|---:|---:|"]
    tools = {}
    for name, report in builds:
        if "error" in report:
            lines.append(f"| {name} | {report['board']} | failed: {report['error']} | | | | |")
            continue
        r, a = report["resources"], report["available"]
        lines.append(f"| {name} | {report['board']} | {r['logic_cells']}/{a['logic_cells']} | {r['ffs']} | "
                     f"{r['bram']}/{a['bram']} | {report['fmax_mhz']} | {report['clock_mhz']:g} |")
        tools.setdefault(report["board"], {}).update(report["tools"])
    lines += [""] + [f"Tools ({board}): " + "; ".join(f"{tool} {version}" for tool, version in used.items()
                                                       if version) + "." for board, used in tools.items()] + [""]
    return "\n".join(lines)


@click.command()
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_chip"),
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks_chip.md"),
              show_default=True)
@click.option("--no-build", is_flag=True, help="Measure the cycles only.")
def main(build_dir, out, no_build):
    """Measure the chip and write its benchmark report."""
    example = load_config(EXAMPLES / "chip_2x2.toml")
    overhead = measure_overhead(example, build_dir)
    heaviest = measure_heaviest(build_dir)
    builds = []
    if not no_build:
        from spikeforge.hdl.chip.params import ChipParams

        tile = Config(path=Path("tile.toml"), blocks={"chip": ChipParams.create(**TILE)})
        for name, config, board in (("chip_2x2.toml", example, "ulx3s-85f"),
                                    ("chip_icebreaker.toml", load_config(EXAMPLES / "chip_icebreaker.toml"),
                                     "icebreaker"),
                                    ("one 64 x 64 tile", tile, "icebreaker"), ("one 64 x 64 tile", tile, "ulx3s-85f")):
            builds.append((name, _build(config, board, build_dir / f"{name.replace(' ', '_')}-{board}")))
    out.write_text(render(overhead, heaviest, builds))
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
