"""Event logs: validation, exclusions that are reported, truncation-aware delay fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer.events import InvalidEventsError, fit_delay, load_events, lynden_bell

CLICKS = pd.DataFrame(
    {
        "click_id": ["k1", "k2", "k3"],
        "time": ["2026-03-01T10:00:00", "2026-03-01T11:00:00", "2026-03-02T09:00:00"],
        "creative": ["c1", "c1", "c2"],
        "audience": ["a", "a", "a"],
    }
)


def test_golden_matching_and_reported_exclusions() -> None:
    conversions = pd.DataFrame(
        {
            "click_id": ["k1", "k9", "k2", "k1", "k3"],
            "time": [
                "2026-03-02T10:00:00",  # k1 after 1 day
                "2026-03-02T10:00:00",  # unknown click
                "2026-03-01T10:30:00",  # before its click (11:00)
                "2026-03-03T10:00:00",  # k1 again: a duplicate
                "2026-03-02T21:00:00Z",  # k3 after 12 hours, UTC marker accepted
            ],
            "value": ["20", "5", "7", "9", ""],
        }
    )
    log = load_events(CLICKS, conversions)
    assert log.matched["click_id"].tolist() == ["k1", "k3"]
    np.testing.assert_allclose(log.matched["delay_days"], [1.0, 0.5])
    assert log.matched["value"].tolist() == [20.0, 0.0]
    assert log.excluded.to_dict("records") == [
        {"row": 2, "click_id": "k9", "reason": "unknown click_id"},
        {"row": 3, "click_id": "k2", "reason": "conversion before its click"},
        {"row": 4, "click_id": "k1", "reason": "click already converted (row 1)"},
    ]
    assert log.observed_until == pd.Timestamp("2026-03-03T10:00:00")


BAD = [
    (
        {"clicks": CLICKS.drop(columns="audience")},
        "click log: required column 'audience' is missing",
    ),
    ({"conversions": pd.DataFrame({"click_id": ["k1"]})}, "conversion log: required column 'time'"),
    (
        {"clicks": CLICKS.assign(time=["2026-03-01T10:00:00", "yesterday", "2026-03-02"])},
        "row 2: click log: time ('yesterday') is not an ISO 8601 time",
    ),
    (
        {"clicks": CLICKS.assign(click_id=["k1", "k1", "k3"])},
        "row 2: click log: click_id 'k1' repeats row 1",
    ),
    ({"clicks": CLICKS.assign(creative=["c1", " ", "c2"])}, "row 2: click log: creative is empty"),
    (
        {
            "conversions": pd.DataFrame(
                {"click_id": ["k1"], "time": ["2026-03-02"], "value": ["-3"]}
            )
        },
        "row 1: conversion log: value ('-3') must be a number >= 0",
    ),
    (
        {"conversions": pd.DataFrame({"click_id": [""], "time": ["2026-03-02"]})},
        "row 1: conversion log: click_id is empty",
    ),
    (
        {"conversions": pd.DataFrame({"click_id": ["k1"], "time": [""]})},
        "row 1: conversion log: time is missing",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_event_logs(change: dict, message: str) -> None:
    args = {
        "clicks": CLICKS,
        "conversions": pd.DataFrame({"click_id": ["k1"], "time": ["2026-03-02T10:00:00"]}),
    }
    args.update(change)
    with pytest.raises(InvalidEventsError) as info:
        load_events(args["clicks"], args["conversions"])
    assert message in str(info.value)


def test_golden_lynden_bell_with_truncation() -> None:
    # delays 1, 2, 3; the third click could show delays up to 2.5 only.
    u, f = lynden_bell(np.array([1.0, 2.0, 2.5]), np.array([10.0, 10.0, 2.5]))
    # R(u) = #{d <= u <= w}: R(2.5) = 3, R(2) = 2, R(1) = 1 -> F(2) = 2/3, F(1) = 1/3
    np.testing.assert_allclose(f, [1 / 3, 2 / 3, 1.0])
    u, f = lynden_bell(np.array([1.0, 2.0, 2.5]), np.array([10.0, 2.2, 2.5]))
    # now R(2.5) = 2 (the click with window 2.2 cannot show 2.5): F(2) = 1/2, F(1) = 1/4
    np.testing.assert_allclose(f, [0.25, 0.5, 1.0])


def synthetic_log(
    lag: np.ndarray, seed: int = 100, days: float = 30.0
) -> optimizer.events.EventLog:
    """Clicks uniform over `days`; `seed` must differ from the one that drew `lag`."""
    rng = np.random.default_rng(seed)
    n = lag.size
    t0 = pd.Timestamp("2026-01-01")
    click_time = t0 + pd.to_timedelta(rng.uniform(0, days, n), unit="D")
    conv_time = click_time + pd.to_timedelta(lag, unit="D")
    cutoff = t0 + pd.Timedelta(days=days)
    seen = conv_time < cutoff
    clicks = pd.DataFrame(
        {
            "click_id": [f"k{i}" for i in range(n)],
            "time": click_time.strftime("%Y-%m-%dT%H:%M:%S"),
            "creative": "c",
            "audience": "a",
        }
    )
    conversions = pd.DataFrame(
        {
            "click_id": clicks["click_id"].to_numpy()[seen],
            "time": conv_time[seen].strftime("%Y-%m-%dT%H:%M:%S").to_numpy(),
        }
    )
    return load_events(clicks, conversions, observed_until=cutoff)


def test_exponential_fit_corrects_truncation() -> None:
    lag = np.random.default_rng(1).exponential(4.0, 3000)
    log = synthetic_log(lag, seed=101)
    curve = fit_delay(log, n_boot=60, seed=2)
    assert curve.kind == "exponential" and curve.source == "events"
    assert curve.params["mean_days"] == pytest.approx(4.0, rel=0.08)
    assert log.matched["delay_days"].mean() < 3.6  # the naive mean is biased low
    assert len(curve.low) == len(curve.band_days) and np.all(
        np.array(curve.low) <= np.array(curve.high)
    )


def test_weibull_is_chosen_for_a_weibull_lag() -> None:
    lag = 4.0 * np.random.default_rng(3).weibull(0.6, 3000)
    curve = fit_delay(synthetic_log(lag, seed=103), n_boot=60, seed=2)
    assert curve.kind == "weibull"
    assert curve.params["shape"] == pytest.approx(0.6, rel=0.1)
    assert curve.evidence["aic"]["weibull"] < curve.evidence["aic"]["exponential"]


def test_bimodal_lag_falls_back_to_the_nonparametric_curve() -> None:
    rng = np.random.default_rng(4)
    lag = np.where(rng.random(3000) < 0.5, rng.uniform(0.9, 1.1, 3000), rng.uniform(6, 7, 3000))
    curve = fit_delay(synthetic_log(lag, seed=104), n_boot=60, seed=2)
    assert curve.kind == "table"
    np.testing.assert_allclose(curve.cdf(np.array([3.0, 6.5, 10.0])), [0.5, 0.75, 1.0], atol=0.04)


def test_too_few_conversions() -> None:
    with pytest.raises(InvalidEventsError, match="need at least 10"):
        fit_delay(synthetic_log(np.full(5, 1.0)))


def test_fitted_curve_drives_a_recommendation() -> None:
    curve = fit_delay(synthetic_log(np.random.default_rng(5).exponential(3.0, 2000)), n_boot=40)
    from tests.optimizer.test_delay import played

    rec = optimizer.recommend(played(3.0, seed=5), 600, delay=curve)
    assert rec.delay.source == "events" and (rec.allocations["maturity"] < 1).all()


def test_golden_exponential_mle_without_binding_truncation() -> None:
    from optimizer.events import _fit_parametric

    delays = np.array([0.5, 1.0, 2.0, 4.5])
    curve, nll = _fit_parametric("exponential", delays, np.full(4, 1e6))
    assert curve.params["mean_days"] == pytest.approx(2.0, rel=1e-6)  # the sample mean
    assert nll == pytest.approx(4 * np.log(2.0) + 8.0 / 2.0, rel=1e-6)  # -sum log f
    # a binding window pulls the estimate up: delays could not exceed 5 days
    truncated, _ = _fit_parametric("exponential", delays, np.full(4, 5.0))
    assert truncated.params["mean_days"] > 2.0
