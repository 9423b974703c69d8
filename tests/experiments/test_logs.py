"""Log aggregation: a golden tiny case, then every engine (DuckDB, Dask on a real
LocalCluster of 2 workers) equal to the pandas reference on partitioned files; and a
tuning study spread over 2 Dask workers with every trial in MLflow."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import experiments
import optimizer
from experiments.logs import aggregate_frames, aggregate_logs, write_synthetic_logs


def test_golden_tiny_logs() -> None:
    clicks = pd.DataFrame(
        {
            "click_id": ["a", "b", "c"],
            "time": ["2026-03-01 10:00", "2026-03-01 23:00", "2026-03-02 08:00"],
            "creative": ["c1", "c1", "c2"],
            "audience": ["x", "x", "x"],
            "cost": [0.5, 0.25, 1.0],
        }
    )
    conversions = pd.DataFrame(
        {
            "click_id": ["a", "b", "zz", "c"],
            "time": ["2026-03-03 11:00", "2026-03-02 01:00", "2026-03-02", "2026-03-02 07:00"],
            "value": [10.0, 5.0, 1.0, 99.0],
        }
    )
    table = pd.DataFrame(
        {
            "date": ["2026-03-01", "2026-03-02", "2026-03-02"],
            "creative": ["c1", "c2", "c3"],
            "audience": ["x", "x", "x"],
            "impressions": [100, 50, 20],
            "spend": [0.8, None, 2.0],
        }
    )
    out = aggregate_frames(clicks, conversions, table)
    want = optimizer.validate_stats(
        pd.DataFrame(
            {
                "campaign": ["default"] * 3,
                "date": ["2026-03-01", "2026-03-02", "2026-03-02"],
                "creative": ["c1", "c2", "c3"],
                "audience": ["x", "x", "x"],
                "impressions": [100, 50, 20],
                "clicks": [2, 1, 0],
                # the platform's spend where the table has it, else the clicks' cost
                "spend": [0.8, 1.0, 2.0],
                "conversions": [2.0, 0.0, 0.0],  # c converted before its click: left out
                "revenue": [15.0, 0.0, 0.0],
            }
        )
    )
    pd.testing.assert_frame_equal(out.stats, want)
    assert (out.n_unmatched, out.n_before_click) == (1, 1)
    assert out.lags.values.tolist() == [
        ["default", pd.Timestamp("2026-03-01"), 0, 1],
        ["default", pd.Timestamp("2026-03-01"), 2, 1],
    ]
    assert out.observed_until == pd.Timestamp("2026-03-03 11:00")
    assert out.windows["window_days"].tolist() == pytest.approx([2 + 11 / 24, 1 + 11 / 24])


def test_missing_columns_are_named() -> None:
    with pytest.raises(optimizer.InvalidInputError, match="click log: required column 'audience'"):
        aggregate_frames(
            pd.DataFrame({"click_id": [1], "time": ["2026-03-01"], "creative": ["c"]}),
            pd.DataFrame({"click_id": [1], "time": ["2026-03-02"]}),
        )
    with pytest.raises(optimizer.ConfigError, match="engine .* must be one of"):
        aggregate_logs("a", "b", engine="spark")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """30,000 clicks over 10 days, 70% in one campaign (skew), conversions filed under the
    day they happened (late ones in later files), as Parquet and as CSV."""
    out = {}
    for fmt in ("parquet", "csv"):
        folder = tmp_path_factory.mktemp(fmt)
        write_synthetic_logs(folder, 30_000, seed=3, skew=0.7, fmt=fmt, chunk=7_000)
        out[fmt] = folder
    return out


@pytest.fixture(scope="module")
def reference(logs: dict[str, Path]) -> experiments.Aggregated:
    return aggregate_logs(
        logs["parquet"] / "clicks", logs["parquet"] / "conversions", engine="pandas"
    )


def test_late_conversions_sit_in_later_files(logs: dict[str, Path]) -> None:
    clicks_days = {p.name for p in (logs["parquet"] / "clicks").iterdir()}
    conversion_days = {p.name for p in (logs["parquet"] / "conversions").iterdir()}
    assert conversion_days - clicks_days  # some conversions land after the last click day


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_every_engine_equals_pandas(
    logs: dict[str, Path], reference: experiments.Aggregated, engine: str, fmt: str
) -> None:
    table = (
        reference.stats[["date", "creative", "audience", "campaign"]]
        .iloc[::7]
        .assign(impressions=10_000, spend=123.456789)
    )
    want = aggregate_logs(
        logs["parquet"] / "clicks", logs["parquet"] / "conversions", table, engine="pandas"
    )
    got = aggregate_logs(
        logs[fmt] / "clicks", logs[fmt] / "conversions", table, engine=engine, workers=2
    )
    assert got.engine == engine
    pd.testing.assert_frame_equal(got.stats, want.stats)
    pd.testing.assert_frame_equal(got.lags, want.lags)
    pd.testing.assert_frame_equal(got.windows, want.windows)
    assert (got.n_unmatched, got.n_before_click, got.observed_until) == (
        want.n_unmatched,
        want.n_before_click,
        want.observed_until,
    )
    assert int(got.stats["clicks"].sum()) == 30_000
    big = got.stats[got.stats["campaign"] == "big"]["clicks"].sum() / 30_000
    assert big == pytest.approx(0.7, abs=0.02)


def test_aggregate_command(
    logs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    out = tmp_path / "stats.csv"
    lags = tmp_path / "lags.csv"
    root = logs["parquet"]
    code = main(
        [
            "aggregate",
            str(root / "clicks"),
            str(root / "conversions"),
            "-o",
            str(out),
            "--lags",
            str(lags),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith("duckdb: 30,000 clicks and ")
    assert optimizer.load_stats(out)["clicks"].sum() == 30_000
    assert set(pd.read_csv(lags).columns) == {"campaign", "click_date", "lag_days", "conversions"}


def test_tuning_study_on_two_dask_workers_logs_every_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default journal storage lives under ./mlruns/optuna
    tracker = experiments.Tracker(
        "tuning-dask", uri=f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path
    )
    result = experiments.tune(
        ["no_delay"], n_trials=20, n_seeds=1, n_days=4, workers=2, tracker=tracker, progress=False
    )
    assert result.n_trials == 20
    runs = tracker.runs()
    trials = runs[runs["tags.kind"] == "tuning-trial"]
    assert sorted(trials["name"]) == sorted(f"trial-{i}" for i in range(20))
    assert (trials["tags.mlflow.parentRunId"] == result.parent_run_id).all()
    assert (tmp_path / "mlruns" / "optuna" / "adbandit-tuning.log").exists()
