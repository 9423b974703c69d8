"""Unattended tests: stop on the rule, replay a file, write the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import optimizer
from experiments.autotest import run_autotest
from service.cli import main

CLEAR = {"effect_sd": 0.8, "n_creatives": 2, "n_audiences": 2}


def test_bandit_test_stops_with_the_true_best_and_reports(tmp_path: Path) -> None:
    from experiments.simulate import make_campaign

    result = run_autotest(
        {
            "mode": "bandit",
            "scenario": CLEAR,
            "days": 60,
            "seed": 2,
            "stop": {"min_conversions": 30},
        },
        tmp_path,
    )
    truth = make_campaign(seed=2, **CLEAR)
    best = max(truth.arms, key=lambda a: a.rate)
    assert result.stopped and result.winner == f"{best.creative} x {best.audience}"
    assert result.days_run < 60
    report = result.report.read_text()
    assert report.startswith("# Bandit test report") and "- Verdict: stop:" in report
    for name in ("allocation.png", "p_best.png", "conversions.png", "intervals.png"):
        assert (tmp_path / name).stat().st_size > 1000 and f"({name})" in report
    daily = pd.read_csv(tmp_path / "daily.csv")
    assert daily.groupby("day")["share"].sum().round(9).eq(1.0).all()


def test_fixed_split_keeps_even_shares(tmp_path: Path) -> None:
    result = run_autotest({"mode": "fixed", "scenario": CLEAR, "days": 5, "seed": 2}, tmp_path)
    assert not result.stopped and result.days_run == 5
    assert result.daily["share"].round(9).eq(0.25).all()
    assert "every variant needs 50 conversions" in result.reason


def test_replay_of_a_stats_file(tmp_path: Path, sample_stats_path: str) -> None:
    result = run_autotest(
        {"stats": sample_stats_path, "days": 28, "stop": {"min_conversions": 20}}, tmp_path
    )
    assert result.days_run <= 28 and "replay of" in result.report.read_text()
    if result.stopped:
        assert result.winner == "ugc_video x lookalike_1pct"


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"mode": "greedy"}, "mode .* must be 'bandit' or 'fixed'"),
        ({"scenario": "rainy"}, "unknown scenario 'rainy'"),
        ({"days": 0}, "days \\(0\\) must be a whole number >= 1"),
        ({"stats": "x.csv", "scenario": "delay"}, "either 'scenario'"),
        ({"budgett": 5}, "unknown test settings: budgett"),
    ],
)
def test_bad_settings(tmp_path: Path, settings: dict, match: str) -> None:
    with pytest.raises(optimizer.ConfigError, match=match):
        run_autotest(settings, tmp_path)


def test_abtest_run_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "test.yaml"
    config.write_text(
        "mode: bandit\nscenario: {effect_sd: 0.8, n_creatives: 2, n_audiences: 2}\n"
        "days: 40\nseed: 2\nstop: {min_conversions: 30}\n"
    )
    assert main(["abtest", "run", str(config), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Stopped after") and (tmp_path / "r" / "report.md").exists()
