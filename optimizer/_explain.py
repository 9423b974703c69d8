"""One plain sentence per arm: what the evidence says, what happens, what limited it."""

from __future__ import annotations

import math
from typing import Any

from .config import ThompsonConfig

__all__ = ["reason"]


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _p_text(p: float) -> str:
    if p >= 0.995:
        return "> 0.99"
    if p >= 0.01:
        return f"{p:.2f}"
    if p >= 0.001:
        return f"{p:.3f}"
    return "< 0.001"


def reason(row: Any, n_arms: int, config: ThompsonConfig, objective: str = "conversions") -> str:
    """One plain sentence: what the evidence says, what happens, and what limited it."""
    if row.binding == "locked":
        return f"Locked by you: kept at its current {_money(row.budget)}."
    p = _p_text(row.p_best)
    if row.spend_to_date <= 0:
        evidence = f"New arm with no spend yet, judged from its creative and audience (P(best) {p})"
    else:
        plural = "s" if round(row.conversions_to_date) != 1 else ""
        conv = f"{row.conversions_to_date:,.0f} conversion{plural}"
        if row.p_best >= 0.5:
            lead = "Likely the best arm"
        elif row.p_best >= 1.0 / n_arms:
            lead = "A contender for best"
        elif row.p_best >= 0.01:
            lead = "Less likely to be best"
        else:
            lead = "Unlikely to be best"
        mature = f", {row.maturity:.0%} of them in yet" if row.maturity < 0.9 else ""
        evidence = f"{lead} (P(best) {p}, {conv} from {_money(row.spend_to_date)} so far{mature})"
        raised = math.isnan(row.current) or row.change > 0
        if row.round > 0 and row.p_best_open >= 0.01 and row.p_best < 0.5 and raised:
            evidence += (
                f"; better arms are at their limits and among the arms left its P(best) "
                f"is {_p_text(row.p_best_open)}"
            )
    if row.p_saturating > 0.5 and math.isfinite(row.saturation_median):
        evidence += (
            f"; returns diminish past about {_money(row.saturation_median)} a day "
            f"(P {row.p_saturating:.2f})"
        )
    if math.isnan(row.current):
        action = f"gets {_money(row.budget)}"
    elif row.change > 0.004:
        action = f"raised from {_money(row.current)} to {_money(row.budget)}"
    elif row.change < -0.004:
        action = f"cut from {_money(row.current)} to {_money(row.budget)}"
    else:
        action = f"kept at {_money(row.budget)}"
    limit = {
        "floor": ", the exploration floor that keeps it learning",
        "change_cap": f", held by the {config.max_change:.0%} change cap"
        if config.max_change is not None
        else "",
        "min_spend": ", its minimum spend",
        "max_spend": ", its maximum spend",
        "guardrail": _guardrail_text(row, config),
    }.get(row.binding, "")
    return f"{evidence}: {action}{limit}."


def _guardrail_text(row: Any, config: ThompsonConfig) -> str:
    parts = []
    if config.cpa_target and row.p_cpa_above_target > config.guardrail_level:
        parts.append(f"P(CPA > {_money(config.cpa_target)}) is {row.p_cpa_above_target:.2f}")
    if config.roas_floor and row.p_roas_below_floor > config.guardrail_level:
        parts.append(f"P(ROAS < {config.roas_floor:g}) is {row.p_roas_below_floor:.2f}")
    return f", held at the floor by the guardrail: {' and '.join(parts)}"
