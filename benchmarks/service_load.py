"""Load benchmark of the HTTP service: creating recommendations under concurrency while
another client ingests stats. Loopback only, bounded in time.

Usage:  python benchmarks/service_load.py [--duration 10] [--workers 2]
                                          [--clients 1 8 32] [--arms 12 200] [--tracking]

Starts ``adbandit serve`` (uvicorn, ``--workers`` processes, SQLite under a temporary
folder) on a free loopback port, loads campaigns of 12 and 200 arms x 90 days, then
for every (arms, clients) pair runs ``clients`` closed-loop clients that each POST
``/v1/campaigns/{id}/recommendations`` back to back for ``--duration`` seconds (the
first second is warm-up and not counted), each request with a different budget so
no answer is a repeat of another. Meanwhile one more client restates the campaign's
latest day (``POST .../stats``, one row per arm) twice a second, as a platform sync
would; each restatement makes the server re-read the stats.

The load generator is this process (asyncio + httpx), on the same 2 cores as the
server. Prints a table and writes benchmarks/results/service_load.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests/
from tests.server import free_port, wait_until_up

RESULTS = Path(__file__).parent / "results"
N_DAYS = 90
INGEST_EVERY = 0.5  # seconds between restatements


def campaign_rows(n_arms: int, seed: int, n_days: int = N_DAYS) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    n_creatives = max(2, int(np.sqrt(n_arms)))
    days = pd.date_range("2026-01-01", periods=n_days).strftime("%Y-%m-%d")
    rate = rng.gamma(5.0, 0.01, n_arms)
    spend = rng.uniform(5, 30, (n_days, n_arms)).round(2)
    conversions = rng.poisson(spend * rate)
    return [
        {
            "date": days[d],
            "creative": f"cr{a % n_creatives}",
            "audience": f"au{a // n_creatives}",
            "impressions": 5000,
            "clicks": 100,
            "spend": float(spend[d, a]),
            "conversions": int(conversions[d, a]),
        }
        for d in range(n_days)
        for a in range(n_arms)
    ]


def start_server(
    folder: Path, workers: int, tracking: bool
) -> tuple[subprocess.Popen[bytes], str, str]:
    from service.auth import create_key
    from service.db import Database

    url = f"sqlite:///{folder / 'adbandit.db'}"
    db = Database(url)
    db.upgrade()
    with db.session(write=True) as session:
        key = create_key(session, "bench", "admin")[1]
    db.dispose()
    port = free_port()
    env = {
        **os.environ,
        "ADBANDIT_DATABASE_URL": url,
        "ADBANDIT_TRACKING": "true" if tracking else "false",
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
    }
    cmd = [sys.executable, "-c", "from service.cli import main; raise SystemExit(main())"]
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base, proc, folder / "server.log", path="/readyz")
    return proc, base, key


async def run_load(
    base: str,
    key: str,
    campaign_id: int,
    last_day: list[dict[str, Any]],
    clients: int,
    duration: float,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    latencies: list[float] = []
    ingest_latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    warm_until = start + 1.0
    stop_at = start + duration
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120
    ) as http:

        async def recommender(worker: int) -> None:
            rng = np.random.default_rng(worker)
            while time.perf_counter() < stop_at:
                body = {"budget": float(rng.integers(1000, 5000)), "seed": worker}
                t0 = time.perf_counter()
                r = await http.post(f"/v1/campaigns/{campaign_id}/recommendations", json=body)
                t1 = time.perf_counter()
                if r.status_code != 201:
                    errors.append(r.status_code)
                elif t0 >= warm_until:
                    latencies.append(t1 - t0)

        async def ingester() -> None:
            rng = np.random.default_rng(99)
            while time.perf_counter() < stop_at:
                rows = [{**r, "conversions": int(rng.poisson(2))} for r in last_day]
                t0 = time.perf_counter()
                r = await http.post(f"/v1/campaigns/{campaign_id}/stats", json={"rows": rows})
                ingest_latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(r.status_code)
                await asyncio.sleep(INGEST_EVERY)

        await asyncio.gather(ingester(), *(recommender(i) for i in range(clients)))
    counted = max(stop_at - warm_until, 1e-9)
    ms = np.array(latencies) * 1000
    ingest_ms = np.array(ingest_latencies) * 1000
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "throughput_per_s": len(latencies) / counted,
        "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
        "p95_ms": float(np.percentile(ms, 95)) if len(ms) else None,
        "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None,
        "ingests": len(ingest_latencies),
        "ingest_p50_ms": float(np.percentile(ingest_ms, 50)) if len(ingest_ms) else None,
        "ingest_p99_ms": float(np.percentile(ingest_ms, 99)) if len(ingest_ms) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--arms", type=int, nargs="+", default=[12, 200])
    parser.add_argument(
        "--tracking", action="store_true", help="log every recommendation to MLflow"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="adbandit-load-"))
    proc, base, key = start_server(folder, args.workers, args.tracking)
    rows = []
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
            campaigns = {}
            for n_arms in args.arms:
                data = campaign_rows(n_arms, seed=n_arms)
                cid = http.post("/v1/campaigns", json={"name": f"arms-{n_arms}"}).json()["id"]
                r = http.post(f"/v1/campaigns/{cid}/stats", json={"rows": data})
                r.raise_for_status()
                campaigns[n_arms] = (cid, data[-n_arms:])
        for n_arms in args.arms:
            cid, last_day = campaigns[n_arms]
            for clients in args.clients:
                row = asyncio.run(run_load(base, key, cid, last_day, clients, args.duration))
                row = {"arms": n_arms, **row}
                rows.append(row)
                print(
                    f"{n_arms:>5} arms {clients:>3} clients: "
                    f"{row['throughput_per_s']:6.1f} req/s  p50 {row['p50_ms']:7.1f}  "
                    f"p95 {row['p95_ms']:7.1f}  p99 {row['p99_ms']:7.1f} ms  "
                    f"errors {row['errors']}  ingest p50 {row['ingest_p50_ms']:.0f} ms",
                    flush=True,
                )
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(folder, ignore_errors=True)

    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "duration_s": args.duration,
        "days": N_DAYS,
        "tracking": args.tracking,
        "ingest_every_s": INGEST_EVERY,
    }
    (RESULTS / "service_load.json").write_text(json.dumps({**meta, "results": rows}, indent=2))
    lines = [
        "| arms | clients | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| ingest p50 ms | ingest p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['arms']} | {r['clients']} | {r['throughput_per_s']:.1f} | {r['p50_ms']:.0f} | "
            f"{r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} | {r['ingest_p50_ms']:.0f} | "
            f"{r['ingest_p99_ms']:.0f} |"
        )
    (RESULTS / "service_load.md").write_text("\n".join(lines) + "\n")
    print(f"\nwrote {RESULTS / 'service_load.json'} and service_load.md")


if __name__ == "__main__":
    main()
