"""Reading the manifest written by :func:`spikeforge.hdl.export.export` (schema: :mod:`spikeforge.hdl.manifest`),
without Amaranth."""

from __future__ import annotations

import json
from pathlib import Path

from .layout import Layout


__all__ = ["Manifest"]


class Manifest:
    """The ports, payload layouts and block description of one exported block.

    Parameters
    ----------
    description : dict
        The manifest's JSON content.

    Attributes
    ----------
    block : str
        The configuration table the block comes from.
    toplevel, clock, reset : str
        Names of the top-level module and of its clock and reset ports.
    parameters : dict
        ``{table: parameters}``: the configuration tables it was generated from.
    derived : dict
        Facts that follow from the parameters (widths, layouts, numbering).
    memory_map : dict or None
        Configuration fields and memories, for a block that has them.
    tools : dict
        Versions of the tools that generated it.
    """

    def __init__(self, description):
        self.toplevel = description["toplevel"]
        self.clock = description["clock"]
        self.reset = description["reset"]
        self.block = description["block"]
        self.parameters = description["parameters"]
        self.derived = description["derived"]
        self.memory_map = description.get("memory_map")
        self.tools = description["tools"]
        self._ports = description["ports"]

    @classmethod
    def load(cls, path):
        """Read a manifest file."""
        path = Path(path)
        try:
            return cls(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"Cannot read the build manifest {path}: {error}") from None

    @property
    def ports(self):
        """The port names."""
        return tuple(self._ports)

    def port(self, name):
        """The JSON description of port ``name``."""
        try:
            return self._ports[name]
        except KeyError:
            raise KeyError(f"Block '{self.toplevel}' has no port '{name}'; its ports are "
                           f"{', '.join(self._ports)}") from None

    def stream_layout(self, name):
        """The :class:`Layout` of the payload of stream port ``name``."""
        port = self.port(name)
        if port["kind"] != "stream":
            raise KeyError(f"Port '{name}' of block '{self.toplevel}' is not a stream")
        return Layout.from_description(name, port["payload"])
