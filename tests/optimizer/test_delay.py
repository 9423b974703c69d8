"""Conversion delay: golden curves, bad profiles, detection, corrected exposure."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import optimizer
from experiments.simulate import make_campaign
from tests.conftest import frame, stats_row


def test_golden_profile_through_a_point() -> None:
    curve = optimizer.lag_profile("90% within 7 days")
    assert curve.kind == "exponential" and curve.source == "given"
    assert curve.params["mean_days"] == pytest.approx(-7 / np.log(0.1))
    assert float(curve.cdf(7.0)) == pytest.approx(0.9)
    # m(1) = mean of F over the day: 1 - mean/1 * (1 - exp(-1/mean)) for an exponential
    mean = curve.params["mean_days"]
    exact = 1 - mean * (1 - np.exp(-1 / mean))
    assert float(curve.maturity(np.array([1.0]))[0]) == pytest.approx(exact, rel=1e-3)
    assert curve.describe() == (
        "exponential delay from given: 50% within 2.1 days, 90% within 7.0 days"
    )


def test_golden_table_profile() -> None:
    curve = optimizer.lag_profile({1: 0.5, 3: 0.8, 7: 1.0})
    np.testing.assert_allclose(curve.cdf([0.5, 1, 2, 5, 30]), [0.25, 0.5, 0.65, 0.9, 1.0])
    # m(1) = mean of F over [0, 1] = mean of 0.5 d = 0.25
    assert float(curve.maturity(np.array([1.0]))[0]) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("most within a week", "not understood"),
        ("100% within 7 days", "must be in"),
        ({1: 0.5, 3: 0.4, 7: 1.0}, "must rise"),
        ({1: 0.5, 3: 0.9}, "must reach 1"),
        ({0: 0.5, 3: 1.0}, "days must be > 0"),
        ({}, "empty"),
    ],
)
def test_bad_profiles(spec: object, match: str) -> None:
    with pytest.raises(optimizer.ConfigError, match=match):
        optimizer.lag_profile(spec)  # type: ignore[arg-type]


def test_no_delay_curve_keeps_every_day() -> None:
    assert optimizer.NO_DELAY.maturity(np.array([1.0, 5.0])).tolist() == [1.0, 1.0]


def test_aggregate_with_delay_golden() -> None:
    stats = optimizer.load_stats(
        frame(
            stats_row(date="2026-03-01", spend=10.0, conversions=2),
            stats_row(date="2026-03-02", spend=20.0, conversions=1),
        )
    )
    curve = optimizer.lag_profile({1: 0.5, 3: 0.8, 7: 1.0})
    totals = optimizer.aggregate_arms(stats, as_of=dt.date(2026, 3, 3), delay=curve)
    m1 = 0.25  # mean of F over [0, 1]
    m2 = float(curve.maturity(np.array([2.0]))[0])  # mean of F over [1, 2] = 0.575
    assert m2 == pytest.approx(0.575)
    row = totals.iloc[0]
    assert row["exposure"] == pytest.approx(10 * m2 + 20 * m1)
    assert row["maturity"] == pytest.approx((10 * m2 + 20 * m1) / 30)
    assert row["weighted_conversions"] == 3.0


def played(delay: float, seed: int, days: int = 30) -> pd.DataFrame:
    campaign = make_campaign(delay_mean_days=delay, seed=seed)
    for _ in range(days):
        campaign.play(np.full(12, 50.0))
    return optimizer.load_stats(campaign.stats())


def test_detect_finds_a_lag_and_its_size() -> None:
    curve = optimizer.detect_delay(played(3.0, seed=1))
    assert curve.kind == "exponential" and curve.source == "stats"
    assert curve.evidence["p_value"] < 1e-6
    assert 1.5 < curve.median_days() < 3.5  # true median: 3 ln 2 ~ 2.1
    low, high = curve.evidence["mean_days_90pct"]
    assert low < curve.params["mean_days"] < high
    assert [row["age_days"] for row in curve.evidence["by_age"]][:3] == [1, 2, 3]
    assert curve.evidence["by_age"][0]["observed_share"] < 0.5


def test_detect_says_none_without_a_lag() -> None:
    curve = optimizer.detect_delay(played(0.0, seed=2))
    assert curve.kind == "none"
    assert curve.evidence["verdict"].startswith("no delay detected")


def test_recommend_reports_maturity_and_the_curve() -> None:
    stats = played(5.0, seed=4, days=30)
    rec = optimizer.recommend(stats, 600)
    assert rec.delay.kind == "exponential"
    assert (rec.allocations["maturity"] < 0.95).all() and (rec.allocations["maturity"] > 0.5).all()
    assert "of them in yet" in rec.allocations["reason"].iloc[0]
    assert rec.to_dict()["delay"]["source"] == "stats"
    naive = optimizer.recommend(stats, 600, delay="none")
    assert (naive.allocations["maturity"] == 1.0).all()
    # Corrected rates are higher: immature days no longer count as full exposure.
    assert (rec.allocations["rate_mean"].sum()) > 1.1 * naive.allocations["rate_mean"].sum()


@pytest.mark.slow
@pytest.mark.parametrize("mean_days", [3.0, 7.0])
def test_recent_rates_unbiased_after_correction(mean_days: float) -> None:
    """500+ arms: last 7 days only, delay detected from 35 days of history."""
    corrected_est, naive_est, truths, covered = [], [], [], []
    for seed in range(42):
        campaign = make_campaign(delay_mean_days=mean_days, seed=seed)
        rng = np.random.default_rng(seed)
        for _ in range(35):
            campaign.play(rng.uniform(20, 80, 12).round(2))
        stats = optimizer.load_stats(campaign.stats())
        curve = optimizer.detect_delay(stats)
        recent = stats[stats["date"] >= stats["date"].max() - pd.Timedelta(days=6)]
        truth = {(a.creative, a.audience): a.rate for a in campaign.arms}
        for delay, sink in ((curve, corrected_est), ("none", naive_est)):
            t = optimizer.recommend(recent, 1000, delay=delay, as_of=campaign.today).allocations
            tr = np.array([truth[k] for k in zip(t["creative"], t["audience"], strict=True)])
            sink.append(t["rate_mean"].to_numpy())
            if sink is corrected_est:
                truths.append(tr)
                covered.append((t["rate_low"] <= tr) & (tr <= t["rate_high"]))
    truth_all = np.concatenate(truths)
    bias = np.concatenate(corrected_est).sum() / truth_all.sum() - 1
    naive_bias = np.concatenate(naive_est).sum() / truth_all.sum() - 1
    coverage = np.concatenate(covered).mean()
    print(
        f"mean delay {mean_days} d, {truth_all.size} arms: corrected bias {bias:+.1%}, "
        f"naive bias {naive_bias:+.1%}, 90% coverage {coverage:.3f}"
    )
    assert abs(bias) < 0.05
    assert naive_bias < -0.25
    assert 0.85 <= coverage <= 0.95


def test_golden_restatements() -> None:
    rows = []
    for creative, counts in (("c1", (2, 6, 10)), ("c2", (1, 3, 10))):
        for reported, conv in zip(("2026-03-02", "2026-03-03", "2026-04-15"), counts, strict=True):
            rows.append({**stats_row(creative=creative, conversions=conv), "reported_on": reported})
    curve = optimizer.delay_from_restatements(pd.DataFrame(rows))
    assert curve.kind == "table" and curve.source == "restatements"
    shares = [(r["age_days"], r["share"]) for r in curve.evidence["by_age"]]
    assert shares == [(1, pytest.approx(0.15)), (2, pytest.approx(0.45))]  # 3/20, 9/20
    np.testing.assert_allclose(curve.cdf([0.5, 1.5]), [0.15, 0.45])
    assert float(curve.maturity(np.array([1.0]))[0]) == pytest.approx(0.15)


def test_restatements_recover_a_simulated_lag() -> None:
    campaign = make_campaign(delay_mean_days=3.0, seed=5)
    for _ in range(45):
        campaign.play(np.full(12, 50.0))
    exports = [
        campaign.stats(as_of_day=day).assign(
            reported_on=(pd.Timestamp(campaign.start) + pd.Timedelta(days=day)).date().isoformat()
        )
        for day in range(10, 46)
    ]
    curve = optimizer.delay_from_restatements(pd.concat(exports))
    truth = optimizer.lag_profile("50% within 2.08 days")  # exponential, mean 3 days
    ages = np.arange(1.0, 11.0)
    np.testing.assert_allclose(curve.maturity(ages), truth.maturity(ages), atol=0.05)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"reported_on": "soon"}, "reported_on \\('soon'\\) is not an ISO date"),
        ({"reported_on": "2026-03-01"}, "reported before their day ended"),
    ],
)
def test_bad_restatements(change: dict, match: str) -> None:
    rows = pd.DataFrame([{**stats_row(), "reported_on": "2026-03-05", **change}])
    with pytest.raises(optimizer.InvalidStatsError, match=match):
        optimizer.delay_from_restatements(rows)


def test_restatements_without_a_mature_report_say_so() -> None:
    rows = pd.DataFrame([{**stats_row(), "reported_on": "2026-03-05"}])
    curve = optimizer.delay_from_restatements(rows)
    assert curve.kind == "none" and "no day was reported both early" in curve.evidence["verdict"]
