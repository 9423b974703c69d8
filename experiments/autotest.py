"""Unattended A/B and bandit tests: run, re-allocate on a cadence, stop on the rule, report.

Config (YAML or a dict)::

    mode: bandit            # bandit: adbandit's split | fixed: an even split (classic A/B)
    scenario: delay         # a simulated campaign (experiments.runner.SCENARIOS or settings)
    # stats: history.csv    # ...or replay a stats file that grows day by day
    days: 30                # at most
    budget: 600             # per day (simulated campaigns)
    cadence_days: 1         # re-allocate every N days
    seed: 0
    stop:                   # experiments.stopping_rule
      min_chance_to_be_best: 0.95
      max_expected_loss_rel: 0.005
      min_conversions: 50   # the leader's (bandit) or every arm's (fixed)
    config: {}              # ThompsonConfig settings for the bandit

Every day the arms are read out as variants on conversions per spend (the first arm
is the control); the test stops as soon as the rule says so. The report folder gets
``report.md``, ``daily.csv`` and PNG plots of the allocation over time, P(best) over
time, cumulative conversions and the final posterior intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import optimizer

from .abtest import analyze_ab, stopping_rule
from .runner import SCENARIOS
from .simulate import make_campaign

__all__ = ["AutoTestResult", "run_autotest"]

_KEYS = {"mode", "scenario", "stats", "days", "budget", "cadence_days", "seed", "stop", "config"}


@dataclass(frozen=True)
class AutoTestResult:
    """What happened: the daily log, the last readout, the verdict and the report."""

    daily: pd.DataFrame  # day, arm, share, p_best, rate_mean, rate_low, rate_high, cum_conversions
    readout: pd.DataFrame
    stopped: bool
    winner: str | None
    reason: str
    days_run: int
    report: Path


def _check(settings: dict[str, Any]) -> None:
    unknown = set(settings) - _KEYS
    if unknown:
        raise optimizer.ConfigError(f"unknown test settings: {', '.join(sorted(unknown))}")
    if settings.get("mode", "bandit") not in ("bandit", "fixed"):
        raise optimizer.ConfigError(f"mode ({settings['mode']!r}) must be 'bandit' or 'fixed'")
    if "stats" in settings and "scenario" in settings:
        raise optimizer.ConfigError(
            "give either 'scenario' (simulate) or 'stats' (replay), not both"
        )
    scenario = settings.get("scenario", "no_delay")
    if isinstance(scenario, str) and scenario not in SCENARIOS and "stats" not in settings:
        raise optimizer.ConfigError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    for key in ("days", "cadence_days"):
        if key in settings and (not isinstance(settings[key], int) or settings[key] < 1):
            raise optimizer.ConfigError(f"{key} ({settings[key]!r}) must be a whole number >= 1")


def run_autotest(settings: dict[str, Any], out: str | Path) -> AutoTestResult:
    """Run the test the settings describe; see the module docstring."""
    _check(settings)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mode = settings.get("mode", "bandit")
    days = int(settings.get("days", 30))
    budget = float(settings.get("budget", 600.0))
    cadence = int(settings.get("cadence_days", 1))
    seed = int(settings.get("seed", 0))
    stop = dict(settings.get("stop") or {})
    min_conversions = int(stop.pop("min_conversions", 50))
    config = optimizer.ThompsonConfig.from_dict(dict(settings.get("config") or {}))
    replay = None
    if "stats" in settings:
        replay = optimizer.load_stats(settings["stats"])
        if replay["campaign"].nunique() > 1:
            raise optimizer.ConfigError("the replayed stats hold several campaigns: keep one")
        dates = sorted(replay["date"].unique())
        days = min(days, len(dates))
        arms = sorted(set(zip(replay["creative"], replay["audience"], strict=True)))
        campaign = None
    else:
        scenario = settings.get("scenario", "no_delay")
        kwargs = SCENARIOS[scenario] if isinstance(scenario, str) else dict(scenario)
        campaign = make_campaign(seed=seed, **kwargs)
        arms = [(a.creative, a.audience) for a in campaign.arms]
    names = [f"{c} x {a}" for c, a in arms]
    spend = np.full(len(arms), budget / len(arms))
    rows, readout = [], pd.DataFrame()
    decision = None
    day = 0
    for day in range(1, days + 1):
        if campaign is not None:
            running = campaign.active()  # arms launched or retired mid-flight
            spend = np.where(running, spend, 0.0)
            spend = (
                spend * budget / spend.sum()
                if spend.sum() > 0
                else running * budget / running.sum()
            )
            campaign.play(spend)
            stats = optimizer.load_stats(campaign.stats())
            as_of = campaign.today
        else:
            assert replay is not None
            stats = replay[replay["date"] <= dates[day - 1]]
            as_of = (pd.Timestamp(dates[day - 1]) + pd.Timedelta(days=1)).date()
        totals = stats.groupby(["creative", "audience"])[["conversions", "spend"]].sum()
        totals = totals.reindex(pd.MultiIndex.from_tuples(arms)).fillna(0.0)
        counts = pd.DataFrame(
            {
                "variant": names,
                "conversions": totals["conversions"].to_numpy(),
                "spend": np.maximum(totals["spend"].to_numpy(), 1e-9),
            }
        )
        readout = analyze_ab(counts, control=names[0], metric="conversions_per_spend")
        shares = spend / spend.sum()
        for i, name in enumerate(names):
            rows.append(
                {
                    "day": day,
                    "arm": name,
                    "share": shares[i],
                    "p_best": readout["chance_to_be_best"].iloc[i],
                    "rate_mean": readout["rate"].iloc[i],
                    "rate_low": readout["rate_low"].iloc[i],
                    "rate_high": readout["rate_high"].iloc[i],
                    "cum_conversions": counts["conversions"].iloc[i],
                }
            )
        decision = stopping_rule(
            readout,
            min_conversions=min_conversions,
            sample_for="leader" if mode == "bandit" else "all",
            **stop,
        )
        if decision.stop:
            break
        if mode == "bandit" and day % cadence == 0:
            rec = optimizer.recommend(stats, budget, config=config, as_of=as_of, seed=seed + day)
            by_arm = rec.allocations.set_index(["creative", "audience"])["budget"]
            spend = by_arm.reindex(pd.MultiIndex.from_tuples(arms)).fillna(0.0).to_numpy()
    assert decision is not None
    daily = pd.DataFrame(rows)
    report = _report(out, settings, daily, readout, decision, day, mode)
    return AutoTestResult(
        daily, readout, decision.stop, decision.winner, decision.reason, day, report
    )


def _report(
    out: Path,
    settings: dict[str, Any],
    daily: pd.DataFrame,
    readout: pd.DataFrame,
    decision: Any,
    days_run: int,
    mode: str,
) -> Path:
    from .plots import autotest_plots

    daily.to_csv(out / "daily.csv", index=False)
    readout.to_csv(out / "readout.csv", index=False)
    images = autotest_plots(daily, out)
    if "stats" in settings:
        source = f"replay of {settings['stats']}"
    else:
        source = f"simulated campaign ({settings.get('scenario', 'no_delay')})"
    lines = [
        f"# {'Bandit' if mode == 'bandit' else 'Fixed-split A/B'} test report",
        "",
        f"- Source: {source}",
        f"- Days run: {days_run} of {settings.get('days', 30)}",
        f"- Verdict: {decision.reason}",
        "",
        "## Final readout (conversions per spend)",
        "",
        "| arm | conversions | spend | rate (95% CI) | P(best) | P(beat control) | expected loss |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in readout.itertuples():
        beat = "-" if pd.isna(row.chance_to_beat_control) else f"{row.chance_to_beat_control:.1%}"
        lines.append(
            f"| {row.variant} | {row.conversions:,.0f} | {row.spend:,.2f} | {row.rate:.4f} "
            f"({row.rate_low:.4f} .. {row.rate_high:.4f}) | {row.chance_to_be_best:.1%} | {beat} "
            f"| {row.expected_loss_rel:.2%} |"
        )
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in images]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
