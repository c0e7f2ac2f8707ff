"""The sweep's Optuna study: multi-objective search with NSGA-II (``optimize``), resumable from its journal, and
the record of a grid sweep (``record_grid``).

Either way the study lives in ``DIR/optuna.journal`` with every point's metrics as trial attributes, so
``optuna-dashboard DIR/optuna.journal`` shows it (docs/sweep.md).
"""

from __future__ import annotations

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState


__all__ = ["optimize", "record_grid", "STUDY"]


STUDY = "spikeforge"


def _study(sweep, *, fresh, sampler=None):
    journal = sweep.out_dir / "optuna.journal"
    if fresh and journal.exists():
        journal.unlink()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=STUDY, storage=JournalStorage(JournalFileBackend(str(journal))), sampler=sampler,
        directions=list(sweep.space.objectives.values()), load_if_exists=True)


def _attributes(trial, row):
    """The point's key, status, error and every metric, as trial attributes the dashboard shows."""
    for name, value in row.items():
        if name != "traceback" and isinstance(value, (str, int, float, bool, type(None))):
            trial.set_user_attr(name, value)


def _values(space, row):
    values = [row.get(metric) for metric in space.objectives]
    return values if row["status"] == "ok" and None not in values else None


def record_grid(sweep, points, rows):
    """Write the rows of a grid sweep to a fresh study, one trial per point."""
    space = sweep.space
    study = _study(sweep, fresh=True)
    distributions = {key: optuna.distributions.CategoricalDistribution(list(dict.fromkeys(values)))
                     for key, values in space.parameters.items()}
    for point, row in zip(points, rows):
        trial = optuna.trial.create_trial(
            params=point, distributions=distributions, values=_values(space, row),
            state=TrialState.COMPLETE if _values(space, row) else TrialState.FAIL)
        _attributes(trial, row)
        study.add_trial(trial)


def optimize(sweep, executor, *, jobs, resume, progress):
    """Run ``space.trials`` trials in batches of ``jobs``; return the rows of every finished trial."""
    space = sweep.space
    sampler = optuna.samplers.NSGAIISampler(seed=space.seed, population_size=max(4, min(20, space.trials // 2)))
    study = _study(sweep, fresh=not resume, sampler=sampler)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.FAIL)]
    rows = [sweep.cached(t.user_attrs["key"]) for t in finished if "key" in t.user_attrs]
    rows = [r for r in rows if r is not None]
    with progress(space.trials) as bar:
        bar.update(min(len(finished), space.trials))
        while len(finished) < space.trials:
            trials = [study.ask() for _ in range(min(jobs, space.trials - len(finished)))]
            tasks = [sweep.task({key: trial.suggest_categorical(key, values)
                                 for key, values in space.parameters.items()}) for trial in trials]
            for trial, row in zip(trials, sweep.evaluate_all(tasks, executor, bar)):
                _attributes(trial, row)
                for constraint in space.constraints:
                    trial.set_constraint(constraint.text, constraint.violation(row))
                values = _values(space, row)
                if values is not None:
                    study.tell(trial, values)
                else:
                    study.tell(trial, state=TrialState.FAIL)
                rows.append(row)
                finished.append(trial)
    return rows
