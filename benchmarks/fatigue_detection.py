"""How fast fatigue is found, and how often stationary creatives are flagged.

Usage:  python benchmarks/fatigue_detection.py [--seeds 100] [--days 30] [--alpha 0.01]

Each seed: a 4 x 3 grid (experiments.simulate.make_campaign) with 50 a day per arm;
creative c0 loses `--decay` of its rate a day, c1..c3 are stationary. From day 7 on,
optimizer.detect_fatigue runs every morning on the stats so far. Reported: the share
of seeds where c0 is flagged, the median day of first detection, the false-alarm rate
of the stationary creatives at a single check (day 30) and over all daily checks.
Writes benchmarks/results/fatigue_detection.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import optimizer
from experiments.simulate import make_campaign
from optimizer.drift import detect_fatigue

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--decay", type=float, default=0.03)
    args = parser.parse_args()
    first_day: list[float] = []
    ever_false = 0
    final_false = 0
    n_stationary = 0
    for seed in range(args.seeds):
        campaign = make_campaign(fatigue_per_day=args.decay, seed=seed)
        found = np.nan
        flagged_ever = {"c1": False, "c2": False, "c3": False}
        for day in range(1, args.days + 1):
            campaign.play(np.full(len(campaign.arms), 50.0))
            if day < 7:
                continue
            report = detect_fatigue(optimizer.load_stats(campaign.stats()), alpha=args.alpha)
            flags = dict(zip(report["creative"], report["fatigued"], strict=True))
            if flags.get("c0") and np.isnan(found):
                found = day
            for c in flagged_ever:
                flagged_ever[c] |= bool(flags.get(c))
            if day == args.days:
                final_false += sum(bool(flags.get(c)) for c in flagged_ever)
        first_day.append(found)
        ever_false += sum(flagged_ever.values())
        n_stationary += len(flagged_ever)
    days = np.array(first_day)
    result = {
        "seeds": args.seeds,
        "decay_per_day": args.decay,
        "alpha": args.alpha,
        "detected_share": float(np.mean(~np.isnan(days))),
        "median_day_of_detection": float(np.nanmedian(days)),
        "p90_day_of_detection": float(np.nanpercentile(days, 90)),
        "false_alarm_rate_single_check": final_false / n_stationary,
        "false_alarm_rate_any_daily_check": ever_false / n_stationary,
    }
    print(
        "| decay | detected by day 30 | median day found | 90% found by day "
        "| false alarms (one check) | false alarms (any of the daily checks) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.decay:.0%}/day | {result['detected_share']:.0%} | "
        f"{result['median_day_of_detection']:.0f} | {result['p90_day_of_detection']:.0f} | "
        f"{result['false_alarm_rate_single_check']:.1%} | "
        f"{result['false_alarm_rate_any_daily_check']:.1%} |"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "fatigue_detection.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
