"""Value per conversion, ROAS, the revenue objective and the CPA / ROAS guardrails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer.model import ArmPosteriors
from optimizer.revenue import (
    ValuePosteriors,
    cap_revenue,
    fit_values,
    p_cpa_above,
    p_roas_below,
    roas_summary,
)
from tests.conftest import frame, stats_row


def two_arms(days: int = 14, huge_order: float = 0.0) -> pd.DataFrame:
    """'cheap' converts often at a low value; 'premium' less often at a high value."""
    rows = []
    for d in range(days):
        date = (pd.Timestamp("2026-04-01") + pd.Timedelta(days=d)).date().isoformat()
        rows.append(
            stats_row(date=date, creative="cheap", spend=100.0, conversions=5, revenue=100.0)
        )
        revenue = 180.0 + (huge_order if d == 3 else 0.0)
        rows.append(
            stats_row(date=date, creative="premium", spend=100.0, conversions=3, revenue=revenue)
        )
    return optimizer.load_stats(frame(*rows))


def test_golden_value_posterior() -> None:
    stats = two_arms()
    totals = optimizer.aggregate_arms(stats)
    values = fit_values(stats, totals, totals, prior_conversions=10.0)
    # every day's order value equals its arm's value: no spread left, kappa at its cap
    assert values.kappa == 100.0
    v0 = (14 * 100 + 14 * 180) / (14 * 5 + 14 * 3)  # 35.0
    assert values.prior_value == pytest.approx(v0)
    expected = [(10 * v0 + 1400) / (10 + 70), (10 * v0 + 2520) / (10 + 42)]
    np.testing.assert_allclose(values.mean, expected)


def posts() -> tuple[ArmPosteriors, ValuePosteriors]:
    rates = ArmPosteriors(
        pd.DataFrame({"creative": ["a", "b"], "audience": ["x", "x"]}),
        np.array([30.0, 12.0]),
        np.array([600.0, 500.0]),
        np.array([0.04, 0.04]),
        2.0,
        np.array([2.0, 2.0]),
    )
    values = ValuePosteriors(np.array([40.0, 25.0]), np.array([800.0, 900.0]), 2.0, 40.0, 0)
    return rates, values


def test_roas_and_guardrail_probabilities_are_exact() -> None:
    rates, values = posts()
    rng = np.random.default_rng(0)
    n = 400_000
    rate = rng.gamma(rates.alpha, 1 / rates.beta, size=(n, 2))
    value = values.kappa / rng.gamma(values.shape, 1 / values.rate, size=(n, 2))
    roas = rate * value
    mean, low, high = roas_summary(rates, values, 0.9)
    np.testing.assert_allclose(mean, roas.mean(axis=0), rtol=5e-3)
    np.testing.assert_allclose(low, np.quantile(roas, 0.05, axis=0), rtol=1e-2)
    np.testing.assert_allclose(high, np.quantile(roas, 0.95, axis=0), rtol=1e-2)
    np.testing.assert_allclose(
        p_roas_below(rates, values, 1.5), (roas < 1.5).mean(axis=0), atol=3e-3
    )
    np.testing.assert_allclose(p_cpa_above(rates, 30.0), (1 / rate > 30.0).mean(axis=0), atol=3e-3)


def test_objective_decides_which_arm_leads() -> None:
    stats = two_arms()
    by_conv = optimizer.recommend(stats, 100).allocations.set_index("creative")
    by_rev = optimizer.recommend(stats, 100, objective="revenue").allocations.set_index("creative")
    assert by_conv["p_best"].idxmax() == "cheap"  # 5 vs 3 conversions per 100
    assert by_rev["p_best"].idxmax() == "premium"  # 180 vs 100 revenue per 100
    # shrunk toward the campaign (rate and value priors), still clearly ahead
    assert 1.5 < by_rev.loc["premium", "roas_mean"] <= 1.8
    assert by_rev.loc["cheap", "roas_mean"] < 1.1


def test_one_huge_order_does_not_take_over() -> None:
    capped, n = cap_revenue(two_arms(huge_order=50_000.0))
    assert n == 1 and capped["revenue"].max() == 5 * 180.0  # 3 orders x 5 x median 60
    rec = optimizer.recommend(two_arms(huge_order=50_000.0), 100, objective="revenue")
    table = rec.allocations.set_index("creative")
    assert table.loc["premium", "roas_mean"] < 2.5  # not 1.8 + 50,000 / 1,400 = 37


def test_cpa_guardrail_holds_an_arm_at_the_floor() -> None:
    cfg = optimizer.ThompsonConfig(cpa_target=25.0, floor=0.05)
    table = optimizer.recommend(two_arms(), 100, config=cfg).allocations.set_index("creative")
    # premium: 3 conversions per 100 -> CPA 33 > 25 almost surely
    assert table.loc["premium", "p_cpa_above_target"] > 0.95
    assert table.loc["premium", "binding"] == "guardrail"
    assert table.loc["premium", "budget"] == 2.5  # floor 5% cut to max_floor_total / 2 arms
    assert (
        "held at the floor by the guardrail: P(CPA > 25.00) is 0.98"
        in table.loc["premium", "reason"]
    )


def test_guardrail_on_every_arm_is_an_allocation_error() -> None:
    cfg = optimizer.ThompsonConfig(roas_floor=5.0)
    with pytest.raises(optimizer.AllocationError, match="guardrail allow at most"):
        optimizer.recommend(two_arms(), 100, config=cfg)


def test_revenue_objective_is_reproducible_by_monte_carlo_too(sample_stats_path: str) -> None:
    cfg = optimizer.ThompsonConfig(p_best_method="monte_carlo", n_draws=5_000)
    a = optimizer.recommend(sample_stats_path, 900, objective="revenue", config=cfg, seed=5)
    b = optimizer.recommend(sample_stats_path, 900, objective="revenue", config=cfg, seed=5)
    pd.testing.assert_frame_equal(a.allocations, b.allocations)
    exact = optimizer.recommend(sample_stats_path, 900, objective="revenue")
    assert np.max(np.abs(a.allocations["p_best"] - exact.allocations["p_best"])) < a.p_best_error
