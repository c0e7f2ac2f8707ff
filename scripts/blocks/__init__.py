"""The blocks spikeforge generates, each described once; every command goes through these descriptions.

A :class:`Block` says, for one kind of block, everything a command needs: its configuration table and parameter
class (and the tables that extend it), how to build its Amaranth component and describe it in the manifest, its
board top-level, what ``simulate`` reads and writes, how ``verify`` checks it, and its default sweep workload and
metrics. The command line (:mod:`spikeforge.scripts.cli`), the configuration loader, the build flow, the sweep
engine and the benchmarks look blocks up in :data:`BLOCKS`. Adding a block means writing its parts (params,
generator, model, bench, board top) and one module here with its description, then listing it below.

The descriptions import their generators, models and benches only when a command uses them, so loading a
configuration stays quick.
"""

from __future__ import annotations

from spikeforge.boards.platforms import DEFAULT_BAUD

from . import aer, attention, chip, lif_core
from .description import Block, Simulation, SweepWorkload, Verdict


__all__ = ["BLOCKS", "EXTENSIONS", "Block", "Simulation", "SweepWorkload", "Verdict", "block_of", "build_block",
           "export_block", "tables"]


#: Table name -> :class:`Block`, for every block a configuration file may describe.
BLOCKS = {block.name: block for block in (lif_core.BLOCK, aer.ROUTER, aer.MESH, attention.BLOCK, chip.BLOCK)}

#: Extension table -> the block table it extends.
EXTENSIONS = {table: block.name for block in BLOCKS.values() for table in block.extensions}


def tables():
    """Table name -> parameter class, for every table a configuration file may have (blocks and extensions)."""
    found = {}
    for block in BLOCKS.values():
        found[block.name] = block.params
        found.update(block.extensions)
    return found


def block_of(config):
    """The :class:`Block` a loaded configuration describes."""
    name, _ = config.top()
    return BLOCKS[name]


def export_block(config, out_dir):
    """Write the Verilog and the manifest of the configuration's block into ``out_dir`` (``generate``);
    returns their paths."""
    from spikeforge.hdl.export import export

    block = block_of(config)
    component = block.component(config)
    return export(component, name=block.toplevel(config), build_dir=out_dir, description=block.describe(component))


def build_block(config, board, out_dir, *, baud=DEFAULT_BAUD, clock_mhz=None, **options):
    """Build the configuration's block on its board top-level, its UART at ``baud``, for ``board`` in ``out_dir``
    at ``clock_mhz`` (None: the board's oscillator; a frequency, or ``"fastest"``: the highest of a short list
    that meets timing, :func:`spikeforge.boards.build.build_at_clock`, whose ``options`` it takes) and write the
    block's manifest there too, as ``generate`` writes it. Returns the report: the flow's, with ``block``,
    ``design`` (a short label) and ``parameters`` (the configuration tables, as the manifest has them)."""
    import json
    from pathlib import Path

    from amaranth.hdl import Fragment

    from spikeforge.boards.build import build_at_clock
    from spikeforge.hdl.export import manifest_of

    block = block_of(config)
    component = block.component(config)
    # Only described here (the flow elaborates the tops it builds); elaborated so that none of its parts is left
    # unused.
    Fragment.get(component, None)
    name = block.toplevel(config)
    description = block.describe(component)
    report = build_at_clock(lambda mhz: block.board_top(config, baud=baud, clock_mhz=mhz), board, out_dir,
                            baud=baud, clock_mhz=clock_mhz, describe={"block": block.name, "design": block.design(config),
                                                           "parameters": description["parameters"]}, **options)
    manifest = manifest_of(component, name=name, description=description)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    Path(out_dir, f"{name}.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return report
