"""The parameters of one cocotb run, handed from the host process to the test module as a JSON file.

The host (:func:`spikeforge.sim.harness.runner.run`) writes the file and names it in the environment variable
:data:`ENV`; the cocotb test calls :func:`load` inside the simulator. The file holds at least ``"manifest"``
(the path of the build manifest) and whatever the bench takes (parameters, seed, stimulus, output path).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .manifest import Manifest


__all__ = ["ENV", "write", "load", "load_manifest"]


ENV = "SPIKEFORGE_RUN_CONFIG"


def write(path, config):
    """Write ``config`` (a JSON-serialisable dict) to ``path``; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    return path


def load():
    """The run configuration of this simulation (inside the simulator)."""
    path = os.environ.get(ENV)
    if not path:
        raise RuntimeError(f"No run configuration: the environment variable {ENV} is not set; start the "
                           f"simulation with spikeforge.sim.harness.runner.run")
    return json.loads(Path(path).read_text())


def load_manifest(config):
    """The :class:`Manifest` named by a run configuration."""
    return Manifest.load(config["manifest"])
