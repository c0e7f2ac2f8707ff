"""Run a sweep: a grid or an NSGA-II search, on a local process pool or a Dask cluster, with a result cache
keyed by content so that re-runs, widened sweeps and resumed sweeps compute only new points."""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import json
import os
import tempfile
from pathlib import Path

from spikeforge.hdl.manifest import source_digest, tool_versions

from .. import workers
from ..progress import progress
from .pareto import pareto_front, plot_front
from .point import Task, evaluate, point_key
from .space import grid_points


__all__ = ["Sweep", "run_sweep"]


class Sweep:
    """The points of one sweep, their cache and their results.

    Parameters
    ----------
    space : Space
    out_dir : Path
        Where results.csv, results.jsonl, pareto.png, the cache (``cache/``) and build products (``builds/``)
        go.
    """

    def __init__(self, space, out_dir):
        self.space = space
        self.out_dir = Path(out_dir)
        self.cache_dir = self.out_dir / "cache"
        self.base_text = space.base.read_text(encoding="utf-8")
        self.versions = {**tool_versions(), "source": source_digest()}
        self.rows = {}
        self.computed = 0

    def task(self, overrides):
        s = self.space
        key = point_key(self.base_text, overrides, s.boards, s.workload, s.energy, self.versions)
        return Task(key=key, base=s.base, overrides=overrides, boards=s.boards, workload=s.workload,
                    energy=s.energy, build_dir=self.out_dir / "builds" / key)

    def cached(self, key):
        path = self.cache_dir / f"{key}.json"
        if path.is_file():
            with contextlib.suppress(ValueError, OSError):
                return json.loads(path.read_text())
        return None

    def store(self, row):
        """Write one finished point to the cache atomically, so a killed sweep keeps it."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(row, f)
        _readable(tmp)
        os.replace(tmp, self.cache_dir / f"{row['key']}.json")

    def evaluate_all(self, tasks, executor, progress):
        """Evaluate ``tasks`` (cached ones are not recomputed); return their rows in order."""
        results = {}
        pending = {}
        for task in tasks:
            row = self.cached(task["key"])
            if row is not None:
                results[task["key"]] = row
                progress.update(1)
            elif task["key"] not in pending.values():
                pending[executor.submit(evaluate, task)] = task["key"]
        for future in concurrent.futures.as_completed(pending):
            row = future.result()
            if row["status"] != "interrupted":
                self.store(row)
            self.computed += 1
            results[row["key"]] = row
            progress.update(1)
        return [results[task["key"]] for task in tasks]


def _progress(total):
    return progress(length=total, label="sweep", unit="points")


def run_sweep(space, out_dir, *, jobs=1, scheduler=None, resume=False):
    """Run the sweep and write its outputs; return (rows, front, sweep)."""
    sweep = Sweep(space, out_dir)
    sweep.out_dir.mkdir(parents=True, exist_ok=True)
    with workers.executor(jobs, scheduler) as executor:
        if space.mode == "grid":
            from .optimize import record_grid
            points = grid_points(space)
            tasks = [sweep.task(p) for p in points]
            with _progress(len(tasks)) as progress:
                rows = sweep.evaluate_all(tasks, executor, progress)
            record_grid(sweep, points, rows)
        else:
            from .optimize import optimize
            rows = optimize(sweep, executor, jobs=jobs, resume=resume, progress=_progress)
    front = pareto_front(rows, space.objectives, space.constraints)
    write_results(sweep.out_dir, rows)
    plot_front(sweep.out_dir / "pareto.png", rows, front, space)
    return rows, front, sweep


def write_results(out_dir, rows):
    """results.jsonl and results.csv, one row per point, written whole or not at all."""
    columns = []
    for row in rows:
        for name in row:
            if name not in columns and name != "traceback":
                columns.append(name)
    for name, writer in (("results.jsonl", _write_jsonl), ("results.csv", _write_csv)):
        fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".tmp")
        with os.fdopen(fd, "w", newline="") as f:
            writer(f, rows, columns)
        _readable(tmp)
        os.replace(tmp, Path(out_dir) / name)


def _readable(path):
    """Give a file made by ``mkstemp`` (mode 0600) the mode the user's umask gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _write_jsonl(f, rows, columns):
    for row in rows:
        f.write(json.dumps({c: row.get(c) for c in columns}) + "\n")


def _write_csv(f, rows, columns):
    writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
