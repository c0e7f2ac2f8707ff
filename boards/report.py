"""Build reports (``report.json`` from :func:`spikeforge.boards.build.build`) as text tables.

A report says what was built with ``block`` (its configuration table) and ``design`` (a short label, e.g.
``256x256x8 P=8`` for a LIF core or ``mesh 4x4 xy`` for a mesh), as every block's description gives them.
"""

import json
import sys
from pathlib import Path

import click


__all__ = ["format_table"]


_COLUMNS = ("board", "block", "design", "LCs", "FFs", "BRAM", "SPRAM", "DSP", "fmax MHz", "clock MHz", "seed")


def _used(report, name):
    used, available = report["resources"][name], report.get("available", {}).get(name)
    if available:
        return f"{used}/{available} ({100 * used / available:.0f}%)"
    return str(used)


def format_table(reports):
    """A text table with one row per report (a dict as returned by ``build``, or a list of them), then the
    tool versions."""
    if isinstance(reports, dict):
        reports = [reports]
    rows = []
    for r in reports:
        rows.append((r["board"], r["block"], r["design"], _used(r, "logic_cells"), _used(r, "ffs"), _used(r, "bram"),
                     _used(r, "spram"), _used(r, "dsp"), "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}",
                     f"{r.get('clock_mhz', r['clock_constraint_mhz']):g}", str(r["seed"])))
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    tools = {}
    for r in reports:
        for tool, version in r["tools"].items():
            source = r.get("toolchain", {}).get(tool, "?")
            tools.setdefault(tool, set()).add(f"{version or '(no version)'} [{source}]")
    lines.append("")
    lines += [f"{tool}: {'; '.join(sorted(versions))}" for tool, versions in tools.items()]
    return "\n".join(lines)


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
def main(reports):
    """Print REPORTS (report.json files of board builds) as one table."""
    loaded = []
    for path in reports:
        try:
            loaded.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as error:
            click.echo(f"Error: cannot read build report {path}: {error}", err=True)
            sys.exit(2)
    try:
        click.echo(format_table(loaded))
    except (KeyError, TypeError) as error:
        click.echo(f"Error: not a build report: missing {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
