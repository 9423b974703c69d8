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
) -> TuningResult:
    """Search allocator settings that maximise conversions; see the module docstring."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )
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
            },
            tags={"kind": "tuning"},
        )

    def objective(trial: Any) -> float:
        import optimizer

        config = optimizer.ThompsonConfig.from_dict(_suggest(trial))
        totals = []
        for step, scenario in enumerate(scenarios):
            for child in children:
                daily = run_policy(
                    AdbanditPolicy(config), scenario, seed=child, n_days=n_days, budget=budget
                )
                totals.append(float(daily["expected_conversions"].sum()))
            trial.report(float(np.mean(totals)), step)
            if trial.should_prune():
                _log_trial(tracker, parent, trial.number, config, float(np.mean(totals)), "pruned")
                raise optuna.TrialPruned()
        value = float(np.mean(totals))
        _log_trial(tracker, parent, trial.number, config, value, "complete")
        return value

    study.optimize(objective, n_trials=n_trials, show_progress_bar=progress)
    best = study.best_trial
    best_config = {k: v for k, v in best.params.items() if k != "drift_discount"}
    if not best.params.get("drift_discount", False):
        best_config["half_life_days"] = None
    assert best.value is not None  # a completed trial always has a value
    return TuningResult(best_config, float(best.value), len(study.trials), study_name, parent)


def _log_trial(
    tracker: Tracker | None,
    parent: str | None,
    number: int,
    config: Any,
    value: float,
    state: str,
) -> None:
    if tracker is None:
        return
    tracker.log_run(
        f"trial-{number}",
        params={k: v for k, v in config.to_dict().items() if k in SEARCH_SPACE},
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
