"""Multi-objective search of a sweep space with Optuna's NSGA-II sampler, resumable from its journal."""

from __future__ import annotations

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState


__all__ = ["optimize"]


def optimize(sweep, executor, *, jobs, resume, progress):
    """Run ``space.trials`` trials in batches of ``jobs``; return the rows of every finished trial."""
    space = sweep.space
    journal = sweep.out_dir / "optuna.journal"
    if not resume and journal.exists():
        journal.unlink()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(seed=space.seed, population_size=max(4, min(20, space.trials // 2)))
    study = optuna.create_study(
        study_name="spikeforge", storage=JournalStorage(JournalFileBackend(str(journal))), sampler=sampler,
        directions=list(space.objectives.values()), load_if_exists=True)
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
                trial.set_user_attr("key", row["key"])
                for constraint in space.constraints:
                    trial.set_constraint(constraint.text, constraint.violation(row))
                values = [row.get(metric) for metric in space.objectives]
                if row["status"] == "ok" and None not in values:
                    study.tell(trial, values)
                else:
                    study.tell(trial, state=TrialState.FAIL)
                rows.append(row)
                finished.append(trial)
    return rows
