"""Fatigue check: golden slope, stationary data, delay awareness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer
from experiments.simulate import make_campaign
from optimizer.drift import detect_fatigue


def exact_decay_stats(slope: float, days: int = 20) -> pd.DataFrame:
    """Conversions exactly on a decaying curve: the fit must return the slope exactly."""
    rows = []
    for t in range(days):
        for audience, rate in (("a1", 0.2), ("a2", 0.1)):
            rows.append(
                {
                    "date": (pd.Timestamp("2026-02-01") + pd.Timedelta(days=t)).date().isoformat(),
                    "creative": "c",
                    "audience": audience,
                    "impressions": 0,
                    "clicks": 0,
                    "spend": 100.0,
                    "conversions": 100.0 * rate * np.exp(slope * t),
                }
            )
    return optimizer.load_stats(pd.DataFrame(rows))


@pytest.mark.parametrize("slope", [-0.05, 0.0, 0.02])
def test_golden_slope_on_exact_data(slope: float) -> None:
    row = detect_fatigue(exact_decay_stats(slope)).iloc[0]
    assert row["slope_per_day"] == pytest.approx(slope, abs=1e-5)
    assert row["fatigued"] == (slope < 0)
    if slope < 0:
        assert row["half_life_days"] == pytest.approx(np.log(2) / 0.05, rel=1e-3)
        assert row["evidence"].startswith("wearing out: -5.0% a day")


def test_too_little_data_is_not_tested() -> None:
    row = detect_fatigue(exact_decay_stats(-0.05, days=5)).iloc[0]
    assert not row["fatigued"] and row["evidence"].startswith("not tested: 5 days")


def test_finds_the_decaying_creative_only() -> None:
    campaign = make_campaign(fatigue_per_day=0.03, seed=1)
    for _ in range(30):
        campaign.play(np.full(12, 50.0))
    report = detect_fatigue(optimizer.load_stats(campaign.stats())).set_index("creative")
    assert report.loc["c0", "fatigued"]
    assert report.loc["c0", "slope_low"] < -0.03 < report.loc["c0", "slope_high"]
    assert not report.drop(index="c0")["fatigued"].any()


def test_immature_recent_days_are_not_mistaken_for_fatigue() -> None:
    campaign = make_campaign(delay_mean_days=4.0, seed=2)
    for _ in range(25):
        campaign.play(np.full(12, 50.0))
    stats = optimizer.load_stats(campaign.stats())
    naive = detect_fatigue(stats)
    aware = detect_fatigue(stats, delay=optimizer.detect_delay(stats))
    assert naive["fatigued"].sum() >= 2  # every creative "declines" without the delay
    assert not aware["fatigued"].any()


def test_sample_campaign_is_stationary(sample_stats_path: str) -> None:
    report = detect_fatigue(optimizer.load_stats(sample_stats_path))
    assert len(report) == 4 and not report["fatigued"].any()
