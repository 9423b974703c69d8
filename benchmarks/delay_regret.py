"""Regret of delay-aware vs naive allocation on simulated campaigns with late conversions.

Usage:  python benchmarks/delay_regret.py [--seeds 50] [--days 30] [--workers 2]

Each seed: a 4 x 3 grid (experiments.simulate.make_campaign), a daily budget of 600,
30 days. Every day the policy calls optimizer.recommend on the stats as the platform
reports them that morning (late conversions not yet in) and spends the split. Regret
is the true expected conversions an oracle would get (all budget on the truly best
arm) minus the true expected conversions of the split, summed over the days.
Policies: delay="auto" (detected in the stats) and delay="none" (naive), on campaigns
whose conversions lag by a mean of 0 (no delay), 3 and 7 days (--delays). Prints a table with 95%
intervals of the mean and the paired reduction; writes benchmarks/results/delay_regret.json.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import optimizer
from experiments.simulate import make_campaign

RESULTS = Path(__file__).parent / "results"
BUDGET = 600.0


def regret(args: tuple[float, str, int, int]) -> float:
    delay_mean, policy, seed, n_days = args
    campaign = make_campaign(delay_mean_days=delay_mean, seed=seed)
    rates = np.array([a.rate for a in campaign.arms])
    oracle = rates.max() * BUDGET
    total = 0.0
    spend = np.full(len(campaign.arms), BUDGET / len(campaign.arms))
    for _ in range(n_days):
        total += oracle - float(campaign.expected_conversions(spend).sum())
        campaign.play(spend)
        rec = optimizer.recommend(
            campaign.stats(), BUDGET, delay=policy, as_of=campaign.today, seed=seed
        )
        by_arm = dict(
            zip(
                zip(rec.allocations["creative"], rec.allocations["audience"], strict=True),
                rec.allocations["budget"],
                strict=True,
            )
        )
        spend = np.array([by_arm[(a.creative, a.audience)] for a in campaign.arms])
    return total


def mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    m = float(x.mean())
    h = 1.96 * float(x.std(ddof=1)) / np.sqrt(x.size)
    return m, m - h, m + h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.0, 3.0, 7.0])
    args = parser.parse_args()
    jobs = [
        (delay, policy, seed, args.days)
        for delay in args.delays
        for policy in ("auto", "none")
        for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        values = list(pool.map(regret, jobs, chunksize=4))
    table = {}
    for (delay, policy, seed, _), value in zip(jobs, values, strict=True):
        table.setdefault((delay, policy), np.zeros(args.seeds))[seed] = value
    rows = []
    print(f"| mean delay | policy | regret over {args.days} days (95% CI) | vs naive (95% CI) |")
    print("|---:|---|---:|---:|")
    for delay in args.delays:
        naive = table[(delay, "none")]
        for policy in ("none", "auto"):
            r = table[(delay, policy)]
            m, lo, hi = mean_ci(r)
            if policy == "auto":
                red = 1 - r / naive.mean()
                rm, rlo, rhi = mean_ci(red)
                versus = f"{rm:+.0%} ({rlo:+.0%} .. {rhi:+.0%})"
            else:
                rm = rlo = rhi = 0.0
                versus = "-"
            label = "delay-aware (auto)" if policy == "auto" else "naive (none)"
            print(f"| {delay:g} d | {label} | {m:,.0f} ({lo:,.0f} .. {hi:,.0f}) | {versus} |")
            rows.append(
                {
                    "delay_mean_days": delay,
                    "policy": policy,
                    "regret_mean": m,
                    "regret_ci95": [lo, hi],
                    "reduction_vs_naive": rm,
                    "reduction_ci95": [rlo, rhi],
                }
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_".join(f"{d:g}" for d in args.delays)
    out = RESULTS / f"delay_regret_{suffix}.json"
    out.write_text(json.dumps({"seeds": args.seeds, "days": args.days, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
