"""Time and peak memory of optimizer.recommend() for 10 .. 10,000 arms x 60 days.

Usage:  python benchmarks/recommend_speed.py [--arms 10 100 1000 10000] [--repeat 5]

For each size: median wall time of recommend() on a pandas DataFrame (validation,
aggregation, prior fit, P(best), allocation, reasons), peak traced memory
(tracemalloc, in a separate run), P(best)'s max error against a 10^6-draw Monte-Carlo
reference (skipped above --reference-max-arms), and the same for a textbook
Thompson sampler (flat Gamma(1, 0) prior per arm, 1,000 Monte-Carlo draws).
Prints a table and writes benchmarks/results/recommend_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

import optimizer

RESULTS = Path(__file__).parent / "results"
GRID = {10: (5, 2), 100: (10, 10), 1_000: (40, 25), 10_000: (100, 100)}


def make_stats(n_arms: int, n_days: int = 60, seed: int = 0) -> pd.DataFrame:
    n_c, n_a = GRID.get(n_arms, (n_arms, 1))
    rng = np.random.default_rng(seed)
    c_eff, a_eff = rng.lognormal(0, 0.3, n_c), rng.lognormal(0, 0.3, n_a)
    rate = 0.03 * np.outer(c_eff, a_eff).ravel() * rng.gamma(8, 1 / 8, n_c * n_a)
    creatives = np.repeat([f"creative_{i:03d}" for i in range(n_c)], n_a)
    audiences = np.tile([f"audience_{j:03d}" for j in range(n_a)], n_c)
    days = pd.date_range("2026-01-01", periods=n_days, freq="D")
    spend = np.round(rng.uniform(5, 50, (n_days, n_c * n_a)), 2)
    conversions = rng.poisson(spend * rate)
    impressions = rng.poisson(spend * 120)
    return pd.DataFrame(
        {
            "campaign": "bench",
            "date": np.repeat(days.strftime("%Y-%m-%d").to_numpy(), n_c * n_a),
            "creative": np.tile(creatives, n_days),
            "audience": np.tile(audiences, n_days),
            "impressions": impressions.ravel(),
            "clicks": rng.binomial(impressions, 0.015).ravel(),
            "spend": spend.ravel(),
            "conversions": conversions.ravel(),
            "revenue": 0.0,
        }
    )


def textbook(stats: pd.DataFrame, budget: float, seed: int) -> np.ndarray:
    """Per-arm flat Gamma(1, 0) posterior, P(best) from 1,000 draws: budget = P(best)."""
    totals = stats.groupby(["creative", "audience"], sort=True)[["conversions", "spend"]].sum()
    alpha = 1.0 + totals["conversions"].to_numpy(float)
    beta = totals["spend"].to_numpy(float)
    return optimizer.p_best_monte_carlo(alpha, beta, n_draws=1_000, seed=seed).p_best * budget


def median_time(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def peak_mib(fn) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", type=int, nargs="+", default=[10, 100, 1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference-max-arms", type=int, default=1_000)
    args = parser.parse_args()

    rows = []
    for n in args.arms:
        stats = make_stats(n)
        budget = 10.0 * n
        t_rec = median_time(
            lambda s=stats, b=budget: optimizer.recommend(s, b, seed=1), args.repeat
        )
        mem = peak_mib(lambda s=stats, b=budget: optimizer.recommend(s, b, seed=1))
        # The service's case: stats fitted once (fit_evidence), then budget after budget;
        # recommend() keeps the budget-free fits on the evidence after the first call.
        evidence = optimizer.fit_evidence(stats)
        t_again = median_time(
            lambda e=evidence, b=budget: optimizer.recommend(e, b * 1.1, seed=1), args.repeat
        )
        t_text = median_time(lambda s=stats, b=budget: textbook(s, b, 1), args.repeat)
        rec = optimizer.recommend(stats, budget, seed=1)
        err_ours = err_text = float("nan")
        if n <= args.reference_max_arms:
            totals = optimizer.aggregate_arms(optimizer.load_stats(stats))
            post = optimizer.GammaPoissonModel().fit(totals).posterior(totals)
            ref = optimizer.p_best_monte_carlo(post.alpha, post.beta, n_draws=1_000_000, seed=99)
            err_ours = float(np.max(np.abs(rec.allocations["p_best"].to_numpy() - ref.p_best)))
            tb = optimizer.p_best_monte_carlo(post.alpha, post.beta, n_draws=1_000, seed=1)
            err_text = float(np.max(np.abs(tb.p_best - ref.p_best)))
        rows.append(
            {
                "arms": n,
                "rows": len(stats),
                "recommend_ms": round(t_rec * 1000, 1),
                "another_budget_ms": round(t_again * 1000, 1),
                "peak_mib": round(mem, 1),
                "p_best_method": rec.p_best_method,
                "p_best_reported_error": rec.p_best_error,
                "p_best_max_abs_error_vs_1e6_draws": err_ours,
                "textbook_ms": round(t_text * 1000, 1),
                "textbook_p_best_max_abs_error": err_text,
            }
        )
        r = rows[-1]
        print(
            f"{n:>6} arms: recommend {r['recommend_ms']:>8.1f} ms "
            f"(another budget {r['another_budget_ms']:.1f} ms), peak {r['peak_mib']:>7.1f} MiB, "
            f"P(best) err {err_ours:.1e} (reported {rec.p_best_error:.1e}); "
            f"textbook {r['textbook_ms']:.1f} ms, err {err_text:.1e}",
            flush=True,
        )

    header = (
        "| arms | rows | recommend() | another budget | peak memory | P(best) error vs 10^6 draws "
        "| textbook TS (1,000 draws) | textbook P(best) error |"
    )
    print()
    print(header)
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['arms']:,} | {r['rows']:,} | {r['recommend_ms']:,.1f} ms "
            f"| {r['another_budget_ms']:,.1f} ms | {r['peak_mib']:,.1f} MiB "
            f"| {_e(r['p_best_max_abs_error_vs_1e6_draws'])} | {r['textbook_ms']:,.1f} ms "
            f"| {_e(r['textbook_p_best_max_abs_error'])} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "recommend_speed.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "recommend_speed",
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "numpy": np.__version__,
                "pandas": pd.__version__,
                "results": rows,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")


def _e(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{x:.1e}"


if __name__ == "__main__":
    main()
