"""adbandit's experiments: simulations, A/B and bandit tests, tuning, tracking, comparison.

Quickstart::

    import experiments

    daily = experiments.run_many(["adbandit", "uniform"], "delay", n_seeds=20, workers=2)
    experiments.summarize(daily, baseline="uniform")        # regret with 95% intervals

    result = experiments.analyze_ab(counts, control="A")    # Bayesian A/B readout
    experiments.stopping_rule(result, srm=experiments.srm_check(counts))

    experiments.run_autotest({"mode": "bandit", "scenario": "delay"}, "report/")
    experiments.tune(["no_delay", "delay"], n_trials=20)    # Optuna (lazy import)
    experiments.Tracker("adbandit-simulations").runs()      # MLflow (lazy import)

Only experiments.tracking imports mlflow and only experiments.tuning imports optuna,
both on first use.
"""

from .abtest import (
    METRICS,
    AbDecision,
    InvalidCountsError,
    analyze_ab,
    load_counts,
    srm_check,
    stopping_rule,
)
from .autotest import AutoTestResult, run_autotest
from .compare import compare_runs, comparison_plot
from .logs import ENGINES, Aggregated, aggregate_frames, aggregate_logs, write_synthetic_logs
from .runner import (
    POLICIES,
    SCENARIOS,
    AdbanditPolicy,
    BasePolicy,
    EpsilonGreedyPolicy,
    FixedSplitPolicy,
    UniformPolicy,
    make_policy,
    run_many,
    run_policy,
    summarize,
)
from .simulate import ArmTruth, SimulatedCampaign, make_campaign
from .tracking import Tracker, TrackingWarning, default_tracking_uri, list_experiments
from .tuning import TuningResult, tune, write_config

__all__ = [
    "ENGINES",
    "METRICS",
    "POLICIES",
    "SCENARIOS",
    "AbDecision",
    "Aggregated",
    "AdbanditPolicy",
    "ArmTruth",
    "AutoTestResult",
    "BasePolicy",
    "EpsilonGreedyPolicy",
    "FixedSplitPolicy",
    "InvalidCountsError",
    "SimulatedCampaign",
    "Tracker",
    "TrackingWarning",
    "TuningResult",
    "UniformPolicy",
    "aggregate_frames",
    "aggregate_logs",
    "analyze_ab",
    "compare_runs",
    "comparison_plot",
    "default_tracking_uri",
    "list_experiments",
    "load_counts",
    "make_campaign",
    "make_policy",
    "run_autotest",
    "run_many",
    "run_policy",
    "srm_check",
    "stopping_rule",
    "summarize",
    "tune",
    "write_config",
    "write_synthetic_logs",
]
