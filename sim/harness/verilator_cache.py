"""A cache of Verilator's run-time library objects, shared by every Verilator build.

Each Verilator build compiles the design (a few seconds) and, again, Verilator's own run-time library
(``verilated.cpp``, ``verilated_vpi.cpp``... about 40 s on two cores), which is the same for every design built
with the same Verilator, compiler and tracing option. The first build leaves those objects here; later builds
link them instead of compiling them, through make variables (``VM_GLOBAL_FAST``/``VM_GLOBAL_SLOW`` emptied and
the objects passed in ``LIBS``).

The cache lives in ``$XDG_CACHE_HOME/spikeforge`` (``~/.cache/spikeforge``) unless a directory is given; an
entry is a directory named after a hash of everything the objects depend on, filled atomically, so parallel
builds can share it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path


__all__ = ["default_directory", "lookup", "store", "make_overrides"]


_OBJECT_LIST = "objects.txt"


def default_directory():
    """``$XDG_CACHE_HOME/spikeforge``, or ``~/.cache/spikeforge``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spikeforge"


def _entry(cache_dir, verilator_root, waves):
    version = (Path(verilator_root) / "include" / "verilated_config.h").read_bytes()
    compiler = subprocess.run([os.environ.get("CXX", "c++"), "--version"], capture_output=True,
                              check=False).stdout
    key = hashlib.sha256(b"\0".join([str(Path(verilator_root).resolve()).encode(), version, compiler,
                                     b"trace" if waves else b"no-trace"])).hexdigest()[:16]
    return Path(cache_dir) / f"verilator-runtime-{key}"


def lookup(cache_dir, verilator_root, waves):
    """The cached run-time objects for this Verilator, compiler and tracing option, or None."""
    entry = _entry(cache_dir, verilator_root, waves)
    listing = entry / _OBJECT_LIST
    if not listing.is_file():
        return None
    objects = [entry / name for name in listing.read_text().split()]
    if not objects or not all(path.is_file() for path in objects):
        return None
    return objects


def make_overrides(objects):
    """Make command-line variables that link ``objects`` instead of compiling the run-time library, or an
    empty list when a path cannot be passed through ``MAKEFLAGS`` (it holds a space)."""
    if any(" " in str(path) for path in objects):
        return []
    return ["VM_GLOBAL_FAST=", "VM_GLOBAL_SLOW=", "LIBS=" + "\\ ".join(str(path) for path in objects)]


def _runtime_names(build_dir):
    """The run-time classes Verilator listed for a build (``VM_GLOBAL_FAST`` and ``VM_GLOBAL_SLOW``)."""
    names = []
    for classes in Path(build_dir).glob("*_classes.mk"):
        collecting = False
        for line in classes.read_text().splitlines():
            if re.match(r"VM_GLOBAL_(FAST|SLOW) \+=", line):
                collecting = True
            elif collecting and line.strip() not in ("", "\\"):
                names.append(line.strip().rstrip("\\").strip())
            else:
                collecting = False
    return names


def store(cache_dir, verilator_root, waves, build_dir):
    """Keep the run-time objects a full build left in ``build_dir``; does nothing when they are already
    cached or missing."""
    entry = _entry(cache_dir, verilator_root, waves)
    names = _runtime_names(build_dir)
    objects = [Path(build_dir) / f"{name}.o" for name in names]
    if entry.exists() or not objects or not all(path.is_file() for path in objects):
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{entry.name}.", dir=entry.parent))
    for path in objects:
        shutil.copy2(path, staging / path.name)
    (staging / _OBJECT_LIST).write_text("\n".join(path.name for path in objects) + "\n")
    try:
        staging.rename(entry)
    except OSError:
        # Another build stored the same objects first.
        shutil.rmtree(staging, ignore_errors=True)
