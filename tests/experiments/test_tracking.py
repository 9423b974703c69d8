"""Real MLflow (SQLite store in a temporary folder): runs, step metrics, the fallback."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments import list_experiments
from experiments.tracking import Tracker, TrackingWarning, data_fingerprint
from service.cli import main


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlflow")


def test_runs_are_logged_and_read_back(store: Path) -> None:
    tracker = Tracker("unit", uri=f"sqlite:///{store / 'mlflow.db'}", root=store)
    steps = pd.DataFrame({"regret": [3.0, 2.0, 1.0], "spend": [10.0, 10.0, 10.0]})
    artifact = store / "table.csv"
    artifact.write_text("a,b\n1,2\n")
    data = pd.DataFrame({"x": [1, 2, 3]})
    run_id = tracker.log_run(
        "first",
        params={"floor": 0.01, "config": {"max_change": 0.2}},
        metrics={"conversions": 42.0},
        step_metrics=steps,
        artifacts={"table": artifact},
        tags={"kind": "unit"},
        data=data,
    )
    assert run_id
    runs = tracker.runs()
    row = runs[runs["run_id"] == run_id].iloc[0]
    assert row["status"] == "FINISHED" and row["name"] == "first"
    assert row["params.floor"] == "0.01" and json.loads(row["params.config"]) == {"max_change": 0.2}
    assert row["metrics.conversions"] == 42.0
    assert row["tags.kind"] == "unit" and row["tags.data_fingerprint"] == data_fingerprint(data)
    assert row["tags.adbandit_version"]
    history = tracker.metric_history(run_id, "regret")
    assert history["step"].tolist() == [0, 1, 2] and history["value"].tolist() == [3.0, 2.0, 1.0]


def test_failure_keeps_the_run_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    tracker = Tracker("down", uri="http://127.0.0.1:9", root=tmp_path)  # nothing listens there
    with pytest.warns(TrackingWarning, match="the run was saved to"):
        assert tracker.log_run("lost?", metrics={"regret": 1.5}) is None
    saved = list((tmp_path / "mlruns" / "unsent").glob("*/run.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["metrics"] == {"regret": 1.5}


def test_simulate_command_tracks_every_policy(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{store / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = tmp_path / "study.yaml"
    config.write_text(
        "scenario: delay\npolicies:\n  adbandit: {max_change: 0.5}\n  uniform: {}\n"
        "seeds: 2\ndays: 4\nbudget: 300\n"
    )
    out = tmp_path / "sim"
    code = main(["simulate", str(config), "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "Scenario delay: 2 campaigns x 4 days" in text
    assert (out / "regret.png").stat().st_size > 1000 and (out / "summary.csv").exists()
    runs = Tracker("adbandit-simulations", uri=uri, root=store).runs()
    assert set(runs["name"]) >= {"delay-adbandit", "delay-uniform"}
    adb = runs[runs["name"] == "delay-adbandit"].iloc[0]
    assert json.loads(adb["params.policy_config"]) == {"max_change": 0.5}
    assert os.path.basename(str(adb["tags.kind"])) == "simulation"


def test_tracked_figures_match_the_summary_and_compare(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from experiments.compare import compare_runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out = tmp_path / "sim"
    code = main(
        [
            "simulate",
            "no_delay",
            "--policy",
            "uniform",
            "adbandit",
            "--seeds",
            "2",
            "--days",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = pd.read_csv(out / "summary.csv").set_index("policy")
    table = compare_runs(["adbandit-simulations"], baseline="no_delay-uniform", uri=uri)
    table = table.set_index("name")
    # the final "regret" is the run's total, not the last day's (a step-metric clash)
    assert table.loc["no_delay-adbandit", "regret"] == pytest.approx(
        summary.loc["adbandit", "regret"]
    )
    assert table.loc["no_delay-uniform", "regret_vs_baseline"] == 0.0
    expected = summary.loc["adbandit", "regret"] / summary.loc["uniform", "regret"] - 1
    assert table.loc["no_delay-adbandit", "regret_vs_baseline"] == pytest.approx(expected)
    capsys.readouterr()
    assert (
        main(["compare", "--baseline", "no_delay-uniform", "--out", str(tmp_path / "c.png")]) == 0
    )
    assert "2 runs from adbandit-simulations; baseline no_delay-uniform" in capsys.readouterr().out
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_runs_are_paged(tmp_path: Path) -> None:
    tracker = Tracker("paged", uri=f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
    for i in range(5):
        tracker.log_run(f"r{i}", metrics={"x": float(i)})
    assert len(tracker.runs(page_size=2)) == 5  # three pages
    assert len(tracker.runs()) == 5


def test_step_and_final_metric_names_must_differ(tmp_path: Path) -> None:
    tracker = Tracker("clash", uri=f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
    with pytest.raises(ValueError, match="share names: regret"):
        tracker.log_run("x", metrics={"regret": 1.0}, step_metrics=pd.DataFrame({"regret": [1.0]}))


def test_cli_recommendations_and_ab_readouts_are_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    sample = Path(__file__).parents[2] / "data" / "sample_stats.csv"
    assert (
        main(["recommend", str(sample), "--budget", "900", "--seed", "3", "--format", "json"]) == 0
    )
    out, err = capsys.readouterr()
    assert json.loads(out)["budget"] == 900.0  # stdout stays pure JSON
    assert "tracked as MLflow run" in err
    runs = Tracker("adbandit-recommendations", uri=uri).runs()
    row = runs.iloc[0]
    assert row["tags.kind"] == "recommendation" and row["params.budget"] == "900.0"
    assert (
        json.loads(row["params.config"])["floor"] == 0.002 and len(row["tags.stats_sha256"]) == 16
    )
    counts = tmp_path / "ab.csv"
    counts.write_text("variant,users,conversions\nA,2000,200\nB,2000,236\n")
    assert main(["abtest", "analyze", str(counts), "--control", "A"]) == 0
    ab = Tracker("adbandit-abtests", uri=uri).runs().iloc[0]
    assert ab["tags.kind"] == "abtest" and ab["tags.winner"] == "B"
    assert ab["metrics.stopped"] == 1.0
    assert main(["recommend", str(sample), "--budget", "900", "--no-track"]) == 0
    assert len(Tracker("adbandit-recommendations", uri=uri).runs()) == 1


def test_half_written_run_is_marked_failed_and_kept(tmp_path: Path) -> None:
    tracker = Tracker("partial", uri=f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
    with pytest.warns(TrackingWarning, match="the run was saved to"):
        run_id = tracker.log_run(
            "partial", metrics={"x": 1.0}, artifacts={"gone": tmp_path / "missing.csv"}
        )
    assert run_id is None
    runs = tracker.runs()
    assert runs["status"].tolist() == ["FAILED"]  # not left RUNNING
    saved = json.loads(next((tmp_path / "mlruns" / "unsent").glob("*/run.json")).read_text())
    assert saved["metrics"] == {"x": 1.0} and saved["missing_artifacts"][0].endswith("missing.csv")


def _open_store(uri: str, start: float, how: str) -> str:
    """Child of the race test: wait for the common start time, then open the store."""
    while time.time() < start:
        time.sleep(0.001)
    try:
        if how == "list":
            list_experiments(uri)
        else:
            Tracker("race", uri=uri).runs()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


def test_processes_opening_a_new_store_at_once_do_not_collide(tmp_path: Path) -> None:
    # The server's start-up read and its logger process both open a new SQLite store;
    # MLflow creates its tables on first open with no guard, and one of them used to fail
    # with "table ... already exists" (seen in CI). Several rounds, each on a new file.
    context = mp.get_context("spawn")
    with context.Pool(4) as pool:
        for round_ in range(3):
            uri = f"sqlite:///{tmp_path / f'race{round_}.db'}"
            start = time.time() + 2.0
            results = pool.starmap(_open_store, [(uri, start, "list"), (uri, start, "log")] * 2)
            assert results == ["ok"] * 4, results
            assert sorted(list_experiments(uri)["name"]) == ["Default", "race"]
