"""Statistics tested as statistics: interval coverage and a gain over an even split.

Marked slow (tens of seconds); CI runs them too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer

CREATIVES = [f"c{i}" for i in range(4)]
AUDIENCES = [f"a{j}" for j in range(3)]


def true_rates(rng: np.random.Generator, shape: float = 8.0) -> dict[tuple[str, str], float]:
    """Main effects times Gamma noise per cell: the model's own assumptions."""
    c_eff = rng.lognormal(0.0, 0.3, len(CREATIVES))
    a_eff = rng.lognormal(0.0, 0.3, len(AUDIENCES))
    return {
        (c, a): 0.03 * c_eff[i] * a_eff[j] * rng.gamma(shape, 1 / shape)
        for i, c in enumerate(CREATIVES)
        for j, a in enumerate(AUDIENCES)
    }


def day_rows(
    rng: np.random.Generator, day: int, spend: dict[tuple[str, str], float], rates: dict
) -> list[dict]:
    date = (pd.Timestamp("2026-01-01") + pd.Timedelta(days=day)).date().isoformat()
    rows = []
    for (c, a), s in spend.items():
        rows.append(
            {
                "date": date,
                "creative": c,
                "audience": a,
                "impressions": int(s * 100),
                "clicks": int(s * 2),
                "spend": s,
                "conversions": int(rng.poisson(rates[(c, a)] * s)),
            }
        )
    return rows


@pytest.mark.slow
def test_90pct_intervals_cover_the_true_rate() -> None:
    rng = np.random.default_rng(2026)
    covered, total = 0, 0
    for _ in range(150):
        rates = true_rates(rng)
        spend = {arm: float(rng.choice([5.0, 20.0, 80.0])) for arm in rates}
        rows = [r for d in range(14) for r in day_rows(rng, d, spend, rates)]
        table = optimizer.recommend(pd.DataFrame(rows), 1000).allocations
        truth = np.array(
            [rates[(c, a)] for c, a in zip(table["creative"], table["audience"], strict=True)]
        )
        covered += int(((table["rate_low"] <= truth) & (truth <= table["rate_high"])).sum())
        total += len(table)
    coverage = covered / total
    print(f"coverage of 90% intervals: {coverage:.3f} over {total} arms")
    assert 0.85 <= coverage <= 0.95


def play(policy: str, seed: int, n_days: int = 30, budget: float = 600.0) -> float:
    rng = np.random.default_rng(seed)
    rates = true_rates(rng, shape=4.0)
    arms = list(rates)
    spend = {arm: budget / len(arms) for arm in arms}
    rows: list[dict] = []
    total = 0.0
    for day in range(n_days):
        new = day_rows(rng, day, spend, rates)
        total += sum(r["conversions"] for r in new)
        rows += new
        if policy == "thompson":
            rec = optimizer.recommend(pd.DataFrame(rows), budget, seed=seed)
            spend = {
                (c, a): b
                for c, a, b in zip(
                    rec.allocations["creative"],
                    rec.allocations["audience"],
                    rec.allocations["budget"],
                    strict=True,
                )
            }
    return total


@pytest.mark.slow
def test_thompson_beats_an_even_split() -> None:
    seeds = range(12)
    thompson = np.array([play("thompson", s) for s in seeds])
    uniform = np.array([play("uniform", s) for s in seeds])
    gain = thompson / uniform - 1
    print(f"conversions gain over an even split: mean {gain.mean():.1%}, min {gain.min():.1%}")
    assert gain.mean() > 0.05
    assert (gain > 0).mean() >= 0.75
