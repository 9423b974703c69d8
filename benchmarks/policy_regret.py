"""Regret of uniform, epsilon-greedy, a fixed A/B split and adbandit in four scenarios.

Usage:  python benchmarks/policy_regret.py [--seeds 50] [--days 30] [--workers 2]

Scenarios (experiments.runner.SCENARIOS): no_delay, delay (3-day mean lag),
saturation (diminishing returns past 60 a day per arm), fatigue (one creative loses
3% a day). Every policy plays the same campaigns (one SeedSequence per seed).
Prints one table with 95% intervals and writes benchmarks/results/policy_regret.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experiments.runner import SCENARIOS, run_many, summarize

RESULTS = Path(__file__).parent / "results"
POLICIES = ["uniform", "epsilon_greedy", "ab_split", "adbandit"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS)[:4])
    args = parser.parse_args()
    rows = []
    head = f"regret over {args.days} days (95% CI)"
    print(f"| scenario | policy | {head} | conversions | CPA | vs uniform |")
    print("|---|---|---:|---:|---:|---:|")
    for scenario in args.scenarios:
        daily = run_many(
            POLICIES, scenario, n_seeds=args.seeds, n_days=args.days, workers=args.workers
        )
        table = summarize(daily, baseline="uniform")
        best = table.loc[table["regret"].idxmin(), "policy"]
        for row in table.itertuples():
            mark = " (lowest)" if row.policy == best else ""
            print(
                f"| {scenario} | {row.policy}{mark} | {row.regret:,.0f} "
                f"({row.regret_low:,.0f} .. {row.regret_high:,.0f}) | {row.conversions:,.0f} "
                f"| {row.cpa:.2f} | {row.regret_vs_baseline:+.0%} |",
                flush=True,
            )
            rows.append({"scenario": scenario, **row._asdict()})
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"policy_regret_{'_'.join(args.scenarios)}.json"
    out.write_text(
        json.dumps({"seeds": args.seeds, "days": args.days, "rows": rows}, indent=2, default=float)
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
