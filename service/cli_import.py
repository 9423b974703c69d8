"""``adbandit import``: an ad platform's export in, the stats table out, with the
data-quality report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import optimizer

__all__ = ["add_import_command"]


def add_import_command(sub: Any) -> None:
    from .platforms import PRESETS

    p = sub.add_parser("import", help="read an ad platform's report export into the stats table")
    p.add_argument("export", type=Path, help="the file as exported (CSV/TSV, UTF-8 or UTF-16)")
    p.add_argument("--platform", default="auto", choices=["auto", *PRESETS, "ga4", "metrica"])
    p.add_argument("--goal", help="analytics exports: the key event / goal to count")
    p.add_argument("--utm", help="analytics exports: e.g. creative=utm_content,audience=utm_term")
    p.add_argument("--mapping", type=Path, help="YAML column mapping for any other export")
    p.add_argument("--conversions", help="the export's column to count as conversions")
    p.add_argument("--revenue", help="the export's column to count as revenue")
    p.add_argument(
        "--approved", type=Path, help="the approved split (creative,audience,budget) it ran"
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="stats CSV to write")
    p.add_argument("--format", default="table", choices=["table", "json"], help="report format")
    p.set_defaults(handler=_import)

    from experiments.logs import ENGINES

    p = sub.add_parser(
        "aggregate", help="raw click and conversion logs -> daily arm stats (pandas/DuckDB/Dask)"
    )
    p.add_argument("clicks", help="click logs: file, folder, glob or fsspec URL (Parquet/CSV)")
    p.add_argument("conversions", help="conversion logs, likewise")
    p.add_argument("-o", "--output", type=Path, required=True, help="stats CSV to write")
    p.add_argument("--arm-days", help="per arm-day impressions/spend table to join in")
    p.add_argument("--lags", type=Path, help="write the delay model's lag histogram here (CSV)")
    p.add_argument("--windows", type=Path, help="write clicks and observation windows here (CSV)")
    p.add_argument("--engine", default="auto", choices=list(ENGINES))
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (engine dask)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster processes (engine dask)")
    p.add_argument(
        "--observed-until", default=None, help="when the logs were cut (default: latest)"
    )
    p.set_defaults(handler=_aggregate)

    p = sub.add_parser(
        "reconcile", help="platform-reported against web-analytics conversions, per arm and day"
    )
    p.add_argument("stats", type=Path, help="the ad platform's stats (ours, or `import` output)")
    p.add_argument("analytics", type=Path, help="GA4 or Yandex Metrica export")
    p.add_argument("--goal", help="the key event / goal to count")
    p.add_argument("--utm", help="e.g. creative=utm_content,audience=utm_term")
    p.add_argument(
        "--source", default="platform", choices=["platform", "analytics"],
        help="whose conversions go into --output",
    )  # fmt: skip
    p.add_argument("-o", "--output", type=Path, help="write the stats with the chosen source")
    p.set_defaults(handler=_reconcile)


def utm_mapping(text: str | None) -> Any:
    from .platforms.analytics import UtmMapping

    if not text:
        return UtmMapping()
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 for p in pairs):
        raise optimizer.ConfigError(f"--utm ({text!r}) must read part=field,part=field")
    return UtmMapping.from_dict({k.strip(): v.strip() for k, v in pairs})


def analytics_from_args(path: Path, args: argparse.Namespace) -> Any:
    from .platforms.analytics import import_analytics

    layout = args.platform if getattr(args, "platform", None) in ("ga4", "metrica") else "auto"
    return import_analytics(path, goal=args.goal, utm=utm_mapping(args.utm), layout=layout)


def _import(args: argparse.Namespace) -> int:
    from .platforms import UnknownLayoutError, import_export, preset_from_mapping, read_mapping

    if args.platform in ("ga4", "metrica"):
        return _import_analytics(args)
    preset = preset_from_mapping(read_mapping(args.mapping)) if args.mapping else None
    try:
        result = import_export(
            args.export,
            platform=args.platform,
            preset=preset,
            conversions=args.conversions,
            revenue=args.revenue,
        )
    except UnknownLayoutError as platform_error:
        if args.platform != "auto" or preset is not None:
            raise
        try:  # not an ad platform's layout: perhaps a web-analytics export
            return _import_analytics(args)
        except UnknownLayoutError:
            raise platform_error from None
    return _report(args, result)


def _import_analytics(args: argparse.Namespace) -> int:
    analytics = analytics_from_args(args.export, args)
    t = analytics.table
    out = t.assign(date=t["date"].dt.strftime("%Y-%m-%d"))
    out.to_csv(args.output, index=False)
    if args.format == "json":
        payload = {
            "source": analytics.source,
            "goal": analytics.goal,
            "columns": analytics.columns,
            "n_rows": len(t),
            "untagged_sessions": analytics.untagged_sessions,
            "notes": analytics.notes,
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{args.export.name}: {analytics.title} export, {len(t)} arm-days, goal "
        f"{analytics.goal!r}: {t['conversions'].sum():,.0f} conversions from "
        f"{t['sessions'].sum():,.0f} tagged sessions"
    )
    print("columns: " + ", ".join(f"{f} <- {h!r}" for f, h in analytics.columns.items()))
    for note in analytics.notes:
        print(f"note: {note}")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace, result: Any) -> int:
    from .platforms import quality_report

    approved = None
    if args.approved:
        approved = optimizer.load_current(args.approved)[["creative", "audience", "budget"]]
    report = quality_report(result.stats, approved=approved, n_duplicates=result.n_duplicates)
    out = result.stats.assign(date=result.stats["date"].dt.strftime("%Y-%m-%d"))
    out.to_csv(args.output, index=False)
    if args.format == "json":
        payload = {
            "platform": result.platform,
            "currency": result.currency,
            "columns": result.columns,
            "n_rows": len(result.stats),
            "notes": result.notes,
            "quality": report.to_dict(),
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    s = result.stats
    print(
        f"{args.export.name}: {result.title} export, {len(s)} rows, "
        f"{s['date'].min():%Y-%m-%d} .. {s['date'].max():%Y-%m-%d}, "
        f"{s.groupby(['creative', 'audience']).ngroups} arms, currency {result.currency or '?'}"
    )
    print("columns: " + ", ".join(f"{f} <- {h!r}" for f, h in result.columns.items()))
    for note in result.notes:
        print(f"note: {note}")
    print(report.table())
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    import time

    from experiments.logs import aggregate_logs

    start = time.perf_counter()
    result = aggregate_logs(
        args.clicks,
        args.conversions,
        args.arm_days,
        engine=args.engine,
        scheduler=args.scheduler,
        workers=args.workers,
        observed_until=args.observed_until,
    )
    s = result.stats
    s.assign(date=s["date"].dt.strftime("%Y-%m-%d")).to_csv(args.output, index=False)
    if args.lags:
        result.lags.to_csv(args.lags, index=False)
    if args.windows:
        result.windows.to_csv(args.windows, index=False)
    print(
        f"{result.engine}: {int(s['clicks'].sum()):,} clicks and "
        f"{int(s['conversions'].sum()):,} conversions -> {len(s):,} arm-days "
        f"({s['date'].min():%Y-%m-%d} .. {s['date'].max():%Y-%m-%d}) in "
        f"{time.perf_counter() - start:.1f} s; observed until {result.observed_until}"
    )
    if result.n_unmatched or result.n_before_click:
        print(
            f"left out: {result.n_unmatched:,} conversions with an unknown click_id, "
            f"{result.n_before_click:,} before their click"
        )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from .platforms.analytics import join_sources, reconcile, utm_check

    stats = optimizer.load_stats(args.stats)
    analytics = analytics_from_args(args.analytics, args)
    check = utm_check(stats, analytics)
    table = reconcile(stats, analytics)
    print(
        f"{analytics.title}, goal {analytics.goal!r}: {table['analytics'].sum():,.0f} conversions "
        f"against {table['platform'].sum():,.0f} reported by the ad platform"
    )
    for row in check.itertuples():
        print(f"tags: {row.kind} ({row.creative}, {row.audience}): {row.detail}")
    flagged = table[table["flag"]]
    if flagged.empty:
        print("reconciliation: no arm's gap jumped")
    for row in flagged.itertuples():
        print(
            f"gap jump: ({row.creative}, {row.audience}) {row.date:%Y-%m-%d}: platform "
            f"{row.platform:g}, analytics {row.analytics:g} (a broken pixel or tag?)"
        )
    if args.output:
        joined = join_sources(stats, analytics, args.source)
        joined.assign(date=joined["date"].dt.strftime("%Y-%m-%d")).to_csv(args.output, index=False)
        print(f"wrote {args.output} with conversions from {args.source}", file=sys.stderr)
    return 0
