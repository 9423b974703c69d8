"""adbandit's optimizer: validated stats in, a Thompson-sampling budget split out.

Quickstart::

    import optimizer

    stats = optimizer.load_stats("data/sample_stats.csv")     # checks every rule
    rec = optimizer.recommend(stats, budget=1200, seed=7)     # conversions objective
    print(rec.allocations[["creative", "audience", "budget", "p_best", "reason"]])
    rec.to_dict()                                             # JSON-safe, replayable

    cfg = optimizer.ThompsonConfig(floor=0.005, max_change=0.2)
    rec = optimizer.recommend(stats, 1200, current="data/sample_current.csv", config=cfg)

Pure math: numpy, scipy, pandas and scikit-learn only; no tracking, web or database.
"""

from ._pbest import PBest, p_best_beta, p_best_beta_prime, p_best_gamma, p_best_monte_carlo
from ._random import Seed, as_generator
from .allocate import Allocation, allocate_budget
from .config import ThompsonConfig, load_config
from .current import InvalidCurrentError, load_current
from .delay import NO_DELAY, DelayCurve, delay_from_restatements, detect_delay, lag_profile
from .errors import (
    AdbanditError,
    AllocationError,
    ConfigError,
    InputProblem,
    InvalidInputError,
    InvalidStatsError,
    StatsWarning,
)
from .events import EventLog, InvalidEventsError, fit_delay, load_events
from .evidence import Evidence, fit_evidence
from .model import ArmPosteriors, GammaPoissonModel
from .recommend import ALLOCATION_COLUMNS, OBJECTIVES, Recommendation, recommend
from .stats import STATS_COLUMNS, aggregate_arms, load_stats, read_stats_file, validate_stats

__all__ = [
    "ALLOCATION_COLUMNS",
    "OBJECTIVES",
    "STATS_COLUMNS",
    "Seed",
    "AdbanditError",
    "Allocation",
    "AllocationError",
    "ArmPosteriors",
    "DelayCurve",
    "EventLog",
    "Evidence",
    "ConfigError",
    "GammaPoissonModel",
    "InputProblem",
    "InvalidCurrentError",
    "InvalidEventsError",
    "InvalidInputError",
    "InvalidStatsError",
    "NO_DELAY",
    "PBest",
    "Recommendation",
    "StatsWarning",
    "ThompsonConfig",
    "aggregate_arms",
    "allocate_budget",
    "as_generator",
    "delay_from_restatements",
    "detect_delay",
    "fit_delay",
    "fit_evidence",
    "lag_profile",
    "load_config",
    "load_current",
    "load_events",
    "load_stats",
    "p_best_beta",
    "p_best_beta_prime",
    "p_best_gamma",
    "p_best_monte_carlo",
    "read_stats_file",
    "recommend",
    "validate_stats",
]
