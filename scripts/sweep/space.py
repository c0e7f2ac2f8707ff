"""Sweep space files: a base configuration, the parameters to vary and what to measure (docs/sweep.md)."""

from __future__ import annotations

import dataclasses
import itertools
import re
import tomllib
from pathlib import Path

from spikeforge.scripts.blocks import BLOCKS
from spikeforge.scripts.config import TABLES, ConfigError, load_config
from spikeforge.sim.energy import DEFAULT_PJ


__all__ = ["Space", "Constraint", "load_space", "grid_points", "BOARDS"]


BOARDS = ("icebreaker", "ulx3s-85f")
MODES = ("grid", "optimize")
#: What a build report gives every point, for every board (the first board's without a prefix).
BOARD_METRICS = ("logic_cells", "ffs", "bram", "spram", "dsp", "fmax_mhz")
_CONSTRAINT = re.compile(r"^\s*(\w+)\s*(<=|>=)\s*(-?[0-9.]+)\s*$")


@dataclasses.dataclass(frozen=True)
class Constraint:
    """``fits`` (every board's build succeeded), or ``metric <= value`` / ``metric >= value``."""

    text: str
    metric: str = None
    op: str = None
    bound: float = None

    def violation(self, row):
        """How far ``row`` is from satisfying the constraint: <= 0 when it does (Optuna's convention)."""
        if self.metric is None:
            return 0.0 if row.get("status") == "ok" else 1.0
        value = row.get(self.metric)
        if value is None:
            return 1.0
        return float(self.bound - value) if self.op == ">=" else float(value - self.bound)


@dataclasses.dataclass(frozen=True)
class Space:
    """A parsed sweep space.

    Attributes
    ----------
    path : Path
        The space file.
    base : Path
        The base configuration file, resolved against the space file's folder.
    mode : str
        ``grid`` or ``optimize``.
    block : str
        The block the base configuration describes; its description (:mod:`spikeforge.scripts.blocks`) gives
        the workload and the metrics.
    parameters : dict
        ``table.key`` -> list of values, for the block's table and the tables that extend it.
    boards : tuple of str
        Boards to build each point for; the first is the primary board whose metrics have plain names.
    workload : dict
        The block's workload keys (``[sweep.workload]``, defaults from its description).
    objectives : dict
        Metric -> ``minimize`` or ``maximize``.
    constraints : tuple of Constraint
    trials : int
        Trial budget of ``optimize``.
    seed : int
        Sampler seed of ``optimize``.
    energy : dict
        Energy per operation in pJ (see :mod:`spikeforge.sim.energy`).
    """

    path: Path
    base: Path
    block: str
    mode: str
    parameters: dict
    boards: tuple
    workload: dict
    objectives: dict
    constraints: tuple
    trials: int
    seed: int
    energy: dict


def _expand(where, key, value):
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: parameter '{key}' has an empty list of values")
        repeated = [v for i, v in enumerate(value) if v in value[:i]]
        if repeated:
            raise ConfigError(f"{where}: parameter '{key}' lists the value {repeated[0]!r} twice")
        return value
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"start", "stop", "step"})
        if unknown or not {"start", "stop"} <= set(value):
            raise ConfigError(f"{where}: parameter '{key}' must be a list or a range "
                              f"{{ start = A, stop = B, step = S }} (stop included)")
        start, stop, step = value["start"], value["stop"], value.get("step", 1)
        if not all(isinstance(v, int) for v in (start, stop, step)) or step <= 0 or stop < start:
            raise ConfigError(f"{where}: parameter '{key}' range needs integers with start <= stop and step > 0")
        return list(range(start, stop + 1, step))
    raise ConfigError(f"{where}: parameter '{key}' must be a list or a range, not {value!r}")


def _check_keys(where, table, allowed):
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'; known keys are {', '.join(allowed)}")


def load_space(path):
    """Read and check a sweep space file; raises :class:`ConfigError` with one line on any problem."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    _check_keys(f"{path}", doc, ("sweep", "energy"))
    sweep = doc.get("sweep")
    if not isinstance(sweep, dict):
        raise ConfigError(f"{path}: no [sweep] table")
    where = f"{path} [sweep]"
    _check_keys(where, sweep, ("base", "mode", "boards", "parameters", "workload", "optimize"))
    if "base" not in sweep:
        raise ConfigError(f"{where}: 'base' (the base configuration file) is required")
    base = (path.parent / sweep["base"]).resolve()
    if not base.is_file():
        raise ConfigError(f"{where}: base configuration {sweep['base']!r} does not exist (looked at {base})")
    kind, _ = load_config(base).top()
    block = BLOCKS[kind]
    sweepable = (kind, *block.extensions)
    mode = sweep.get("mode", "grid")
    if mode not in MODES:
        raise ConfigError(f"{where}: mode must be one of {', '.join(MODES)}, not {mode!r}")
    boards = sweep.get("boards", [])
    if not isinstance(boards, list) or any(b not in BOARDS for b in boards):
        raise ConfigError(f"{where}: boards must be a list of {', '.join(BOARDS)}, not {boards!r}")

    parameters = {}
    for key, value in sweep.get("parameters", {}).items():
        table, dot, name = key.partition(".")
        if not dot or table not in sweepable or name not in TABLES[table].keys():
            example = f"{kind}.{next(iter(block.params.keys()))}"
            raise ConfigError(f"{path} [sweep.parameters]: unknown parameter '{key}'; write table.key for "
                              f"{' or '.join(f'[{t}]' for t in sweepable)}, e.g. {example}")
        parameters[key] = _expand(f"{path} [sweep.parameters]", key, value)
    if not parameters:
        raise ConfigError(f"{path} [sweep.parameters]: no parameters to sweep")

    workload = dict(block.sweep.defaults)
    given = sweep.get("workload", {})
    _check_keys(f"{path} [sweep.workload]", given, tuple(workload))
    workload.update(given)
    try:
        block.sweep.check(workload)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path} [sweep.workload]: {exc}") from None

    optimize = sweep.get("optimize", {})
    _check_keys(f"{path} [sweep.optimize]", optimize, ("trials", "objectives", "constraints", "seed"))
    objectives = optimize.get("objectives", block.sweep.objectives)
    for metric, direction in objectives.items():
        if direction not in ("minimize", "maximize"):
            raise ConfigError(f"{path} [sweep.optimize]: objective '{metric}' must be minimize or maximize, "
                              f"not {direction!r}")
    if len(objectives) < 2:
        raise ConfigError(f"{path} [sweep.optimize]: give at least two objectives for a Pareto front")
    constraints = []
    for text in optimize.get("constraints", []):
        if text == "fits":
            constraints.append(Constraint(text))
        elif match := _CONSTRAINT.match(str(text)):
            constraints.append(Constraint(text, match.group(1), match.group(2), float(match.group(3))))
        else:
            raise ConfigError(f"{path} [sweep.optimize]: constraint {text!r} must be 'fits' or "
                              f"'metric <= number' / 'metric >= number'")
    known = BOARD_METRICS + tuple(f"{b}.{m}" for b in boards[1:] for m in BOARD_METRICS) + block.sweep.metrics
    for metric in [*objectives, *(c.metric for c in constraints if c.metric)]:
        if metric not in known:
            raise ConfigError(f"{path} [sweep.optimize]: unknown metric '{metric}'; a [{kind}] sweep measures "
                              f"{', '.join(known)}")
    trials = optimize.get("trials", 20)
    if not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"{path} [sweep.optimize]: trials must be a positive integer")
    energy = doc.get("energy", {})
    if not isinstance(energy, dict):
        raise ConfigError(f"{path} [energy]: must be a table of energies in pJ, not {energy!r}")
    _check_keys(f"{path} [energy]", energy, tuple(DEFAULT_PJ))
    for name, value in energy.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{path} [energy]: '{name}' must be a non-negative number of pJ, not {value!r}")
    return Space(path=path, base=base, block=kind, mode=mode, parameters=parameters, boards=tuple(boards),
                 workload=workload, objectives=dict(objectives), constraints=tuple(constraints),
                 trials=trials, seed=optimize.get("seed", 1), energy=dict(energy))


def grid_points(space):
    """Every combination of the swept values, as dicts ``table.key -> value``, in a stable order."""
    keys = list(space.parameters)
    return [dict(zip(keys, values)) for values in itertools.product(*(space.parameters[k] for k in keys))]
