"""Play policies day by day against simulated campaigns and measure regret.

A policy sees what a specialist would see each morning -- the stats as the platform
reports them (late conversions not yet in) -- and returns the day's spend per arm.
The runner records per day the spend, the conversions and revenue (drawn and
expected), CPA, ROAS and the regret: the true expected conversions of the oracle's
split (all truth known: rates, saturation, fatigue) minus those of the policy's.

Seeds run in separate processes (``workers``), each with its own child of one
``numpy.random.SeedSequence``, so results do not depend on scheduling.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm import tqdm

import optimizer
from optimizer.response import optimal_split

from .simulate import SimulatedCampaign, make_campaign

__all__ = [
    "POLICIES",
    "SCENARIOS",
    "AdbanditPolicy",
    "BasePolicy",
    "EpsilonGreedyPolicy",
    "FixedSplitPolicy",
    "UniformPolicy",
    "make_policy",
    "run_many",
    "run_policy",
    "summarize",
]

#: Named scenarios: keyword arguments of :func:`experiments.make_campaign`.
SCENARIOS: dict[str, dict[str, Any]] = {
    "no_delay": {},
    "delay": {"delay_mean_days": 3.0},
    "saturation": {"saturation": 60.0},
    "fatigue": {"fatigue_per_day": 0.03},
    "churn": {"churn": True},
}


class BasePolicy(Protocol):
    """Anything that turns the stats seen so far into a day's spend per arm."""

    name: str

    def allocate(
        self,
        stats: pd.DataFrame,
        budget: float,
        arms: list[tuple[str, str]],
        as_of: dt.date,
        rng: np.random.Generator,
    ) -> np.ndarray: ...


def _observed_rates(stats: pd.DataFrame, arms: list[tuple[str, str]]) -> np.ndarray:
    if stats.empty:
        return np.zeros(len(arms))
    totals = stats.groupby(["creative", "audience"])[["conversions", "spend"]].sum()
    totals = totals.reindex(pd.MultiIndex.from_tuples(arms)).fillna(0.0)
    return (
        (totals["conversions"] / totals["spend"].where(totals["spend"] > 0)).fillna(0.0).to_numpy()
    )


@dataclass
class UniformPolicy:
    """The same share for every arm, every day."""

    name: str = "uniform"

    def allocate(self, stats, budget, arms, as_of, rng):  # type: ignore[no-untyped-def]
        return np.full(len(arms), budget / len(arms))


@dataclass
class EpsilonGreedyPolicy:
    """``1 - epsilon`` of the budget on the best observed conversions per spend, the rest
    spread evenly (ties broken at random)."""

    epsilon: float = 0.1
    name: str = "epsilon_greedy"

    def allocate(self, stats, budget, arms, as_of, rng):  # type: ignore[no-untyped-def]
        rate = _observed_rates(stats, arms)
        best = rng.choice(np.flatnonzero(rate == rate.max()))
        spend = np.full(len(arms), self.epsilon * budget / len(arms))
        spend[best] += (1 - self.epsilon) * budget
        return spend


@dataclass
class FixedSplitPolicy:
    """A classic A/B test: an even split for ``test_days``, then everything on the
    arm with the best observed conversions per spend."""

    test_days: int = 14
    name: str = "ab_split"

    def allocate(self, stats, budget, arms, as_of, rng):  # type: ignore[no-untyped-def]
        if stats.empty or stats["date"].nunique() < self.test_days:
            return np.full(len(arms), budget / len(arms))
        spend = np.zeros(len(arms))
        spend[int(np.argmax(_observed_rates(stats, arms)))] = budget
        return spend


@dataclass
class AdbanditPolicy:
    """:func:`optimizer.recommend` with any config; the current split feeds the change cap."""

    config: optimizer.ThompsonConfig = field(default_factory=optimizer.ThompsonConfig)
    delay: Any = "auto"
    name: str = "adbandit"
    _last: dict[tuple[str, str], float] | None = None

    def allocate(self, stats, budget, arms, as_of, rng):  # type: ignore[no-untyped-def]
        if stats.empty or stats["spend"].sum() <= 0:
            return np.full(len(arms), budget / len(arms))
        # The current split names today's arms (new ones start at 0, retired ones are
        # gone) and carries yesterday's spend for the change cap.
        last = self._last or {}
        current = pd.DataFrame(
            {
                "creative": [a for a, _ in arms],
                "audience": [b for _, b in arms],
                "budget": [last.get(arm, 0.0) for arm in arms],
            }
        )
        rec = optimizer.recommend(
            stats,
            budget,
            current=current,
            config=self.config,
            delay=self.delay,
            as_of=as_of,
            seed=int(rng.integers(2**31)),
        )
        by_arm = rec.allocations.set_index(["creative", "audience"])["budget"]
        spend = by_arm.reindex(pd.MultiIndex.from_tuples(arms)).fillna(0.0).to_numpy()
        self._last = dict(zip(arms, spend, strict=True))
        return spend


POLICIES: dict[str, Callable[[], BasePolicy]] = {
    "adbandit": AdbanditPolicy,
    "uniform": UniformPolicy,
    "epsilon_greedy": EpsilonGreedyPolicy,
    "ab_split": FixedSplitPolicy,
}


def make_policy(name: str, config: Mapping[str, Any] | None = None) -> BasePolicy:
    """A policy by name; ``config`` holds ThompsonConfig settings for "adbandit"."""
    if name not in POLICIES:
        raise optimizer.ConfigError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}")
    if name == "adbandit":
        return AdbanditPolicy(optimizer.ThompsonConfig.from_dict(dict(config or {})))
    return POLICIES[name]()


def _oracle_spend(campaign: SimulatedCampaign, budget: float) -> np.ndarray:
    day = campaign.n_days
    r = np.array([a.rate * np.exp(-a.fatigue_per_day * day) for a in campaign.arms])
    r = np.where(campaign.active(), r, 0.0)
    k = np.array([a.saturation or np.inf for a in campaign.arms])
    return optimal_split(r[None, :], k[None, :], budget)[0]


def run_policy(
    policy: BasePolicy,
    scenario: Mapping[str, Any] | str = "no_delay",
    *,
    seed: int | np.random.SeedSequence = 0,
    n_days: int = 30,
    budget: float = 600.0,
) -> pd.DataFrame:
    """Play ``policy`` for ``n_days`` on a fresh campaign; one row per day.

    Columns: ``day, spend, conversions, expected_conversions, revenue, cpa, roas,
    oracle_conversions, regret, cumulative_regret``.
    """
    kwargs = SCENARIOS[scenario] if isinstance(scenario, str) else dict(scenario)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # Derive the two streams from the spawn key, not seq.spawn(): spawn() is stateful,
    # and a second policy given the same child must face the very same campaign.
    world_seq, policy_seq = (
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, i), pool_size=seq.pool_size)
        for i in range(2)
    )
    campaign = make_campaign(seed=np.random.default_rng(world_seq), **kwargs)
    rng = np.random.default_rng(policy_seq)
    arms = [(a.creative, a.audience) for a in campaign.arms]
    values = np.array([a.value for a in campaign.arms])
    rows = []
    for day in range(n_days):
        stats = campaign.stats()
        running = campaign.active()
        today = [arm for arm, on in zip(arms, running, strict=True) if on]
        part = np.asarray(policy.allocate(stats, budget, today, campaign.today, rng), float)
        if part.shape != (len(today),) or np.any(part < -1e-9) or abs(part.sum() - budget) > 0.02:
            raise RuntimeError(f"policy {policy.name} returned an invalid split on day {day}")
        spend = np.zeros(len(arms))
        spend[running] = np.maximum(part, 0.0)
        expected = campaign.expected_conversions(spend)
        oracle = campaign.expected_conversions(_oracle_spend(campaign, budget))
        campaign.play(spend)
        rows.append(
            {
                "day": day,
                "spend": float(spend.sum()),
                "expected_conversions": float(expected.sum()),
                "expected_revenue": float((expected * values).sum()),
                "oracle_conversions": float(oracle.sum()),
                "regret": float(oracle.sum() - expected.sum()),
            }
        )
    daily = pd.DataFrame(rows)
    # Realised conversions and revenue per day of spend, once all have arrived.
    final = campaign.stats(as_of_day=n_days + 365)
    realised = final.groupby("date")[["conversions", "revenue"]].sum().reset_index(drop=True)
    daily["conversions"] = realised["conversions"].to_numpy(float)
    daily["revenue"] = realised["revenue"].to_numpy(float)
    daily["cpa"] = daily["spend"] / daily["conversions"].where(daily["conversions"] > 0)
    daily["roas"] = daily["revenue"] / daily["spend"]
    daily["cumulative_regret"] = daily["regret"].cumsum()
    return daily


def _job(
    args: tuple[
        str, Mapping[str, Any] | None, Mapping[str, Any] | str, np.random.SeedSequence, int, float
    ],
) -> pd.DataFrame:
    name, config, scenario, seq, n_days, budget = args
    return run_policy(make_policy(name, config), scenario, seed=seq, n_days=n_days, budget=budget)


def run_many(
    policies: Sequence[str],
    scenario: Mapping[str, Any] | str = "no_delay",
    *,
    n_seeds: int = 10,
    seed: int = 0,
    n_days: int = 30,
    budget: float = 600.0,
    workers: int = 1,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = True,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Run every policy on ``n_seeds`` campaigns; the same campaigns for every policy.

    ``workers > 1`` fans the runs out to a Dask LocalCluster of that many processes;
    ``scheduler`` (``tcp://host:8786``) to a Dask cluster. Every run has its own seed
    stream (``SeedSequence.spawn``), so where it runs never changes the answer.

    Returns the daily rows of every run with ``policy`` and ``seed`` columns.
    """
    children = np.random.SeedSequence(seed).spawn(n_seeds)
    jobs = [
        (name, (configs or {}).get(name), scenario, children[i], n_days, budget)
        for name in policies
        for i in range(n_seeds)
    ]
    for name in policies:
        make_policy(name, (configs or {}).get(name))  # unknown names fail before any work
    results: dict[int, pd.DataFrame] = {}
    bar = tqdm(total=len(jobs), desc="simulating", unit="run", disable=not progress)
    if workers <= 1 and scheduler is None:
        for j, job in enumerate(jobs):
            results[j] = _job(job)
            bar.update()
    else:
        from .cluster import run_tasks

        for j, result in run_tasks(_job, jobs, scheduler=scheduler, workers=workers):
            results[j] = result
            bar.update()
    bar.close()
    frames = []
    for j, (name, _, _, _, _, _) in enumerate(jobs):
        frames.append(results[j].assign(policy=name, seed=j % n_seeds))
    return pd.concat(frames, ignore_index=True)


def summarize(daily: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Per policy: totals per run averaged over seeds, with 95% intervals of the mean.

    Columns: ``policy, runs, conversions, conversions_ci, regret, regret_low,
    regret_high, cpa, roas`` (CPA and ROAS as ratios of sums) and, with a
    ``baseline``, ``regret_vs_baseline`` (relative, paired by seed).
    """
    per_run = daily.groupby(["policy", "seed"]).agg(
        spend=("spend", "sum"),
        conversions=("conversions", "sum"),
        revenue=("revenue", "sum"),
        regret=("regret", "sum"),
    )
    rows = []
    for name, part in per_run.groupby(level="policy", sort=False):
        n = len(part)
        half = 1.96 * part["regret"].std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        rows.append(
            {
                "policy": name,
                "runs": n,
                "conversions": part["conversions"].mean(),
                "regret": part["regret"].mean(),
                "regret_low": part["regret"].mean() - half,
                "regret_high": part["regret"].mean() + half,
                "cpa": part["spend"].sum() / part["conversions"].sum(),
                "roas": part["revenue"].sum() / part["spend"].sum(),
            }
        )
    out = pd.DataFrame(rows)
    if baseline is not None and baseline in set(out["policy"]):
        base = per_run.xs(baseline, level="policy")["regret"]
        out["regret_vs_baseline"] = [
            per_run.xs(p, level="policy")["regret"].mean() / base.mean() - 1 for p in out["policy"]
        ]
    return out
