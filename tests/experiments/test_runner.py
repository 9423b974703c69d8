"""Policy runner: regret bookkeeping, reproducibility, parallel == serial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer
from experiments.runner import (
    AdbanditPolicy,
    FixedSplitPolicy,
    UniformPolicy,
    make_policy,
    run_many,
    run_policy,
    summarize,
)


def test_daily_rows_and_regret_bookkeeping() -> None:
    daily = run_policy(UniformPolicy(), "no_delay", seed=1, n_days=6)
    assert list(daily["day"]) == list(range(6))
    np.testing.assert_allclose(daily["spend"], 600.0)
    np.testing.assert_allclose(
        daily["regret"], daily["oracle_conversions"] - daily["expected_conversions"]
    )
    assert (daily["regret"] >= -1e-9).all()
    np.testing.assert_allclose(daily["cumulative_regret"], daily["regret"].cumsum())
    np.testing.assert_allclose(daily["cpa"], daily["spend"] / daily["conversions"])


def test_oracle_policy_has_no_regret() -> None:
    class Oracle:
        name = "oracle"

        def allocate(self, stats, budget, arms, as_of, rng):  # type: ignore[no-untyped-def]
            return self.spend

    from experiments.simulate import make_campaign

    truth = make_campaign(seed=np.random.default_rng(np.random.SeedSequence(4).spawn(2)[0]))
    rates = np.array([a.rate for a in truth.arms])
    oracle = Oracle()
    oracle.spend = np.where(rates == rates.max(), 600.0, 0.0)  # type: ignore[attr-defined]
    daily = run_policy(oracle, "no_delay", seed=4, n_days=3)  # type: ignore[arg-type]
    np.testing.assert_allclose(daily["regret"], 0.0, atol=1e-9)


def test_same_seed_same_result_and_parallel_equals_serial() -> None:
    a = run_many(["uniform", "ab_split"], "delay", n_seeds=3, n_days=5, progress=False)
    b = run_many(["uniform", "ab_split"], "delay", n_seeds=3, n_days=5, progress=False, workers=2)
    pd.testing.assert_frame_equal(a, b)


def test_ab_split_ships_the_observed_winner() -> None:
    policy = FixedSplitPolicy(test_days=3)
    daily = run_policy(policy, "no_delay", seed=2, n_days=6)
    assert daily["regret"].iloc[3:].std() < 1e-9  # one arm from day 3 on: constant regret


def test_adbandit_learns() -> None:
    bandit = run_policy(AdbanditPolicy(), "no_delay", seed=5, n_days=20)
    even = run_policy(UniformPolicy(), "no_delay", seed=5, n_days=20)
    assert bandit["regret"].iloc[-5:].mean() < 0.5 * even["regret"].iloc[-5:].mean()


def test_summary_and_errors() -> None:
    daily = run_many(["uniform", "epsilon_greedy"], "no_delay", n_seeds=2, n_days=4, progress=False)
    table = summarize(daily, baseline="uniform").set_index("policy")
    assert table.loc["uniform", "regret_vs_baseline"] == 0.0
    assert table.loc["uniform", "runs"] == 2
    with pytest.raises(optimizer.ConfigError, match="unknown policy 'greedy'"):
        make_policy("greedy")
    with pytest.raises(optimizer.ConfigError, match="unknown setting"):
        make_policy("adbandit", {"flor": 0.1})


def test_arms_launched_and_retired_mid_flight() -> None:
    from experiments.simulate import make_campaign

    campaign = make_campaign(churn=True, seed=1)
    assert campaign.active().sum() == 12  # c_new not launched yet
    with pytest.raises(ValueError, match="not running today"):
        campaign.play(np.full(15, 40.0))
    daily = run_policy(AdbanditPolicy(), "churn", seed=1, n_days=25)
    assert np.isfinite(daily["regret"]).all() and len(daily) == 25
    sim = make_campaign(churn=True, seed=2)
    for _ in range(22):
        spend = np.where(sim.active(), 600.0 / sim.active().sum(), 0.0)
        sim.play(spend)
    report = sim.stats()
    by_day = report.groupby("date")["creative"].agg(lambda c: set(c))
    assert "c_new" not in by_day.iloc[9] and "c_new" in by_day.iloc[10]
    assert "c1" in by_day.iloc[19] and "c1" not in by_day.iloc[20]
