"""Evaluate one sweep point: generate, build for the boards, run the workload, derive the metrics.

:func:`evaluate` runs in a worker process (local pool or Dask worker), so it takes and returns plain data.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from pathlib import Path


__all__ = ["Task", "evaluate", "point_key"]


def _toml_value(value):
    return json.dumps(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
        else str(value)


def point_key(base_text, overrides, boards, workload, energy, versions):
    """Content hash of everything a point's result depends on: the base configuration, the point's values, the
    boards, the workload, the energy model and ``versions`` (the tools' versions and spikeforge's source digest,
    so an edited generator never returns a stale result)."""
    blob = json.dumps({"base": base_text, "overrides": overrides, "boards": list(boards), "workload": workload,
                       "energy": energy, "versions": versions}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def Task(*, key, base, overrides, boards, workload, energy, build_dir):
    """The plain-data description of one point that :func:`evaluate` takes."""
    return {"key": key, "base": str(base), "overrides": dict(overrides), "boards": list(boards),
            "workload": dict(workload), "energy": dict(energy), "build_dir": str(build_dir)}


def _board_metrics(report, prefix):
    resources = report["resources"]
    row = {f"{prefix}{name}": resources.get(name) for name in ("logic_cells", "ffs", "bram", "spram", "dsp")}
    row[f"{prefix}fmax_mhz"] = report.get("fmax_mhz")
    return row


def evaluate(task):
    """Evaluate a point; never raises. Returns a row: the overrides, metrics, ``status`` (``ok``, ``invalid``,
    ``failed``, ``mismatch``, or ``interrupted`` when a tool was killed by a signal: not cached, so a re-run
    computes the point again), ``error`` and ``seconds``."""
    from spikeforge.boards.build import BuildInterrupted
    from spikeforge.scripts.blocks.description import MismatchError
    from spikeforge.scripts.config import ConfigError, load_config

    start = time.monotonic()
    row = {"key": task["key"], **task["overrides"], "status": "ok", "error": ""}
    try:
        overrides = [f"{k}={_toml_value(v)}" for k, v in task["overrides"].items()]
        try:
            config = load_config(task["base"], overrides)
            row.update(_measure(config, task))
        except ConfigError as exc:
            row.update(status="invalid", error=str(exc))
            return row
    except MismatchError as exc:
        row.update(status="mismatch", error=str(exc))
    except BuildInterrupted as exc:
        row.update(status="interrupted", error=str(exc))
    except Exception as exc:  # a point that fails is recorded and the sweep goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
        row["traceback"] = traceback.format_exc(limit=4)
    finally:
        row["seconds"] = round(time.monotonic() - start, 3)
    return row


def _measure(config, task):
    """Build the point for every board, then run its block's workload (:mod:`spikeforge.scripts.blocks`)."""
    from spikeforge.scripts.blocks import block_of, build_block

    block = block_of(config)
    workload = {**task["workload"], "energy": task["energy"]}
    if block.sweep.refuse is not None:
        block.sweep.refuse(config, workload)
    build_dir = Path(task["build_dir"])
    row, reports = {}, []
    for index, board in enumerate(task["boards"]):
        reports.append(build_block(config, board, build_dir / board))
        row.update(_board_metrics(reports[-1], "" if index == 0 else f"{board}."))
    row.update(block.sweep.measure(config, workload, build_dir, reports))
    return row
