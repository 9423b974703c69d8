"""Optuna tuning of the allocator's settings: the one module that imports optuna.

Objective: mean conversions per campaign of the adbandit policy over the given
scenarios and seeds (the same campaigns for every trial). Each scenario's running
mean is reported as an intermediate value, so a median pruner can stop hopeless
trials early. The sampler is seeded; a storage URL (``sqlite:///study.db``, a
PostgreSQL URL ...) makes the study resumable and shareable. Every trial is a
nested MLflow run under one parent run of the study.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .runner import AdbanditPolicy, run_policy
from .tracking import Tracker

__all__ = ["SEARCH_SPACE", "TuningResult", "tune", "write_config"]

#: name -> (low, high, log scale); half_life_days also tries "off" (stationary).
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "floor": (0.0005, 0.05, True),
    "max_floor_total": (0.01, 0.3, True),
    "max_prior_strength": (1.0, 50.0, True),
    "effect_l2_conversions": (0.1, 10.0, True),
    "half_life_days": (3.0, 60.0, True),
}


@dataclass(frozen=True)
class TuningResult:
    """Best settings found, their score, and where the study lives."""

    best_config: dict[str, Any]
    best_value: float
    n_trials: int
    study_name: str
    parent_run_id: str | None


def _suggest(trial: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, (low, high, log) in SEARCH_SPACE.items():
        if name == "half_life_days" and not trial.suggest_categorical(
            "drift_discount", [False, True]
        ):
            config[name] = None
            continue
        config[name] = trial.suggest_float(name, low, high, log=log)
    return config


def tune(
    scenarios: Sequence[str] = ("no_delay", "delay"),
    *,
    n_trials: int = 20,
    n_seeds: int = 5,
    n_days: int = 20,
    budget: float = 600.0,
    seed: int = 0,
    storage: str | None = None,
    study_name: str = "adbandit-tuning",
    tracker: Tracker | None = None,
    progress: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
) -> TuningResult:
    """Search allocator settings that maximise conversions; see the module docstring.

    ``workers > 1`` runs trials on a Dask LocalCluster of that many processes and
    ``scheduler`` on a Dask cluster; their workers share the study through
    ``storage``: an RDB URL (``postgresql://...``, needed across machines) or, on one
    machine, by default a journal file ``mlruns/optuna/<study_name>.log``. Several
    ``tune`` processes given the same storage and study name cooperate on one study.
    Trials are logged to MLflow by this process only, one run each, as they finish.
    """
    import optuna

    from optimizer import ConfigError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributed = workers > 1 or scheduler is not None
    if distributed and storage is None:
        if scheduler is not None:
            raise ConfigError(
                "tuning on a cluster needs a storage every worker reaches, "
                "e.g. --storage postgresql://user@db-host/optuna"
            )
        folder = Path("mlruns", "optuna").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        storage = f"journal:{folder / (study_name + '.log')}"
    study = _study(study_name, storage, seed)
    children = np.random.SeedSequence(seed).spawn(n_seeds)
    parent = None
    if tracker is not None:
        parent = tracker.log_run(
            study_name,
            params={
                "scenarios": list(scenarios),
                "n_trials": n_trials,
                "n_seeds": n_seeds,
                "n_days": n_days,
                "budget": budget,
                "seed": seed,
                "storage": storage or "in-memory",
                "workers": workers if scheduler is None else scheduler,
            },
            tags={"kind": "tuning"},
        )
    spec = _Spec(tuple(scenarios), tuple(children), n_days, budget)
    if not distributed:
        records: list[dict[str, Any]] = []
        study.optimize(
            lambda trial: _objective(trial, spec, records, lambda r: _log(tracker, parent, r)),
            n_trials=n_trials,
            show_progress_bar=progress,
        )
    else:
        from tqdm import tqdm

        from .cluster import run_tasks

        n_tasks = workers if scheduler is None else max(workers, 2)
        shares = [n_trials // n_tasks + (i < n_trials % n_tasks) for i in range(n_tasks)]
        parts = [
            (study_name, storage, share, seed + 1 + i, spec)
            for i, share in enumerate(shares)
            if share
        ]
        bar = tqdm(total=n_trials, desc="tuning", unit="trial", disable=not progress)
        for _, part in run_tasks(_optimize_part, parts, scheduler=scheduler, workers=workers):
            for record in part:
                _log(tracker, parent, record)
            bar.update(len(part))
        bar.close()
        study = _study(study_name, storage, seed)
    best = study.best_trial
    best_config = {k: v for k, v in best.params.items() if k != "drift_discount"}
    if not best.params.get("drift_discount", False):
        best_config["half_life_days"] = None
    assert best.value is not None  # a completed trial always has a value
    return TuningResult(best_config, float(best.value), len(study.trials), study_name, parent)


@dataclass(frozen=True)
class _Spec:
    """What every trial is scored on."""

    scenarios: tuple[str, ...]
    children: tuple[np.random.SeedSequence, ...]
    n_days: int
    budget: float


def _storage(storage: str | None) -> Any:
    """An Optuna storage: None (in memory), an RDB URL, or ``journal:<file>``."""
    if storage is None or not storage.startswith("journal:"):
        return storage
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(storage.removeprefix("journal:")))


def _study(name: str, storage: str | None, seed: int) -> Any:
    import optuna

    return optuna.create_study(
        study_name=name,
        storage=_storage(storage),
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        direction="maximize",
        load_if_exists=True,
    )


def _objective(trial: Any, spec: _Spec, records: list[dict[str, Any]], done: Any = None) -> float:
    import optuna

    import optimizer

    config = optimizer.ThompsonConfig.from_dict(_suggest(trial))
    totals = []
    for step, scenario in enumerate(spec.scenarios):
        for child in spec.children:
            daily = run_policy(
                AdbanditPolicy(config), scenario, seed=child, n_days=spec.n_days, budget=spec.budget
            )
            totals.append(float(daily["expected_conversions"].sum()))
        trial.report(float(np.mean(totals)), step)
        if trial.should_prune():
            record = _record(trial.number, config, float(np.mean(totals)), "pruned")
            records.append(record)
            if done is not None:
                done(record)
            raise optuna.TrialPruned()
    value = float(np.mean(totals))
    record = _record(trial.number, config, value, "complete")
    records.append(record)
    if done is not None:
        done(record)
    return value


def _optimize_part(part: tuple[str, str, int, int, _Spec]) -> list[dict[str, Any]]:
    """On a Dask worker: run ``n_trials`` of the shared study; return what each trial did
    (the caller logs them, so MLflow has one writer)."""
    import optuna

    name, storage, n_trials, sampler_seed, spec = part
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _study(name, storage, sampler_seed)
    records: list[dict[str, Any]] = []
    study.optimize(lambda t: _objective(t, spec, records), n_trials=n_trials)
    return records


def _record(number: int, config: Any, value: float, state: str) -> dict[str, Any]:
    params = {k: v for k, v in config.to_dict().items() if k in SEARCH_SPACE}
    return {"number": number, "params": params, "value": value, "state": state}


def _log(tracker: Tracker | None, parent: str | None, record: dict[str, Any]) -> None:
    _log_trial(
        tracker, parent, record["number"], record["params"], record["value"], record["state"]
    )


def _log_trial(
    tracker: Tracker | None,
    parent: str | None,
    number: int,
    params: dict[str, Any],
    value: float,
    state: str,
) -> None:
    if tracker is None:
        return
    tracker.log_run(
        f"trial-{number}",
        params=params,
        metrics={"mean_conversions": value},
        tags={"kind": "tuning-trial", "state": state},
        parent_run_id=parent,
    )


def write_config(config: dict[str, Any], path: str | Path, *, comment: str = "") -> Path:
    """Write settings as TOML under ``[thompson]`` (``adbandit recommend --config`` reads it)."""
    lines = [f"# {line}" for line in comment.splitlines()] + ["[thompson]"]
    for key, value in config.items():
        if value is None:
            continue  # TOML has no null: an absent key means the default (None)
        if isinstance(value, float) and not math.isfinite(value):
            continue
        lines.append(f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"')
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
