"""Aggregating raw click/conversion logs with pandas, DuckDB and Dask on this machine.

Usage:  python benchmarks/log_aggregation.py [--sizes 1e6 1e7 5e7] [--engines pandas duckdb dask]
                                            [--dask-memory 1GB] [--keep]

For each size, writes synthetic logs (Parquet, partitioned by day; ~5% of clicks convert,
lags up to weeks, 50% of clicks in one campaign) to a temporary folder, then runs
``adbandit aggregate`` once per engine, each in a fresh process, measuring wall time and
the peak resident memory of that process and all its children (Dask's workers
included, sampled every 50 ms). Dask runs on a LocalCluster of 2 workers capped at
``--dask-memory`` each. The generated data is deleted after each size unless --keep.
Prints a table and writes benchmarks/results/log_aggregation.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from experiments.logs import write_synthetic_logs

RESULTS = Path(__file__).parent / "results"


def run_engine(engine: str, folder: Path, dask_memory: str) -> dict[str, float]:
    code = (
        "import sys; from experiments.logs import aggregate_logs; "
        "r = aggregate_logs(sys.argv[1], sys.argv[2], engine=sys.argv[3], workers=2); "
        "print(len(r.stats), int(r.stats['clicks'].sum()))"
    )
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__MEMORY__TARGET": "0.6"}
    if engine == "dask":
        env["ADBANDIT_DASK_MEMORY"] = dask_memory
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(folder / "clicks"), str(folder / "conversions"), engine],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        last = [ln for ln in err.strip().splitlines() if ln.strip()][-1:] or ["?"]
        return {"wall_s": wall, "peak_mb": peak / 2**20, "arm_days": 0, "clicks": -1,
                "error": last[0][:300]}  # fmt: skip
    groups, clicks = (int(x) for x in out.split())
    return {"wall_s": wall, "peak_mb": peak / 2**20, "arm_days": groups, "clicks": clicks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7, 5e7])
    parser.add_argument("--engines", nargs="+", default=["pandas", "duckdb", "dask"])
    parser.add_argument("--dask-memory", default="1GB", help="memory limit per Dask worker")
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        n = int(size)
        folder = Path(tempfile.mkdtemp(prefix=f"adbandit-logs-{n}-"))
        try:
            t0 = time.perf_counter()
            n_clicks, n_conv = write_synthetic_logs(folder, n, n_days=30, n_arms=48, seed=1)
            gen = time.perf_counter() - t0
            size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
            print(f"{n:,} clicks, {n_conv:,} conversions: {size_mb:,.0f} MB Parquet in {gen:.0f} s")
            for engine in args.engines:
                r = run_engine(engine, folder, args.dask_memory)
                if "error" in r:
                    print(f"  {engine:<7} FAILED after {r['wall_s']:.0f} s: {r['error']}")
                    rows.append({"clicks": n_clicks, "engine": engine, **r})
                    _write(rows, args)
                    continue
                assert r["clicks"] == n_clicks
                row = {
                    "clicks": n_clicks,
                    "conversions": n_conv,
                    "parquet_mb": size_mb,
                    "engine": engine,
                    **r,
                    "rows_per_s": n_clicks / r["wall_s"],
                }
                rows.append(row)
                print(
                    f"  {engine:<7} {r['wall_s']:7.1f} s  peak {r['peak_mb']:8.0f} MB  "
                    f"{row['rows_per_s'] / 1e6:6.2f} M clicks/s",
                    flush=True,
                )
                _write(rows, args)
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    print("\n" + (RESULTS / "log_aggregation.md").read_text())


def _write(rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    """Results so far (a later failure still leaves the earlier rows)."""
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "dask_workers": 2,
        "dask_memory_per_worker": args.dask_memory,
    }
    (RESULTS / "log_aggregation.json").write_text(json.dumps({**meta, "results": rows}, indent=2))
    lines = [
        "| clicks | engine | wall s | peak memory MB | M clicks/s |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['clicks']:,} | {r['engine']} | failed: {r['error']} | | |")
            continue
        lines.append(
            f"| {r['clicks']:,} | {r['engine']} | {r['wall_s']:.1f} | {r['peak_mb']:,.0f} | "
            f"{r['rows_per_s'] / 1e6:.2f} |"
        )
    (RESULTS / "log_aggregation.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
