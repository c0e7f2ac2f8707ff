"""Benchmark the host link (protocol version 2, docs/host_protocol.md): what it carries and how fast a board runs
behind it.

Each workload runs on the simulated board (the board top-level's Verilog in Verilator, a byte per cycle into the
host bridge, :mod:`spikeforge.sim.board`) with a clean link through the host runtime (:mod:`spikeforge.scripts.host`),
its outputs checked against the golden model. The runtime counts every link byte and every payload byte each way.
The time on a board at a baud rate B is then estimated, not measured: every link byte takes 10 bit times (start,
8 data, stop) and the two directions are taken to alternate, never to overlap (the host waits for a timestep's
replies before the next), so ``link seconds = (bytes out + bytes in) * 10 / B``; the device's own work is the
cycles of every timestep on the block's RTL (the cocotb bench of ``simulate --backend verilator``, from the first
input to the end of the step) at the board clock (the iCEBreaker's 12 MHz); and the USB adds its latency once
per timestep round trip (the FTDI latency timer at 1 ms, docs/board_bringup.md), given separately.

- Protocol efficiency: payload bytes per link byte, each direction, while loading and while running.
- Events per second at 115200 and 3000000 baud: a LIF core of 64 neurons and 64 axons at 10% input activity,
  and ``examples/chip_2x2.toml`` on its example input.
- The digits test set (360 digits of 16 steps) on an iCEBreaker at 3 Mbaud: the chip
  ``compile_network(read_network(examples/digits/digits.nir, dt=1e-4), core_neurons=64, core_axons=128,
  board="icebreaker")``, its load and per-digit bytes measured on the first digits.

Writes docs/benchmarks_host.md (``--out``); simulator builds go to ``--build-dir``.

Usage: python -m spikeforge.scripts.bench.host [--build-dir build/bench_host] [--out docs/benchmarks_host.md]
"""

from importlib import metadata
from pathlib import Path

import click
import numpy as np

from spikeforge.scripts.bench.report import machine_line


__all__ = ["main"]


EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
BAUDS = (115200, 3_000_000)
CLOCK_HZ = 12_000_000
USB_LATENCY_S = 1e-3
LIF = {"neurons": 64, "axons": 64, "lanes": 4, "weight_bits": 8, "threshold": 60}
LIF_STEPS, LIF_ACTIVITY = 40, 0.10
DIGITS_MEASURED = 3


def _echo(message):
    click.echo(f"bench_host: {message}", err=True)


class Traffic:
    """The link's byte counts between two moments."""

    FIELDS = ("bytes_out", "bytes_in", "payload_out", "payload_in")

    def __init__(self, stats):
        self._stats = stats
        self._mark = self._now()

    def _now(self):
        return {name: getattr(self._stats, name) for name in self.FIELDS}

    def take(self):
        """The counts since the last take (or the start)."""
        now = self._now()
        delta = {name: now[name] - self._mark[name] for name in self.FIELDS}
        self._mark = now
        return delta


def _on_board(top, description, build_dir, work):
    """``work(board, traffic)`` on the simulated board of ``top``; returns what it returns."""
    from spikeforge.hdl.export import manifest_of
    from spikeforge.scripts.host.board import Board
    from spikeforge.scripts.host.link import Link
    from spikeforge.sim.board.port import SimulatedPort
    from spikeforge.sim.harness.manifest import Manifest

    with SimulatedPort(top, description, sim="verilator", build_dir=build_dir) as port:
        link = Link(port, name=port.name)
        board = Board(link, Manifest(manifest_of(top.block, name="top", description=description)), name=port.name)
        return work(board, Traffic(link.stats))


def lif_workload(build_dir):
    """(load traffic, run traffic, steps, events, cycles of the steps) of the LIF core."""
    from spikeforge.boards.lif_top import LifTop
    from spikeforge.hdl.lif_core.manifest import lif_core_manifest
    from spikeforge.hdl.lif_core.params import LifParams
    from spikeforge.scripts.host.run import run_lif_core
    from spikeforge.sim.lif_core.events import events_by_step
    from spikeforge.sim.lif_core.model import LifModel
    from spikeforge.sim.lif_core.rtl import replay_rtl
    from spikeforge.sim.lif_core.workload import random_workload

    params = LifParams.create(**LIF)
    weights, events = random_workload(params, steps=LIF_STEPS, activity=LIF_ACTIVITY, seed=1)
    by_step = events_by_step(events, LIF_STEPS)
    expected = sorted(LifModel(params, weights).run(events, LIF_STEPS))

    def work(board, traffic):
        run_lif_core(board, params, weights, [])
        load = traffic.take()
        spikes = [(t, n) for t, axons in enumerate(by_step) for n in board.step(axons)]
        assert sorted(spikes) == expected, "the board's spikes differ from the golden model's"
        return load, traffic.take()

    top = LifTop(params)
    load, running = _on_board(top, lif_core_manifest(top.block), build_dir / "lif-board", work)
    _, _, cycles = replay_rtl(params, weights=weights, events=events, steps=LIF_STEPS, sim="verilator",
                              build_dir=build_dir / "lif-rtl", dump_state=False)
    return load, running, LIF_STEPS, len(events), int(sum(cycles))


def chip_workload(params, weights, spikes, build_dir):
    """(load traffic, traffic per sample, steps per sample, events per sample, cycles per sample) of a chip on
    ``spikes`` (batch, steps, inputs), averaged over the samples."""
    from spikeforge.boards.chip_top import ChipTop
    from spikeforge.hdl.chip.manifest import chip_manifest
    from spikeforge.sim.chip.load import load_commands, rest_commands
    from spikeforge.sim.chip.model import run_chip as model_chip
    from spikeforge.sim.chip.rtl import simulate_rtl

    def work(board, traffic):
        board.configure(load_commands(params, weights))
        load = traffic.take()
        out = np.zeros((*spikes.shape[:2], params.output_count), dtype=np.uint8)
        for b, sample in enumerate(spikes):
            board.configure(rest_commands(params))
            for t, row in enumerate(sample):
                out[b, t, board.step(np.flatnonzero(row))] = 1
        assert np.array_equal(out, model_chip(params, spikes, weights)), "the board differs from the golden model"
        return load, traffic.take()

    top = ChipTop(params)
    load, running = _on_board(top, chip_manifest(top.block), build_dir / "board", work)
    _, cycles = simulate_rtl(params, spikes, weights, sim="verilator", build_dir=build_dir / "rtl")
    batch = len(spikes)
    per_sample = {name: value / batch for name, value in running.items()}
    return load, per_sample, spikes.shape[1], spikes.sum() / batch, cycles.sum() / batch


def seconds(traffic, baud, cycles=0):
    """Estimated seconds on a board (module documentation): link bytes, the device's cycles, USB latency apart."""
    return (traffic["bytes_out"] + traffic["bytes_in"]) * 10 / baud + cycles / CLOCK_HZ


def efficiency(traffic, direction):
    link = traffic[f"bytes_{direction}"]
    return traffic[f"payload_{direction}"] / link if link else float("nan")


def _versions():
    return ", ".join(f"{name} {metadata.version(name)}" for name in ("verilator", "cocotb", "amaranth", "pyserial"))


def write_report(out, rows, digits):
    lines = ["# Host link (protocol version 2)", "", machine_line(), f"Tools: {_versions()}.", "",
             "Written by `scripts/bench/host.py`; the method is its module documentation: bytes counted by the "
             "host runtime on the simulated board (Verilator, clean link, outputs equal to the golden model); "
             "time on a board estimated as (bytes out + bytes in) x 10 bits / baud plus the device's RTL cycles "
             f"at {CLOCK_HZ / 1e6:g} MHz; the USB's latency (1 ms per timestep round trip with the FTDI latency "
             "timer at 1 ms) is given apart.", "",
             "Every reply (an output spike, a read's data, a step's end) is acknowledged by the host, and every "
             "command by the device: the payload per link byte of one direction counts the other direction's "
             "acknowledgements too.", "",
             "## Protocol efficiency (payload bytes per link byte)", "",
             "| workload | phase | link bytes out | payload out / link out | link bytes in | payload in / link in |",
             "|---|---|---|---|---|---|"]
    for name, load, running, *_ in rows:
        for phase, t in (("load", load), ("run", running)):
            lines.append(f"| {name} | {phase} | {t['bytes_out']:.0f} | {efficiency(t, 'out'):.2f} | "
                         f"{t['bytes_in']:.0f} | {efficiency(t, 'in'):.2f} |")
    lines += ["", "## Input events per second while running (loading apart)", "",
              "| workload | steps | events | device cycles | " +
              " | ".join(f"events/s at {b}" for b in BAUDS) + " | " +
              " | ".join(f"with USB latency at {b}" for b in BAUDS) + " |",
              "|---|---|---|---|" + "---|" * (2 * len(BAUDS))]
    for name, load, running, steps, events, cycles in rows:
        plain = [events / seconds(running, b, cycles) for b in BAUDS]
        usb = [events / (seconds(running, b, cycles) + steps * USB_LATENCY_S) for b in BAUDS]
        lines.append(f"| {name} | {steps:g} | {events:g} | {cycles:.0f} | " +
                     " | ".join(f"{v:,.0f}" for v in plain + usb) + " |")
    load, per_digit, steps, events, cycles = digits
    total = seconds(load, 3_000_000) + 360 * seconds(per_digit, 3_000_000, cycles)
    lines += ["", "## The digits test set on an iCEBreaker at 3 Mbaud (estimated)", "",
              f"The chip of `compile_network(read_network(examples/digits/digits.nir, dt=1e-4), core_neurons=64, "
              f"core_axons=128, board=\"icebreaker\")`, measured on its first {DIGITS_MEASURED} test digits: the "
              f"load {load['bytes_out']:.0f} bytes out and {load['bytes_in']:.0f} in; per digit (rest and "
              f"{steps} steps, {events:.1f} input spikes) {per_digit['bytes_out']:.0f} bytes out, "
              f"{per_digit['bytes_in']:.0f} in and {cycles:.0f} device cycles.", "",
              f"- 360 digits: **{total:.1f} s** ({360 / total:.1f} digits/s) from the link and the device alone;",
              f"- with 1 ms of USB latency per timestep: **{total + 360 * steps * USB_LATENCY_S:.1f} s**.", ""]
    out.write_text("\n".join(lines))


@click.command()
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_host"),
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks_host.md"),
              show_default=True)
def main(build_dir, out):
    from spikeforge.scripts.blocks.chip import read_weights
    from spikeforge.scripts.compile import compile_network
    from spikeforge.scripts.config import load_config
    from spikeforge.sim.nir.graph import read_network

    _echo("a LIF core of 64 x 64")
    rows = [("LIF core 64x64, 10% activity", *lif_workload(build_dir / "lif"))]
    _echo("examples/chip_2x2.toml")
    chip = load_config(EXAMPLES / "chip_2x2.toml").blocks["chip"]
    spikes = np.load(EXAMPLES / "chip_2x2_input.npz")["spikes"][None]
    rows.append(("examples/chip_2x2, its input", *chip_workload(
        chip, read_weights(EXAMPLES / "chip_2x2_weights.npz", chip), spikes, build_dir / "chip")))
    _echo("the digits network")
    placement = compile_network(read_network(EXAMPLES / "digits" / "digits.nir", dt=1e-4), core_neurons=64,
                                core_axons=128, board="icebreaker").placement
    digits = np.load(EXAMPLES / "digits" / "test_set.npz")["spikes"][:DIGITS_MEASURED]
    result = chip_workload(placement.chip, placement.arrays, digits, build_dir / "digits")
    write_report(out, rows, result)
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
