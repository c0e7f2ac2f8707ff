"""Gather every block's benchmark report into docs/benchmarks.md.

``scripts/bench/lif.py`` writes docs/benchmarks.md (the LIF core); ``stdp.py``, ``aer.py``, ``attention.py``,
``chip.py``, ``largest_chip.py`` (as ``largest``), ``compile.py``, ``host.py``, ``sweep.py``, ``rtl_speed.py`` and
``rtl_scale.py`` of scripts/bench/ write docs/benchmarks_<section>.md.
This appends those after the LIF core's part
(replacing what an earlier run appended), so that docs/benchmarks.md holds every table. Every figure comes from
its block's script; nothing here measures.

Usage: python -m spikeforge.scripts.bench.collect [--docs docs]
"""

from pathlib import Path

import click

MARKER = "<!-- The sections below are copied from docs/benchmarks_<block>.md by scripts/bench/collect.py. -->"
BLOCKS = ("stdp", "aer", "attention", "chip", "largest", "compile", "host", "sweep", "rtl_speed", "rtl_scale")


@click.command()
@click.option("--docs", type=click.Path(file_okay=False, path_type=Path), default=Path("docs"), show_default=True)
def main(docs):
    target = docs / "benchmarks.md"
    if not target.is_file():
        raise click.ClickException(f"{target}: missing; run scripts/bench/lif.py first")
    head = target.read_text().split(MARKER)[0].rstrip() + "\n"
    parts = [head, MARKER, ""]
    for block in BLOCKS:
        section = docs / f"benchmarks_{block}.md"
        if section.is_file():
            # One level down: each file's title becomes a section of the whole report.
            text = "\n".join("#" + line if line.startswith("#") else line
                             for line in section.read_text().splitlines())
            parts += [text.rstrip(), ""]
        else:
            parts += [f"## {block}", "", f"(no {section.name}: run scripts/bench/{block}.py)", ""]
    target.write_text("\n".join(parts))
    click.echo(f"wrote {target}")


if __name__ == "__main__":
    main()
