"""What every benchmark script shares: the machine line and goal verdicts of its report, a result cache keyed by
what the result depends on (e.g. :func:`spikeforge.hdl.manifest.source_digest`), and reading back a build
directory's stored result."""

import datetime
import json
import os
import platform
import time
from pathlib import Path


__all__ = ["build_point", "cached", "machine_line", "stored_build", "verdict"]


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line():
    """``Machine: <cpu> (<n> CPUs), <os> <release>; run <date>.``"""
    return (f"Machine: {_cpu_model()} ({os.cpu_count()} CPUs), {platform.system()} {platform.release()}; "
            f"run {datetime.date.today().isoformat()}.")


def verdict(ok):
    """How a report marks a goal: ``met`` or a bold ``not met``."""
    return "met" if ok else "**not met**"


def cached(path, key, compute):
    """The result stored at ``path`` for ``key``, or ``compute()`` stored there (atomically)."""
    if path.exists():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return stored["result"]
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "result": result}, indent=2) + "\n")
    tmp.replace(path)
    return result


def build_point(blocks, board, out_dir, **options):
    """Build the block of the configuration tables ``blocks`` (``{table: parameters}``, e.g. ``{"lif_core":
    params, "stdp": stdp}``) on its board top-level for ``board`` in ``out_dir``
    (:func:`spikeforge.scripts.blocks.build_block`, whose ``options`` it takes). Returns ``{"status": "ok",
    "report"}``, or ``{"status": "does not fit" | "failed", "error"}`` when a tool says so, with the build's
    wall-clock ``seconds``; the build directory keeps either result for the next run (:func:`stored_build`)."""
    from spikeforge.boards.build import BuildError, DoesNotFit
    from spikeforge.scripts.blocks import build_block
    from spikeforge.scripts.config import Config

    start = time.monotonic()
    try:
        report = build_block(Config(path=Path(out_dir), blocks=blocks), board, out_dir, **options)
        return {"status": "ok", "report": report}
    except DoesNotFit as error:
        return {"status": "does not fit", "error": str(error), "seconds": round(time.monotonic() - start)}
    except BuildError as error:
        return {"status": "failed", "error": str(error), "seconds": round(time.monotonic() - start)}


def report_options(build_dir, out):
    """The options every board benchmark takes: ``--build-dir`` (default ``build_dir``), ``--out`` (default
    ``out``), ``--board`` (repeatable; default all) and ``--seed`` (nextpnr's) and ``--toolchain``."""
    import click

    from spikeforge.boards.platforms import BOARDS

    options = [
        click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(build_dir),
                     show_default=True, help="Where builds and cached results go."),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path(out),
                     show_default=True, help="The Markdown report."),
        click.option("--board", "boards", type=click.Choice(list(BOARDS)), multiple=True,
                     help="Only these boards (default: all)."),
        click.option("--seed", type=int, default=1, show_default=True, help="nextpnr seed."),
        click.option("--toolchain", type=click.Choice(["auto", "system", "yowasp"]), default="auto",
                     show_default=True),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def stored_build(out_dir):
    """The result a board build directory holds (``{"status", "report"}`` or ``{"status", "error"}``), whatever
    it was built from; None when it holds none. A clock search that found no clock leaves its failures in the
    directories of the clocks it tried (:func:`spikeforge.boards.build.build_at_clock`): the design does not fit
    when it fits at none of them."""
    report, failure = out_dir / "report.json", out_dir / "failure.json"
    if report.exists():
        return {"status": "ok", "report": json.loads(report.read_text())}
    if failure.exists():
        stored = json.loads(failure.read_text())
        return {"status": "does not fit" if stored["does_not_fit"] else "failed", "error": stored["message"]}
    tried = [json.loads(f.read_text()) for f in sorted((out_dir / "clocks").glob("*/failure.json"))]
    if tried and all(t["does_not_fit"] for t in tried):
        return {"status": "does not fit", "error": tried[0]["message"]}
    return None
