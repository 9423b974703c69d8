"""Regret with diminishing returns: response curves vs the linear model.

Usage:  python benchmarks/saturation_regret.py [--seeds 50] [--days 30] [--workers 2]

Each seed: a 4 x 3 grid (experiments.simulate.make_campaign), daily budget 600. In the
"saturating" scenario every arm's returns diminish with scale K = 60 a day
(conversions = r K (1 - exp(-spend / K))); in "linear" they do not. The oracle
water-fills the true curves (optimizer.response.optimal_split); regret is its true
expected conversions minus those of the policy's split, summed over the days.
Policies: optimizer.recommend with response="auto" (curves fitted from the spend
history) and response="linear". The first days' even split gives no spend variation,
so every policy starts linear and learns curves from the variation its own moves
create. Writes benchmarks/results/saturation_regret.json.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import optimizer
from experiments.simulate import make_campaign
from optimizer.response import optimal_split

RESULTS = Path(__file__).parent / "results"
BUDGET = 600.0
K = 60.0


def regret(args: tuple[str, str, int, int]) -> float:
    scenario, policy, seed, n_days = args
    campaign = make_campaign(saturation=K if scenario == "saturating" else None, seed=seed)
    r = np.array([a.rate for a in campaign.arms])
    k = np.array([a.saturation or np.inf for a in campaign.arms])
    best = optimal_split(r[None, :], k[None, :], BUDGET)[0]
    oracle = float(campaign.expected_conversions(best).sum())
    cfg = optimizer.ThompsonConfig(response=policy)  # type: ignore[arg-type]
    spend = np.full(len(campaign.arms), BUDGET / len(campaign.arms))
    total = 0.0
    for _ in range(n_days):
        total += oracle - float(campaign.expected_conversions(spend).sum())
        campaign.play(spend)
        rec = optimizer.recommend(
            campaign.stats(), BUDGET, config=cfg, delay="none", as_of=campaign.today, seed=seed
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
    args = parser.parse_args()
    jobs = [
        (scenario, policy, seed, args.days)
        for scenario in ("saturating", "linear")
        for policy in ("auto", "linear")
        for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        values = list(pool.map(regret, jobs, chunksize=4))
    table: dict[tuple[str, str], np.ndarray] = {}
    for (scenario, policy, seed, _), value in zip(jobs, values, strict=True):
        table.setdefault((scenario, policy), np.zeros(args.seeds))[seed] = value
    rows = []
    print(
        f"| returns | policy | regret over {args.days} days (95% CI) | vs linear model (95% CI) |"
    )
    print("|---|---|---:|---:|")
    for scenario in ("saturating", "linear"):
        base = table[(scenario, "linear")]
        for policy in ("linear", "auto"):
            x = table[(scenario, policy)]
            m, lo, hi = mean_ci(x)
            if policy == "auto":
                rm, rlo, rhi = mean_ci(1 - x / base.mean())
                versus = f"{rm:+.0%} ({rlo:+.0%} .. {rhi:+.0%})"
            else:
                rm = rlo = rhi = 0.0
                versus = "-"
            label = "response curves (auto)" if policy == "auto" else "linear model"
            print(f"| {scenario} | {label} | {m:,.0f} ({lo:,.0f} .. {hi:,.0f}) | {versus} |")
            rows.append(
                {
                    "scenario": scenario,
                    "policy": policy,
                    "regret_mean": m,
                    "regret_ci95": [lo, hi],
                    "reduction_vs_linear": rm,
                    "reduction_ci95": [rlo, rhi],
                }
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "saturation_regret.json"
    out.write_text(json.dumps({"seeds": args.seeds, "days": args.days, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
