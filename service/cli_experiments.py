"""The experiment commands of ``adbandit``: abtest, simulate, tune, compare.

They import experiments (and through it MLflow and Optuna) only when run, so
``adbandit recommend`` never waits on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

import optimizer


def add_experiment_commands(sub: Any) -> None:
    """Register the experiment subcommands on the main parser's subparsers."""
    ab = sub.add_parser("abtest", help="Bayesian A/B tests").add_subparsers(
        dest="abtest_command", metavar="ACTION", required=True
    )
    p = ab.add_parser("analyze", help="read out an A/B(/n) test from per-variant counts")
    p.add_argument("counts", type=Path, help="CSV: variant,users,conversions[,spend,revenue]")
    p.add_argument("--control", required=True, help="the control variant")
    p.add_argument(
        "--metric",
        default="conversion_rate",
        help="conversion_rate (default), conversions_per_spend or revenue",
    )
    p.add_argument("--level", type=float, default=0.95, help="credible interval mass")
    p.add_argument("--min-users", type=int, default=1000, help="stopping rule: users per variant")
    p.add_argument(
        "--max-loss",
        type=float,
        default=0.005,
        help="stopping rule: expected loss tolerated, relative to the control",
    )
    p.add_argument("--format", default="table", choices=["table", "json", "csv"])
    p.add_argument("--no-track", action="store_true", help="do not log the readout to MLflow")
    p.set_defaults(handler=_abtest_analyze)
    p = ab.add_parser("run", help="run a whole A/B or bandit test unattended and report")
    p.add_argument("config", type=Path, help="test settings (YAML), see experiments.autotest")
    p.add_argument("--out", type=Path, default=Path("abtest-report"), help="report folder")
    p.add_argument("--no-track", action="store_true", help="do not log the test to MLflow")
    p.set_defaults(handler=_abtest_run)

    p = sub.add_parser("simulate", help="play policies against simulated campaigns")
    p.add_argument(
        "scenario",
        nargs="?",
        default="no_delay",
        help="no_delay, delay, saturation, fatigue, or a CONFIG.yaml",
    )
    p.add_argument(
        "--policy",
        nargs="+",
        default=None,
        help="adbandit, uniform, epsilon_greedy, ab_split (default: all)",
    )
    p.add_argument("--seeds", type=int, default=None, help="campaigns per policy (default 10)")
    p.add_argument("--days", type=int, default=None, help="days per campaign (default 30)")
    p.add_argument("--budget", type=float, default=None, help="daily budget (default 600)")
    p.add_argument(
        "--workers", type=int, default=1, help="Dask LocalCluster processes (1: run in-process)"
    )
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://h:8786")
    p.add_argument("--seed", type=int, default=0, help="root seed of all campaigns")
    p.add_argument(
        "--out", type=Path, default=Path("simulation"), help="folder for the table and plot"
    )
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.set_defaults(handler=_simulate)

    p = sub.add_parser("tune", help="search allocator settings with Optuna")
    p.add_argument(
        "--scenario", nargs="+", default=["no_delay", "delay"], help="scenarios to score on"
    )
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seeds", type=int, default=5, help="campaigns per scenario and trial")
    p.add_argument("--days", type=int, default=20)
    p.add_argument("--budget", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=0, help="seeds the sampler and the campaigns")
    p.add_argument(
        "--storage", default=None, help="Optuna storage URL, e.g. sqlite:///study.db (resumable)"
    )
    p.add_argument("--study", default="adbandit-tuning", help="study name")
    p.add_argument(
        "--workers", type=int, default=1, help="Dask LocalCluster processes (1: run in-process)"
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address; needs a --storage URL every worker reaches",
    )
    p.add_argument("--out", type=Path, default=Path("tuned.toml"), help="best settings (TOML)")
    p.add_argument("--no-track", action="store_true", help="do not log trials to MLflow")
    p.set_defaults(handler=_tune)

    p = sub.add_parser("compare", help="compare tracked runs or whole experiments")
    p.add_argument(
        "experiments",
        nargs="*",
        default=["adbandit-simulations"],
        help="MLflow experiments (default: adbandit-simulations)",
    )
    p.add_argument("--run", nargs="+", default=None, help="only these run ids")
    p.add_argument("--baseline", default=None, help="run id or run name to compare against")
    p.add_argument("--figure", default="regret", help="figure to plot (default regret)")
    p.add_argument("--out", type=Path, default=Path("comparison.png"), help="comparison plot")
    p.add_argument("--format", default="table", choices=["table", "csv", "json"])
    p.set_defaults(handler=_compare)


def _abtest_analyze(args: argparse.Namespace) -> int:
    from experiments import analyze_ab, load_counts, srm_check, stopping_rule

    counts = load_counts(args.counts)
    result = analyze_ab(counts, control=args.control, metric=args.metric, level=args.level)
    srm = srm_check(result) if "users" in result else None
    decision = stopping_rule(
        result, min_users=args.min_users, max_expected_loss_rel=args.max_loss, srm=srm
    )
    if not args.no_track:
        from experiments.tracking import log_abtest

        run_id = log_abtest(
            f"analyze-{args.counts.stem}",
            result,
            decision,
            {
                "counts": str(args.counts),
                "control": args.control,
                "metric": args.metric,
                "level": args.level,
                "min_users": args.min_users,
                "max_loss": args.max_loss,
            },
            artifacts={"counts": args.counts},
        )
        if run_id:
            print(f"tracked as MLflow run {run_id}", file=sys.stderr)
    if args.format == "json":
        payload = {
            "variants": json.loads(result.to_json(orient="records")),
            "srm": srm,
            "decision": {
                "stop": decision.stop,
                "winner": decision.winner,
                "reason": decision.reason,
            },
        }
        print(json.dumps(payload, indent=2))
        return 0
    if args.format == "csv":
        sys.stdout.write(result.to_csv(index=False))
        return 0
    pct = int(round(args.level * 100))
    header = (
        f"{'variant':<12} {'rate':>10}  {f'{pct}% interval':<22} {'uplift vs control':<26} "
        f"{'P(beat ctrl)':>12} {'P(best)':>8} {'exp. loss':>10}"
    )
    print(f"A/B readout ({args.metric}), control {args.control}")
    print()
    print(header)
    for row in result.itertuples():
        is_control = row.variant == args.control
        uplift = (
            "control"
            if is_control
            else (f"{row.uplift_mean:+.1%} [{row.uplift_low:+.1%}, {row.uplift_high:+.1%}]")
        )
        beat = "-" if is_control else f"{row.chance_to_beat_control:.1%}"
        interval = f"[{row.rate_low:.4f}, {row.rate_high:.4f}]"
        print(
            f"{row.variant:<12} {row.rate:>10.4f}  {interval:<22} "
            f"{uplift:<26} {beat:>12} {row.chance_to_be_best:>8.1%} {row.expected_loss_rel:>10.2%}"
        )
    print()
    if srm is not None:
        state = "MISMATCH" if srm["mismatch"] else "ok"
        print(f"Sample ratio: {state} (chi-square {srm['chi2']:.2f}, p = {srm['p_value']:.3g})")
    print(f"Verdict: {decision.reason}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from experiments.plots import cumulative_regret
    from experiments.runner import POLICIES, SCENARIOS, run_many, summarize

    settings: dict[str, Any] = {}
    if args.scenario.endswith((".yaml", ".yml")):
        import yaml

        try:
            settings = yaml.safe_load(Path(args.scenario).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise optimizer.ConfigError(f"cannot read {args.scenario}: {exc}") from None
        if not isinstance(settings, dict):
            raise optimizer.ConfigError(f"{args.scenario} must hold a mapping of settings")
        unknown = set(settings) - {"scenario", "policies", "seeds", "days", "budget"}
        if unknown:
            raise optimizer.ConfigError(
                f"unknown settings in {args.scenario}: {', '.join(sorted(unknown))}"
            )
    scenario = settings.get("scenario", args.scenario if not settings else "no_delay")
    if isinstance(scenario, str) and scenario not in SCENARIOS:
        raise optimizer.ConfigError(
            f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)} (or a CONFIG.yaml)"
        )
    policy_settings = settings.get("policies") or {}
    if not isinstance(policy_settings, dict):
        raise optimizer.ConfigError("'policies' must map policy names to their settings")
    names = args.policy or list(policy_settings) or list(POLICIES)
    seeds = int(args.seeds or settings.get("seeds", 10))
    days = int(args.days or settings.get("days", 30))
    budget = float(args.budget or settings.get("budget", 600.0))
    daily = run_many(
        names,
        scenario,
        n_seeds=seeds,
        seed=args.seed,
        n_days=days,
        budget=budget,
        workers=args.workers,
        configs={k: v or {} for k, v in policy_settings.items()},
        scheduler=args.scheduler,
    )
    baseline = "uniform" if "uniform" in names else None
    table = summarize(daily, baseline=baseline)
    args.out.mkdir(parents=True, exist_ok=True)
    daily.to_csv(args.out / "daily.csv", index=False)
    table.to_csv(args.out / "summary.csv", index=False)
    label = scenario if isinstance(scenario, str) else "custom"
    plot = cumulative_regret(daily, args.out / "regret.png", title=f"Scenario {label}")
    print(f"Scenario {label}: {seeds} campaigns x {days} days, budget {budget:,.2f} a day")
    print()
    print(
        f"{'policy':<16} {'conversions':>12} {'regret (95% CI)':>24} {'CPA':>8} {'ROAS':>6}"
        + (f" {'vs ' + baseline:>12}" if baseline else "")
    )
    for row in table.itertuples():
        ci = f"{row.regret:,.1f} ({row.regret_low:,.1f}..{row.regret_high:,.1f})"
        extra = f" {row.regret_vs_baseline:>+12.0%}" if baseline else ""
        figures = f"{row.conversions:>12,.1f} {ci:>24} {row.cpa:>8.2f} {row.roas:>6.2f}"
        print(f"{row.policy:<16} {figures}{extra}")
    print()
    print(f"wrote {args.out / 'summary.csv'}, {args.out / 'daily.csv'} and {plot}")
    if not args.no_track:
        from experiments.tracking import Tracker

        tracker = Tracker("adbandit-simulations")
        for row in table.itertuples():
            part = daily[daily["policy"] == row.policy]
            steps = part.groupby("day")[
                ["regret", "cumulative_regret", "expected_conversions"]
            ].mean()
            # Step metrics need their own keys: a "regret" step series would overwrite
            # the run's final "regret" (MLflow shows a key's latest value).
            steps.columns = [f"daily_{c}" for c in steps.columns]
            run_id = tracker.log_run(
                f"{label}-{row.policy}",
                params={
                    "scenario": scenario,
                    "policy": row.policy,
                    "policy_config": policy_settings.get(row.policy) or {},
                    "seeds": seeds,
                    "days": days,
                    "budget": budget,
                    "root_seed": args.seed,
                },
                metrics={
                    "conversions": row.conversions,
                    "regret": row.regret,
                    "regret_low": row.regret_low,
                    "regret_high": row.regret_high,
                    "cpa": row.cpa,
                    "roas": row.roas,
                },
                step_metrics=steps,
                artifacts={"summary": args.out / "summary.csv", "plot": plot},
                tags={"kind": "simulation"},
            )
            if run_id:
                print(f"logged {row.policy} to MLflow run {run_id} ({tracker.uri})")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from experiments.runner import SCENARIOS
    from experiments.tracking import Tracker
    from experiments.tuning import tune, write_config

    unknown = [s for s in args.scenario if s not in SCENARIOS]
    if unknown:
        raise optimizer.ConfigError(
            f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
        )
    tracker = None if args.no_track else Tracker("adbandit-tuning")
    result = tune(
        args.scenario,
        n_trials=args.trials,
        n_seeds=args.seeds,
        n_days=args.days,
        budget=args.budget,
        seed=args.seed,
        storage=args.storage,
        study_name=args.study,
        tracker=tracker,
        workers=args.workers,
        scheduler=args.scheduler,
    )
    path = write_config(
        result.best_config,
        args.out,
        comment=f"tuned by adbandit tune: study {result.study_name}, {result.n_trials} trials, "
        f"mean conversions {result.best_value:,.1f} on {', '.join(args.scenario)}",
    )
    print(f"best of {result.n_trials} trials: {result.best_value:,.1f} conversions per campaign")
    for key, value in result.best_config.items():
        print(f"  {key} = {value}")
    print(f"wrote {path} (use: adbandit recommend STATS --budget B --config {path})")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from experiments.compare import FIGURES, compare_runs, comparison_plot

    try:
        table = compare_runs(args.experiments, run_ids=args.run, baseline=args.baseline)
    except KeyError as exc:
        raise optimizer.ConfigError(str(exc.args[0])) from None
    if table.empty:
        raise optimizer.ConfigError(f"no runs found in {', '.join(args.experiments)}")
    if args.format == "csv":
        sys.stdout.write(table.to_csv(index=False))
        return 0
    if args.format == "json":
        print(table.to_json(orient="records", indent=2))
        return 0
    figures = [f for f in FIGURES if f in table]
    name_width = max(12, int(table["name"].astype(str).str.len().max()))
    print(
        f"{len(table)} runs from {', '.join(args.experiments)}"
        + (f"; baseline {args.baseline}" if args.baseline else "")
    )
    print()
    print(f"{'run':<{name_width}}  " + "  ".join(f"{f:>26}" for f in figures))
    for row in table.itertuples():
        cells = []
        for f in figures:
            value = getattr(row, f)
            text = "-" if pd.isna(value) else f"{value:,.2f}"
            if f"{f}_low" in table and not pd.isna(getattr(row, f"{f}_low")):
                text += f" ({getattr(row, f + '_low'):,.1f}..{getattr(row, f + '_high'):,.1f})"
            if f"{f}_vs_baseline" in table and not pd.isna(getattr(row, f"{f}_vs_baseline")):
                text += f" {getattr(row, f + '_vs_baseline'):+.0%}"
            cells.append(f"{text:>26}")
        print(f"{str(row.name):<{name_width}}  " + "  ".join(cells))
    if args.figure in table:
        path = comparison_plot(table, args.out, args.figure)
        print()
        print(f"wrote {path}")
    return 0


def _abtest_run(args: argparse.Namespace) -> int:
    import yaml

    from experiments.autotest import run_autotest

    try:
        settings = yaml.safe_load(args.config.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise optimizer.ConfigError(f"cannot read {args.config}: {exc}") from None
    if not isinstance(settings, dict):
        raise optimizer.ConfigError(f"{args.config} must hold a mapping of settings")
    result = run_autotest(settings, args.out)
    print(
        f"{'Stopped' if result.stopped else 'Not stopped'} after {result.days_run} days: "
        f"{result.reason}"
    )
    print(f"report: {result.report}")
    if not args.no_track:
        from experiments import AbDecision
        from experiments.tracking import log_abtest

        leader = result.daily.loc[result.daily.groupby("day")["p_best"].idxmax()]
        steps = pd.DataFrame(
            {"daily_leader_p_best": leader["p_best"].to_numpy()},
            index=leader["day"].to_numpy() - 1,
        )
        folder = result.report.parent
        run_id = log_abtest(
            f"run-{args.config.stem}",
            result.readout,
            AbDecision(result.stopped, result.winner, result.reason),
            {"config": settings, "days_run": result.days_run},
            artifacts={p.name: p for p in sorted(folder.glob("*.png"))}
            | {"report": result.report, "daily": folder / "daily.csv"},
            step_metrics=steps,
        )
        if run_id:
            print(f"tracked as MLflow run {run_id}")
    return 0
