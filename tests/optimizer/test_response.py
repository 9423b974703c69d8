"""Diminishing returns: water-filling, the response-curve posterior, and the switch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import optimizer
from experiments.simulate import make_campaign
from optimizer.response import expected_conversions, fit_response, optimal_split


@pytest.mark.parametrize(
    ("r", "k", "expected"),
    [
        # sat, sat, linear: saturating arms fill to marginal 0.03, the linear arm takes the rest
        (
            [0.05, 0.04, 0.03],
            [100.0, 100.0, np.inf],
            [100 * np.log(5 / 3), 100 * np.log(4 / 3), None],
        ),
        ([0.05, 0.04, 0.03], [np.inf] * 3, [300.0, 0.0, 0.0]),  # linear: all to the best
        ([0.05, 0.04], [50.0, np.inf], [50 * np.log(1.25), None]),
    ],
)
def test_golden_water_filling(r: list, k: list, expected: list) -> None:
    x = optimal_split(np.array([r]), np.array([k]), 300.0)[0]
    assert x.sum() == pytest.approx(300.0)
    for got, want in zip(x, expected, strict=True):
        if want is not None:
            assert got == pytest.approx(want, rel=1e-6)


def test_water_filling_matches_a_general_solver() -> None:
    rng = np.random.default_rng(0)
    r = rng.uniform(0.01, 0.06, (20, 5))
    k = rng.uniform(20, 200, (20, 5))
    x = optimal_split(r, k, 400.0)
    for i in range(20):

        def neg(v: np.ndarray, i: int = i) -> float:
            return -float(expected_conversions(r[i], k[i], v).sum())

        ref = optimize.minimize(
            neg,
            np.full(5, 80.0),
            bounds=[(0, 400)] * 5,
            constraints=[{"type": "eq", "fun": lambda v: v.sum() - 400.0}],
            method="SLSQP",
        )
        assert -neg(x[i]) >= -ref.fun - 1e-6


def daily(spend_pattern: np.ndarray, k: float | None, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in spend_pattern:
        mean = 0.05 * (k * -np.expm1(-s / k) if k else s)
        rows.append(
            {"creative": "c", "audience": "a", "spend": s, "conversions": rng.poisson(mean)}
        )
    return pd.DataFrame(rows)


def test_posterior_finds_saturation_only_where_spend_varied() -> None:
    arm = pd.DataFrame({"creative": ["c"], "audience": ["a"]})
    prior = (np.array([2.0]), np.array([40.0]))
    varied = np.tile([50.0, 400.0, 1200.0, 100.0, 800.0], 8)
    saturating = fit_response(daily(varied, k=200.0), arm, *prior)
    linear = fit_response(daily(varied, k=None, seed=1), arm, *prior)
    flat = fit_response(daily(np.full(40, 400.0), k=200.0), arm, *prior)
    assert saturating.p_saturating[0] > 0.95
    assert linear.p_saturating[0] < 0.5
    assert not flat.varied[0] and flat.p_saturating[0] == 0.0
    r, k = saturating.sample(2000, seed=1)
    assert 100 < np.median(k) < 400


def test_recommend_spreads_budget_when_the_best_arm_saturates() -> None:
    campaign = make_campaign(saturation=40.0, seed=3)
    rng = np.random.default_rng(3)
    for _ in range(30):  # varied spend so the curves can be seen
        campaign.play(rng.uniform(5, 150, 12).round(2))
    stats = campaign.stats()
    linear = optimizer.recommend(
        stats, 600, delay="none", config=optimizer.ThompsonConfig(response="linear")
    )
    curved = optimizer.recommend(stats, 600, delay="none", seed=4)
    assert (curved.allocations["p_saturating"] > 0.5).any()
    assert curved.allocations["budget"].max() < 0.6 * linear.allocations["budget"].max()
    truth = np.array([a.rate for a in campaign.arms])
    order = [(a.creative, a.audience) for a in campaign.arms]

    def true_conversions(rec: optimizer.Recommendation) -> float:
        by_arm = rec.allocations.set_index(["creative", "audience"])["budget"]
        spend = np.array([by_arm[arm] for arm in order])
        return float(expected_conversions(truth, np.full(12, 40.0), spend).sum())

    assert true_conversions(curved) > 1.2 * true_conversions(linear)
    reason = curved.allocations.sort_values("budget").iloc[-1]["reason"]
    assert "returns diminish past about" in reason
    again = optimizer.recommend(stats, 600, delay="none", seed=4)
    pd.testing.assert_frame_equal(curved.allocations, again.allocations)


def test_pooled_gate_ignores_chance_saturation_in_big_linear_campaigns() -> None:
    rng = np.random.default_rng(8)
    n_arms, n_days = 400, 30
    rate = rng.gamma(8, 0.03 / 8, n_arms)
    spend = rng.uniform(5, 50, (n_days, n_arms))
    rows = pd.DataFrame(
        {
            "creative": np.tile([f"c{i}" for i in range(n_arms)], n_days),
            "audience": "a",
            "spend": spend.ravel(),
            "conversions": rng.poisson(spend * rate).ravel(),
        }
    )
    arms = pd.DataFrame({"creative": [f"c{i}" for i in range(n_arms)], "audience": "a"})
    curves = fit_response(rows, arms, np.full(n_arms, 2.0), np.full(n_arms, 2.0 / 0.03))
    assert (curves.p_saturating > 0.5).sum() > 20  # a per-arm gate would fire by chance
    assert curves.p_campaign_saturating < 1e-6  # the pooled evidence says linear
