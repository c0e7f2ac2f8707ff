"""Packaging: the flat folders hdl/, sim/, boards/, scripts/ install as the one namespace ``spikeforge``.

A wheel is built from a copy of the sources and installed, without dependencies, into a fresh venv; the
package is then imported from outside the repository. Offline: the wheel is built without build isolation
(setuptools comes with the test extras) and installed from the file.
"""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]       # {"spikeforge.hdl": "hdl", ...}
TOP_LEVEL_FOLDERS = sorted(PACKAGE_DIRS.values())


def run(*args, cwd):
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, check=True, capture_output=True, text=True)


def source_files():
    """Every Python file of the mapped folders, as its path in the installed package."""
    files = set()
    for package, folder in PACKAGE_DIRS.items():
        for path in (REPO / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                relative = path.relative_to(REPO / folder).as_posix()
                files.add(f"{package.replace('.', '/')}/{relative}")
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "sim_build")
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(REPO / name, src / name)
    for folder in TOP_LEVEL_FOLDERS:
        shutil.copytree(REPO / folder, src / folder, ignore=ignore)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "-w", tmp / "dist", src, cwd=tmp)
    wheels = list((tmp / "dist").glob("spikeforge-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_holds_only_the_spikeforge_namespace(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert archive.read(f"{dist_info}/top_level.txt").decode().split() == ["spikeforge"]
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "spikeforge = spikeforge.scripts.cli:main" in entry_points
    assert all(n.startswith(("spikeforge/", f"{dist_info}/")) for n in names), names


def test_wheel_has_every_module(wheel):
    """Every Python file of hdl/, sim/, boards/ and scripts/ is installed: a subpackage missing from the
    ``packages`` list of pyproject.toml shows up here."""
    with zipfile.ZipFile(wheel) as archive:
        installed = {n for n in archive.namelist() if n.endswith(".py")}
    missing = sorted(source_files() - installed)
    assert not missing, f"not in the wheel (add the package to pyproject.toml): {missing}"


def test_install_into_fresh_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel,
        cwd=tmp_path)
    assert (venv / "bin" / "spikeforge").exists()
    out = run(python, "-c", """if True:
        import importlib.util
        import spikeforge.hdl.lif_core.params as params
        p = params.LifParams.create(neurons=8, axons=4, lanes=2)
        assert p.groups == 4
        print(params.__file__)
        print(*[importlib.util.find_spec(name) for name in ("hdl", "sim", "boards", "scripts")])
        """, cwd=tmp_path).stdout.splitlines()
    assert Path(out[0]).is_relative_to(venv), out[0]
    assert out[1] == "None None None None"
    site_packages = Path(out[0]).parents[3]
    assert not any((site_packages / folder).exists() for folder in TOP_LEVEL_FOLDERS)


def test_editable_install_from_outside(tmp_path):
    """The project venv's editable install maps spikeforge.* onto this checkout and adds no top-level names."""
    out = run(sys.executable, "-c", """if True:
        import importlib.util
        import spikeforge.hdl.lif_core.params as params
        print(params.__file__)
        print(*[importlib.util.find_spec(name) for name in ("hdl", "sim", "boards", "scripts")])
        """, cwd=tmp_path).stdout.splitlines()
    assert Path(out[0]) == REPO / "hdl" / "lif_core" / "params.py"
    assert out[1] == "None None None None"


def test_command_line_entry_point(tmp_path):
    spikeforge = Path(sys.executable).parent / "spikeforge"
    out = run(spikeforge, "--help", cwd=tmp_path).stdout
    assert all(command in out for command in ("generate", "simulate", "verify", "build"))
