"""The ``adbandit`` command.

Errors a user can fix (bad stats, bad settings, impossible constraints, missing
files) print the message to stderr, with no traceback, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import optimizer

from .cli_experiments import add_experiment_commands
from .cli_import import add_import_command
from .cli_service import add_service_commands

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", optimizer.StatsWarning)
        try:
            code = int(args.handler(args))
        except optimizer.AdbanditError as exc:
            _print_warnings(caught)
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
            return EXIT_USAGE
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    _print_warnings(caught)
    return code


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adbandit",
        description="Split an ad budget across creatives x audiences with a Bayesian bandit.",
    )
    parser.add_argument("--version", action="version", version=f"adbandit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check a stats file against the data contract")
    p.add_argument("stats", type=Path, help="daily per-arm stats (.csv or .parquet)")
    p.set_defaults(handler=_validate)

    p = sub.add_parser("recommend", help="recommend the next period's budget split")
    p.add_argument("stats", type=Path, help="daily per-arm stats (.csv or .parquet)")
    p.add_argument("--budget", type=float, required=True, help="money to split, e.g. 1200")
    p.add_argument("--current", type=Path, help="current split CSV (creative,audience,budget,...)")
    p.add_argument("--config", type=Path, help="settings file (.toml or .json)")
    p.add_argument("--seed", type=int, default=None, help="seed for the Monte-Carlo fallback")
    p.add_argument("--as-of", default=None, help="day the split is for (YYYY-MM-DD)")
    p.add_argument("--campaign", default=None, help="campaign to use when the stats hold several")
    p.add_argument("--objective", default="conversions", choices=list(optimizer.OBJECTIVES))
    p.add_argument("--format", default="table", choices=["table", "json", "csv"])
    p.add_argument("--no-track", action="store_true", help="do not log the run to MLflow")
    p.add_argument(
        "--analytics",
        type=Path,
        help="GA4 or Yandex Metrica export: take conversions and revenue from it",
    )
    p.add_argument("--goal", help="the analytics key event / goal to count (with --analytics)")
    p.add_argument(
        "--utm", help="UTM mapping, e.g. creative=utm_content,audience=utm_term (--analytics)"
    )
    _delay_args(p)
    p.set_defaults(handler=_recommend)

    p = sub.add_parser(
        "check", help="look for conversion delay and creative fatigue in a stats file"
    )
    p.add_argument("stats", type=Path, help="daily per-arm stats (.csv or .parquet)")
    p.add_argument("--campaign", default=None, help="campaign to use when the stats hold several")
    p.add_argument(
        "--alpha", type=float, default=0.01, help="false-alarm level of the fatigue test"
    )
    _delay_args(p)
    p.set_defaults(handler=_check)

    add_experiment_commands(sub)
    add_service_commands(sub)
    add_import_command(sub)
    return parser


def _delay_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--delay",
        default="auto",
        help="'auto' (detect in the stats), 'none', or a profile such as '90%% within 7 days'",
    )
    p.add_argument("--clicks", type=Path, help="click log (click_id,time,creative,audience)")
    p.add_argument("--conversions", type=Path, help="conversion log (click_id,time,value)")
    p.add_argument(
        "--history",
        type=Path,
        help="earlier exports of the stats with a reported_on column: learn the delay "
        "from how the same days were restated",
    )


def _delay_of(args: argparse.Namespace, stats: pd.DataFrame | None = None) -> object:
    """The --delay / --clicks / --conversions choice as recommend() takes it."""
    if args.clicks or args.conversions:
        if not (args.clicks and args.conversions):
            raise optimizer.ConfigError("--clicks and --conversions go together")
        log = optimizer.load_events(args.clicks, args.conversions)
        if len(log.excluded):
            print(f"note: {len(log.excluded)} conversion rows left out:", file=sys.stderr)
            for row in log.excluded.head(20).itertuples():
                print(f"  row {row.row}: {row.click_id}: {row.reason}", file=sys.stderr)
        return optimizer.fit_delay(log)
    if args.history:
        return optimizer.delay_from_restatements(_read_table(args.history))
    if args.delay == "auto" and stats is not None:
        return optimizer.detect_delay(stats)
    return args.delay


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("adbandit")
    except metadata.PackageNotFoundError:
        return "unknown"


def _validate(args: argparse.Namespace) -> int:
    stats = optimizer.load_stats(args.stats)
    arms = stats[["creative", "audience"]].drop_duplicates()
    campaigns = sorted(stats["campaign"].unique())
    first, last = stats["date"].min(), stats["date"].max()
    print(f"OK {args.stats}: {len(stats):,} rows")
    more = " ..." if len(campaigns) > 5 else ""
    print(f"  campaigns   {len(campaigns)} ({', '.join(campaigns[:5])}{more})")
    print(
        f"  arms        {len(arms)} ({arms['creative'].nunique()} creatives x "
        f"{arms['audience'].nunique()} audiences)"
    )
    if len(stats):
        print(f"  dates       {first.date()} .. {last.date()} ({stats['date'].nunique()} days)")
    spend, conv, rev = stats["spend"].sum(), stats["conversions"].sum(), stats["revenue"].sum()
    print(f"  spend       {spend:,.2f}")
    print(f"  conversions {conv:,.0f}" + (f" (CPA {spend / conv:,.2f})" if conv else ""))
    print(f"  revenue     {rev:,.2f}" + (f" (ROAS {rev / spend:.2f})" if spend else ""))
    return 0


def _recommend(args: argparse.Namespace) -> int:
    config = optimizer.load_config(args.config) if args.config else None
    stats: object = args.stats
    source = "the ad platform"
    if args.analytics:
        from .cli_import import analytics_from_args
        from .platforms.analytics import join_sources

        analytics = analytics_from_args(args.analytics, args)
        stats = join_sources(optimizer.load_stats(args.stats), analytics, "analytics")
        source = f"{analytics.title} (goal {analytics.goal!r})"
    rec = optimizer.recommend(
        stats,
        args.budget,
        current=args.current,
        objective=args.objective,
        config=config,
        as_of=args.as_of,
        seed=args.seed,
        campaign=args.campaign,
        delay=_delay_of(args),  # type: ignore[arg-type]
    )
    if args.format == "json":
        print(json.dumps({**rec.to_dict(), "conversion_source": source}, indent=2))
    elif args.format == "csv":
        sys.stdout.write(rec.allocations.to_csv(index=False))
    else:
        print(format_recommendation(rec))
        print(f"Conversions from {source}.")
    if not args.no_track:
        from experiments.tracking import log_recommendation

        run_id = log_recommendation(rec, args.stats)
        if run_id:
            print(f"tracked as MLflow run {run_id}", file=sys.stderr)
    return 0


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _check(args: argparse.Namespace) -> int:
    from optimizer.drift import detect_fatigue

    stats = optimizer.load_stats(args.stats)
    if args.campaign is not None:
        stats = stats[stats["campaign"] == args.campaign]
    elif stats["campaign"].nunique() > 1:
        raise optimizer.ConfigError("the stats hold several campaigns: pick one with --campaign")
    delay = _delay_of(args, stats)
    if isinstance(delay, optimizer.DelayCurve):
        curve = delay
    else:
        curve = optimizer.lag_profile(delay)  # type: ignore[arg-type]
    print(f"Conversion delay: {curve.describe()}")
    if "verdict" in curve.evidence:
        print(f"  {curve.evidence['verdict']}")
    if curve.kind != "none" and "mean_days_90pct" in curve.evidence:
        low, high = curve.evidence["mean_days_90pct"]
        mean = curve.evidence["mean_days"]
        print(f"  mean delay {mean:.1f} days (90% interval {low:.1f} .. {high:.1f})")
    by_age = curve.evidence.get("by_age", [])
    if by_age:
        print("  age (days)  conversions  seen vs mature days  fitted share")
        for row in by_age:
            print(
                f"  {row['age_days']:>10}  {row['conversions']:>11,.0f}  "
                f"{row['observed_share']:>19.0%}  {row['fitted_share']:>12.0%}"
            )
    report = detect_fatigue(stats, delay=curve, alpha=args.alpha)
    print()
    print("Creative fatigue:")
    for row in report.itertuples():
        flag = "FATIGUED" if row.fatigued else "ok"
        print(f"  {row.creative:<24} {flag:<9} {row.evidence}")
    return 0


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _signed(x: float) -> str:
    return "0.00" if abs(x) < 0.005 else f"{x:+,.2f}"


def format_recommendation(rec: optimizer.Recommendation) -> str:
    """A person-readable table of the split (best rate first), then one reason per arm."""
    key = "roas_mean" if rec.objective == "revenue" else "rate_mean"
    table = rec.allocations.sort_values(key, ascending=False, kind="stable")
    has_current = not table["current"].isna().all()
    level = int(round(rec.config.credible_level * 100))
    cols: list[tuple[str, list[str], str]] = [  # header, cells, alignment
        ("#", [str(i) for i in range(1, len(table) + 1)], ">"),
        ("creative", table["creative"].tolist(), "<"),
        ("audience", table["audience"].tolist(), "<"),
    ]
    if has_current:
        cols.append(("current", [_money(x) for x in table["current"]], ">"))
    cols.append(("budget", [_money(x) for x in table["budget"]], ">"))
    if has_current:
        cols.append(("change", [_signed(x) for x in table["change"]], ">"))
    cols += [
        ("share", [f"{x:.1%}" for x in table["share"]], ">"),
        ("P(best)", [_p(x) for x in table["p_best"]], ">"),
        (
            f"conv/spend ({level}% CI)",
            [
                f"{m:.4f} [{lo:.4f}, {hi:.4f}]"
                for m, lo, hi in zip(
                    table["rate_mean"], table["rate_low"], table["rate_high"], strict=True
                )
            ],
            "<",
        ),
        ("exp. conv", [f"{x:,.1f}" for x in table["expected_conversions"]], ">"),
    ]
    if rec.objective == "revenue":
        cols.append(
            (
                f"ROAS ({level}% CI)",
                [
                    f"{m:.2f} [{lo:.2f}, {hi:.2f}]"
                    for m, lo, hi in zip(
                        table["roas_mean"], table["roas_low"], table["roas_high"], strict=True
                    )
                ],
                "<",
            )
        )
    if (table["maturity"] < 0.95).any():
        cols.append(("in yet", [f"{x:.0%}" for x in table["maturity"]], ">"))
    widths = [max(len(h), *(len(c) for c in cells)) for h, cells, _ in cols]
    lines = [
        f"Budget split for {rec.campaign} on {rec.as_of}: {_money(rec.budget)} across "
        f"{len(table)} arms",
        f"(data {rec.data_start} .. {rec.data_end}, {rec.n_rows:,} rows; "
        f"objective {rec.objective})",
        "",
        "  ".join(f"{h:{a}{w}}" for (h, _, a), w in zip(cols, widths, strict=True)),
    ]
    for i in range(len(table)):
        lines.append(
            "  ".join(f"{cells[i]:{a}{w}}" for (_, cells, a), w in zip(cols, widths, strict=True))
        )
    total_exp = table["expected_conversions"].sum()
    lines.append("")
    lines.append(f"Expected conversions next period: {total_exp:,.1f}")
    lines.append("")
    lines.append("Why:")
    for i, reason in enumerate(table["reason"], start=1):
        lines.append(f"{i:>3}. {reason}")
    err = rec.p_best_error
    method = "numerical integration" if rec.p_best_method == "integrate" else "Monte Carlo"
    lines.append("")
    lines.append(f"Delay: {rec.delay.describe()}.")
    lines.append(
        f"P(best) by {method} (error <= {err:.1e}); prior worth {rec.prior_strength:.2f} "
        f"conversions per arm; seed {rec.seed}; adbandit {rec.version}"
    )
    return "\n".join(lines)


def _p(p: float) -> str:
    if math.isnan(p):
        return "-"
    if p >= 0.995:
        return ">0.99"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
