"""adbandit's experiments: simulated campaigns and Bayesian A/B readouts.

Quickstart::

    import experiments

    counts = pd.DataFrame({"variant": ["A", "B"], "users": [1000, 1000],
                           "conversions": [100, 130]})
    result = experiments.analyze_ab(counts, control="A")      # one row per variant
    experiments.stopping_rule(result, srm=experiments.srm_check(counts))

    campaign = experiments.make_campaign(delay_mean_days=3, seed=1)  # known truth
    campaign.play(spend)                                        # one day of spend
    campaign.stats()                                            # what a platform reports

MLflow tracking, the policy runner, tuning and comparison are still to come.
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
from .simulate import ArmTruth, SimulatedCampaign, make_campaign

__all__ = [
    "METRICS",
    "AbDecision",
    "ArmTruth",
    "InvalidCountsError",
    "SimulatedCampaign",
    "analyze_ab",
    "load_counts",
    "make_campaign",
    "srm_check",
    "stopping_rule",
]
