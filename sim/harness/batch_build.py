"""Compiling a block's Verilog into the batch harness's shared library, cached.

:func:`compile_model` Verilates the Verilog (C++ output only), generates ``batch_ports.h`` from the block's
manifest and the Verilated model's header (every top-level signal with its width, and for each stream port of
the manifest its ``valid``, ``ready`` and ``payload`` signals), compiles the one harness of every block
(``batch_harness.cpp``, see :mod:`spikeforge.sim.harness.batch`) against it and links a shared library.

The library is kept in ``<cache>/batch-<key>/`` (the cache directory of
:mod:`spikeforge.sim.harness.verilator_cache`), ``key`` a digest of the Verilog, the top-level name, the
Verilator version, the compiler's version, the flags, the harness and this generator: the same design is compiled
once. Verilator's run-time library (``libverilated.a``, about half of a small design's build) is kept apart,
in ``<cache>/batch-runtime-<key>/``, shared by every design. Entries are filled in a temporary directory and
renamed into place, so parallel builds can share the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import verilator_cache
from .manifest import Manifest
from .runner import BuildError, _verilator_root


__all__ = ["CompiledModel", "Signal", "Stream", "VERILATOR_FLAGS", "compile_model"]


#: Verilator's options: fast C++ for a long run; Amaranth's Verilog trips lints that are not errors.
VERILATOR_FLAGS = ("--cc", "-O3", "--x-assign", "fast", "--noassert", "-Wno-fatal", "-Wno-lint", "-Wno-style")
#: The C++ optimization of the model and of the harness.
CXX_FLAGS = ("-O2", "-fPIC")
_HARNESS = Path(__file__).with_name("batch_harness.cpp")
_LIBRARY = "libbatch.so"
_SIGNALS = "signals.json"
_LOG_TAIL_LINES = 20
#: The harness reads an output payload into a buffer of this many 32-bit words.
_MAX_OUTPUT_WORDS = 64
_PORT = re.compile(r"VL_(IN|OUT)(8|16|64|W)?\(&(\w+),(\d+),(\d+)(?:,(\d+))?\);")


@dataclasses.dataclass(frozen=True)
class Signal:
    """One top-level signal of the Verilated model: its index in the harness, width and direction."""

    index: int
    name: str
    width: int
    input: bool

    @property
    def words(self):
        """32-bit words of its value."""
        return (self.width + 31) // 32


@dataclasses.dataclass(frozen=True)
class Stream:
    """One stream port, as the harness drives it: its channel number (its position among the manifest's
    stream ports) and its signals (None where the port has none, e.g. no ``ready`` when always ready)."""

    channel: int
    name: str
    input: bool
    valid: Signal | None
    ready: Signal | None
    payload: Signal | None
    width: int

    @property
    def words(self):
        return (self.width + 31) // 32


@dataclasses.dataclass(frozen=True)
class CompiledModel:
    """A block compiled into the batch harness.

    Attributes
    ----------
    library : pathlib.Path
        The shared library (in the cache).
    manifest : Manifest
    signals : dict
        ``{name: Signal}``, every top-level signal by its Verilog name.
    streams : dict
        ``{name: Stream}``, the manifest's stream ports in channel order.
    seconds : float
        Wall time of the build (near 0 when it came from the cache).
    cached : bool
        Whether the library came from the cache.
    """

    library: Path
    manifest: Manifest
    signals: dict
    streams: dict
    seconds: float
    cached: bool


def _demangle(name):
    """A Verilated C++ member name back to the Verilog name (Verilator writes the second ``_`` of ``__`` as
    ``__05F``)."""
    return re.sub(r"__0([0-9A-F]{2})", lambda match: chr(int(match.group(1), 16)), name)


def _header_signals(header):
    """``[(C++ member, Verilog name, width, input)]`` of a Verilated model's header."""
    signals = []
    for direction, _, member, msb, lsb, _ in _PORT.findall(Path(header).read_text()):
        signals.append((member, _demangle(member), int(msb) - int(lsb) + 1, direction == "IN"))
    return signals


def _poke_case(index, member, width):
    if width <= 32:
        value = "w[0]" if width == 32 else f"(w[0] & {(1 << width) - 1:#x}u)"
        return f"    case {index}: top->{member} = {value}; break;"
    if width <= 64:
        mask = f" & {(1 << width) - 1:#x}ull" if width < 64 else ""
        return f"    case {index}: top->{member} = ((uint64_t)w[0] | ((uint64_t)w[1] << 32)){mask}; break;"
    words = (width + 31) // 32
    return f"    case {index}: for (int k = 0; k < {words}; ++k) top->{member}[k] = w[k]; break;"


def _peek_case(index, member, width):
    if width <= 32:
        return f"    case {index}: w[0] = top->{member}; break;"
    if width <= 64:
        return (f"    case {index}: w[0] = (uint32_t)top->{member}; w[1] = (uint32_t)(top->{member} >> 32); "
                f"break;")
    words = (width + 31) // 32
    return f"    case {index}: for (int k = 0; k < {words}; ++k) w[k] = top->{member}[k]; break;"


def _streams(manifest, signals):
    """``{name: Stream}`` of the manifest's stream ports, checked against the model's signals."""
    streams = {}
    for name in manifest.ports:
        port = manifest.port(name)
        if port["kind"] != "stream":
            continue
        incoming = port["flow"] == "in"
        if incoming and port.get("always_valid"):
            raise BuildError(f"Stream '{name}' of '{manifest.toplevel}' is always valid: the batch harness cannot "
                             f"offer its beats")

        def signal(part, absent):
            if absent:
                return None
            found = signals.get(f"{name}__{part}")
            if found is None:
                raise BuildError(f"The Verilated '{manifest.toplevel}' has no signal '{name}__{part}' for its "
                                 f"stream '{name}'")
            return found

        width = port["payload"]["width"]
        stream = Stream(channel=len(streams), name=name, input=incoming,
                        valid=signal("valid", port.get("always_valid")),
                        ready=signal("ready", port.get("always_ready")),
                        payload=signal("payload", width == 0), width=width)
        if not incoming and stream.words > _MAX_OUTPUT_WORDS:
            raise BuildError(f"Stream '{name}' of '{manifest.toplevel}' is {width} bits wide; the batch harness "
                             f"takes output payloads of at most {32 * _MAX_OUTPUT_WORDS} bits")
        streams[name] = stream
    if not streams:
        raise BuildError(f"'{manifest.toplevel}' has no stream port for the batch harness to drive")
    return streams


def _ports_header(top, header_signals, manifest):
    """The text of ``batch_ports.h`` and the signals and streams it numbers."""
    signals = {name: Signal(index, name, width, incoming)
               for index, (_, name, width, incoming) in enumerate(header_signals)}
    for name in (manifest.clock, manifest.reset):
        if name not in signals:
            raise BuildError(f"The Verilated '{top}' has no {name} input")
    streams = _streams(manifest, signals)

    def index(signal):
        return -1 if signal is None else signal.index

    table = ", ".join(f"{{{index(s.valid)}, {index(s.ready)}, {index(s.payload)}, {max(s.words, 1)}, "
                      f"{'true' if s.input else 'false'}}}" for s in streams.values())
    lines = [
        "// Generated by spikeforge.sim.harness.batch_build from the manifest and the Verilated model.",
        "#pragma once",
        f'#include "V{top}.h"',
        f"typedef V{top} sf_top;",
        f"#define SF_SIGNAL_COUNT {len(signals)}",
        f"#define SF_CLOCK {signals[manifest.clock].index}",
        f"#define SF_RESET {signals[manifest.reset].index}",
        f"#define SF_STREAM_COUNT {len(streams)}",
        f"#define SF_STREAMS {{{table}}}",
        "static inline void sf_poke_signal(sf_top* top, int signal, const uint32_t* w) {",
        "    switch (signal) {",
        *(_poke_case(i, member, width) for i, (member, _, width, incoming) in enumerate(header_signals)
          if incoming),
        "    default: break;",
        "    }",
        "}",
        "static inline void sf_peek_signal(const sf_top* top, int signal, uint32_t* w) {",
        "    switch (signal) {",
        *(_peek_case(i, member, width) for i, (member, _, width, _) in enumerate(header_signals)),
        "    default: break;",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines), signals, streams


def _compiler_version():
    return subprocess.run([os.environ.get("CXX", "c++"), "--version"], capture_output=True, check=False).stdout


def _digest(*parts):
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def _run(command, *, cwd, log, env):
    with open(log, "ab") as file:
        file.write(("$ " + " ".join(map(str, command)) + "\n").encode())
        file.flush()
        result = subprocess.run(command, cwd=cwd, stdout=file, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode:
        lines = Path(log).read_text(errors="replace").splitlines()
        raise BuildError(f"Building the batch harness failed ({Path(command[0]).name} exited with "
                         f"{result.returncode}); the end of {log}:\n" + "\n".join(lines[-_LOG_TAIL_LINES:]))


def _fill(entry, build):
    """Make the cache entry ``entry`` by ``build(staging_directory)``, atomically; returns the entry."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{entry.name}.", dir=entry.parent))
    try:
        build(staging)
        staging.rename(entry)
    except OSError:
        if not entry.is_dir():
            raise
    finally:
        # Gone after a rename; left when another build filled the entry first, or on an error.
        shutil.rmtree(staging, ignore_errors=True)
    return entry


def compile_model(verilog, manifest, *, build_dir, cache_dir=None):
    """The batch harness of ``verilog`` (one file, top-level as the manifest names it), compiled or cached.

    Parameters
    ----------
    verilog : path-like
        The Verilog of the block, e.g. from :func:`spikeforge.hdl.export.export`.
    manifest : path-like or Manifest
        Its manifest: the top-level, clock and reset names and the stream ports.
    build_dir : path-like
        Build directory of this configuration: a build that is not cached runs in ``<build_dir>/batch``
        (Verilator's C++ and ``build.log``).
    cache_dir : path-like, optional
        The cache; by default the user's (:func:`spikeforge.sim.harness.verilator_cache.default_directory`).

    Returns
    -------
    CompiledModel

    Raises
    ------
    BuildError
        If Verilator or the compiler fails, or the manifest's streams are not in the Verilog.
    """
    start = time.monotonic()
    if not isinstance(manifest, Manifest):
        manifest = Manifest.load(manifest)
    source = Path(verilog).read_bytes()
    root = _verilator_root()
    cache_dir = verilator_cache.default_directory() if cache_dir is None else Path(cache_dir)
    version = (root / "include" / "verilated_config.h").read_bytes()
    compiler = _compiler_version()
    flags = json.dumps([VERILATOR_FLAGS, CXX_FLAGS]).encode()
    key = _digest(source, manifest.toplevel.encode(), json.dumps(manifest.ports).encode(), version, compiler,
                  flags, _HARNESS.read_bytes(), Path(__file__).read_bytes())
    entry = cache_dir / f"batch-{key}"
    cached = (entry / _LIBRARY).is_file()
    if not cached:
        runtime = _runtime(cache_dir, root, version, compiler)
        _fill(entry, lambda staging: _build(staging, source, manifest, root, runtime,
                                                Path(build_dir).resolve() / "batch"))
    description = json.loads((entry / _SIGNALS).read_text())
    signals = {name: Signal(**signal) for name, signal in description["signals"].items()}
    streams = _streams(manifest, signals)
    return CompiledModel(library=entry / _LIBRARY, manifest=manifest, signals=signals, streams=streams,
                         seconds=time.monotonic() - start, cached=cached)


def _environment(root):
    return {**os.environ, "PATH": os.pathsep.join([str(root / "bin"), os.environ.get("PATH", "")])}


def _make_variables():
    """The wheel's verilated.mk leaves the precompiled-header include flag empty (../shared/TOOLCHAIN.md); the
    model is optimized like the harness, its run-once (slow) code less."""
    return ["CFG_CXXFLAGS_PCH_I=-include", f"OPT_FAST={CXX_FLAGS[0]}", "OPT_SLOW=-O1", f"OPT_GLOBAL={CXX_FLAGS[0]}",
            f"VM_USER_CFLAGS={' '.join(CXX_FLAGS[1:])}"]


def _runtime(cache_dir, root, version, compiler):
    """The cache entry holding ``libverilated.a`` for this Verilator, compiler and flags (empty until a first
    build has left it)."""
    key = _digest(str(root.resolve()).encode(), version, compiler, json.dumps(CXX_FLAGS).encode())
    return cache_dir / f"batch-runtime-{key}"


def _build(staging, source, manifest, root, runtime, work):
    top = manifest.toplevel
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "build.log"
    log.write_text("")
    env = _environment(root)
    (work / f"{top}.v").write_bytes(source)
    obj = work / "obj"
    _run([root / "bin" / "verilator", *VERILATOR_FLAGS, "--top-module", top, "-Mdir", obj, f"{top}.v"],
         cwd=work, log=log, env=env)
    header_signals = _header_signals(obj / f"V{top}.h")
    text, signals, _ = _ports_header(top, header_signals, manifest)
    (obj / "batch_ports.h").write_text(text)
    runtime_library = runtime / "libverilated.a"
    targets = [f"libV{top}.a"] + ([] if runtime_library.is_file() else ["libverilated.a"])
    _run(["make", "-j", str(min(os.cpu_count() or 1, 4)), "-f", f"V{top}.mk", *_make_variables(), *targets],
         cwd=obj, log=log, env=env)
    if not runtime_library.is_file():
        _fill(runtime, lambda into: shutil.copy2(obj / "libverilated.a", into / "libverilated.a"))
    include = root / "include"
    _run([os.environ.get("CXX", "c++"), "-std=c++17", *CXX_FLAGS, "-shared", "-I", obj, "-I", include,
          "-I", include / "vltstd", "-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TIMING=0", "-DVM_TRACE=0",
          "-o", staging / _LIBRARY, _HARNESS, obj / f"libV{top}.a", runtime_library, "-pthread", "-latomic"],
         cwd=obj, log=log, env=env)
    (staging / _SIGNALS).write_text(json.dumps({"toplevel": top, "signals": {
        name: dataclasses.asdict(signal) for name, signal in signals.items()}}, indent=1) + "\n")
