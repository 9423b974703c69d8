"""Optuna tuning: a real 3-trial study, resumable storage, nested MLflow runs."""

from __future__ import annotations

from pathlib import Path

import optimizer
from experiments.tracking import Tracker
from experiments.tuning import tune, write_config


def test_three_trials_resume_and_track(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    tracker = Tracker("tuning-test", uri=f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
    common = dict(
        scenarios=("no_delay",),
        n_seeds=1,
        n_days=4,
        budget=300.0,
        seed=3,
        storage=storage,
        study_name="t",
        progress=False,
    )
    first = tune(n_trials=2, tracker=tracker, **common)  # type: ignore[arg-type]
    assert first.n_trials == 2
    second = tune(n_trials=1, tracker=tracker, **common)  # type: ignore[arg-type]
    assert second.n_trials == 3  # resumed from the same storage
    assert second.best_value >= first.best_value
    runs = tracker.runs()
    trials = runs[runs["tags.kind"] == "tuning-trial"]
    assert len(trials) == 3
    parents = set(runs.loc[runs["tags.kind"] == "tuning", "run_id"])
    assert set(trials["tags.mlflow.parentRunId"]) <= parents
    config_file = write_config(second.best_config, tmp_path / "best.toml", comment="test")
    loaded = optimizer.load_config(config_file)
    assert loaded.floor == second.best_config["floor"]
    rec = optimizer.recommend(
        str(Path(__file__).parents[2] / "data" / "sample_stats.csv"), 1000, config=loaded
    )
    assert round(rec.allocations["budget"].sum(), 2) == 1000.0


def test_same_seed_same_study(tmp_path: Path) -> None:
    a = tune(("no_delay",), n_trials=2, n_seeds=1, n_days=3, seed=9, progress=False)
    b = tune(("no_delay",), n_trials=2, n_seeds=1, n_days=3, seed=9, progress=False)
    assert a.best_config == b.best_config and a.best_value == b.best_value
