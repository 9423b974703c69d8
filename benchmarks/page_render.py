"""Render benchmark of the review page: each page of /ui/ in headless chromium against a
real server holding a 200-arm x 90-day campaign.

Usage:  python benchmarks/page_render.py [--arms 200] [--days 90] [--recs 30] [--repeat 7]

Starts ``adbandit serve`` (one uvicorn worker, SQLite in a temporary folder) on a free
loopback port and fills it: the big campaign (stats as JSON), ``--recs`` recommendations
for its last ``--recs`` days (each with ``as_of`` one day later, so P(best) over time has
that many points; every third approved, every fifth rejected), 30 more campaigns of 12
arms x 90 days for the list, and an MLflow experiment of 60 runs for the compare page.

Each page is then loaded ``--repeat`` times in a fresh tab (Debian's chromium through
Playwright, the key already in sessionStorage) and timed from navigation start to the
page's own "rendered" mark (``performance.mark('adbandit:ready:<view>')``, set once its
data is fetched and drawn): scripts, API calls, JSON parsing, DOM and SVG included.
Prints a table and writes benchmarks/results/page_render.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from playwright.sync_api import sync_playwright
from service_load import campaign_rows, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests/
from tests.web.browser import CHROMIUM, launch

RESULTS = Path(__file__).parent / "results"


def fill(base: str, key: str, n_arms: int, n_days: int, n_recs: int, folder: Path) -> int:
    """Load the campaigns, recommendations and MLflow runs; returns the big campaign's id."""
    import experiments

    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=h, timeout=300) as http:
        cid = http.post("/v1/campaigns", json={"name": f"big-{n_arms}-arms"}).json()["id"]
        rows = campaign_rows(n_arms, seed=1, n_days=n_days)
        r = http.post(f"/v1/campaigns/{cid}/stats", json={"rows": rows})
        r.raise_for_status()
        last = max(row["date"] for row in rows)
        days = sorted({row["date"] for row in rows})[-n_recs:]
        started = time.perf_counter()
        for i, day in enumerate(days):
            as_of = str(np.datetime64(day) + 1)
            rec = http.post(
                f"/v1/campaigns/{cid}/recommendations",
                json={"budget": 5000.0 + i, "as_of": as_of, "seed": i},
            )
            rec.raise_for_status()
            rid = rec.json()["id"]
            if i % 3 == 0:
                http.post(f"/v1/recommendations/{rid}/approve", json={"note": "ok"})
            elif i % 5 == 0:
                http.post(f"/v1/recommendations/{rid}/reject", json={"note": "too bold"})
            print(f"\r  recommendations {i + 1}/{len(days)}", end="", flush=True)
        print(f"  ({time.perf_counter() - started:.0f} s; data to {last})")
        for j in range(30):
            other = http.post("/v1/campaigns", json={"name": f"small-{j:02d}"}).json()["id"]
            http.post(
                f"/v1/campaigns/{other}/stats", json={"rows": campaign_rows(12, j + 2, n_days)}
            ).raise_for_status()
    tracker = experiments.Tracker("policies", uri=f"sqlite:///{folder / 'mlflow.db'}", root=folder)
    rng = np.random.default_rng(0)
    for k in range(60):
        regret = float(rng.uniform(5, 50))
        tracker.log_run(
            f"policy-{k:02d}",
            metrics={
                "regret": regret,
                "regret_low": regret * 0.8,
                "regret_high": regret * 1.2,
                "conversions": float(rng.uniform(800, 1200)),
            },
        )
    return int(cid)


def measure(
    base: str,
    key: str,
    pages: dict[str, tuple[str, str]],
    repeat: int,
    screenshots: Path | None = None,
) -> list[dict[str, Any]]:
    who = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    init = (
        f"sessionStorage.setItem('adbandit.key', {json.dumps(key)});"
        f"sessionStorage.setItem('adbandit.who', {json.dumps(json.dumps(who))});"
    )
    out = []
    with sync_playwright() as p:
        browser = launch(p)
        for name, (path, view) in pages.items():
            times, bytes_, calls = [], [], []
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1366, "height": 900})
                context.add_init_script(init)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                page.goto(f"{base}{path}")
                page.wait_for_selector(f"body[data-ready='1'][data-view={view}]", timeout=60_000)
                if errors:
                    raise SystemExit(f"{name}: script error {errors[0]}")
                ms = page.evaluate(
                    f"performance.getEntriesByName('adbandit:ready:{view}')[0].startTime"
                )
                api = page.evaluate(
                    "performance.getEntriesByType('resource')"
                    ".filter(e => e.name.includes('/v1/'))"
                    ".map(e => e.encodedBodySize)"
                )
                if screenshots is not None and len(times) == repeat - 1:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    slug = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
                    page.screenshot(path=screenshots / f"{slug}.png", full_page=True)
                times.append(float(ms))
                bytes_.append(sum(api))
                calls.append(len(api))
                context.close()
            out.append(
                {
                    "page": name,
                    "median_ms": round(statistics.median(times), 1),
                    "max_ms": round(max(times), 1),
                    "api_calls": calls[0],
                    "api_kb": round(bytes_[0] / 1024, 1),
                    "runs": repeat,
                }
            )
            print(
                f"  {name:<34} median {out[-1]['median_ms']:>7.1f} ms  max "
                f"{out[-1]['max_ms']:>7.1f} ms  {calls[0]} API calls, {out[-1]['api_kb']} KB"
            )
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--recs", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--screenshots", type=Path, default=None, help="save each page here")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no chromium at {CHROMIUM}: apt-get install chromium")
    folder = Path(tempfile.mkdtemp(prefix="adbandit-render-"))
    proc, base, key = start_server(folder, workers=1, tracking=True)
    try:
        print(f"filling {base}: {args.arms} arms x {args.days} days, {args.recs} recommendations")
        cid = fill(base, key, args.arms, args.days, args.recs, folder)
        pages = {
            "campaigns list (31 campaigns)": ("/ui/#/", "campaigns"),
            "campaigns list, last 30 days": ("/ui/#/?days=30", "campaigns"),
            f"campaign, {args.arms} arms, all days": (f"/ui/#/campaigns/{cid}", "campaign"),
            f"campaign, {args.arms} arms, 30 days": (f"/ui/#/campaigns/{cid}?days=30", "campaign"),
            "A/B test": ("/ui/#/abtest", "abtest"),
            "compare (60 runs)": ("/ui/#/compare?experiment=policies", "compare"),
        }
        results = measure(base, key, pages, args.repeat, args.screenshots)
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(folder, ignore_errors=True)
    meta = {
        "arms": args.arms,
        "days": args.days,
        "recommendations": args.recs,
        "repeat": args.repeat,
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        "2 cores shared by server, browser and this script",
        "browser": CHROMIUM,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "page_render.json").write_text(json.dumps({**meta, "results": results}, indent=2))
    lines = [
        f"Review page render, {args.arms} arms x {args.days} days, {args.recs} recommendations "
        f"(median and max of {args.repeat} cold loads, navigation start to rendered)",
        "",
        "| page | median ms | max ms | API calls | API KB |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r['page']} | {r['median_ms']:.0f} | {r['max_ms']:.0f} | {r['api_calls']} "
            f"| {r['api_kb']:.0f} |"
            for r in results
        ),
    ]
    (RESULTS / "page_render.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {RESULTS / 'page_render.json'} and page_render.md")


if __name__ == "__main__":
    sys.exit(main())
