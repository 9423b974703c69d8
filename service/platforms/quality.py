"""The data-quality report made on every import: what looks wrong in the stats and how
each finding affects the recommendation.

Findings (one row each): ``missing_days`` (an arm has no row on days the campaign
reported), ``duplicated_days`` (the export repeated a day; identical repeats were
merged), ``tracking_break`` (clicks go on but conversions stop for longer than the
arm's own rate makes believable: P(no conversion) < ``alpha`` under a Poisson with
the arm's usual conversions per click), ``delivery_shortfall`` (the platform spent
less than ``shortfall`` of the approved budget on the latest day) and ``cpc_jump`` /
``ctr_jump`` (a day's cost per click or click-through rate ``jump`` times above or
below the arm's median).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["QUALITY_COLUMNS", "QualityReport", "quality_report"]

QUALITY_COLUMNS = ("kind", "campaign", "creative", "audience", "first_day", "last_day", "detail",
                   "effect")  # fmt: skip


@dataclass(frozen=True)
class QualityReport:
    """Findings as a table (:data:`QUALITY_COLUMNS`) and the arms to hold at their current
    spend until their tracking recovers."""

    findings: pd.DataFrame
    hold: list[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        rows = self.findings.astype(object).where(self.findings.notna(), None)
        return {
            "n_findings": len(self.findings),
            "findings": rows.to_dict("records"),
            "hold": [{"creative": c, "audience": a} for c, a in self.hold],
        }

    def table(self) -> str:
        if self.findings.empty:
            return "data quality: no findings"
        lines = [f"data quality: {len(self.findings)} finding(s)"]
        for r in self.findings.itertuples():
            days = r.first_day if r.first_day == r.last_day else f"{r.first_day}..{r.last_day}"
            lines.append(f"  {r.kind:<18} ({r.creative}, {r.audience}) {days}: {r.detail}")
            lines.append(f"  {'':<18} -> {r.effect}")
        return "\n".join(lines)


def quality_report(
    stats: pd.DataFrame,
    *,
    approved: pd.DataFrame | None = None,
    n_duplicates: int = 0,
    alpha: float = 0.01,
    min_break_days: int = 2,
    shortfall: float = 0.5,
    jump: float = 3.0,
) -> QualityReport:
    """Check validated stats (and optionally the approved split: creative, audience,
    budget) and say how each finding affects the recommendation."""
    rows: list[dict[str, Any]] = []
    hold: list[tuple[str, str]] = []
    if n_duplicates:
        rows.append(
            _row(
                "duplicated_days",
                "",
                "",
                "",
                None,
                None,
                f"{n_duplicates} day(s) appeared twice with the same figures; merged",
                "none: each day counts once",
            )
        )
    for (campaign, creative, audience), arm in stats.groupby(
        ["campaign", "creative", "audience"], sort=True
    ):
        arm = arm.sort_values("date")
        days = pd.DatetimeIndex(stats.loc[stats["campaign"] == campaign, "date"].unique())
        key = (str(campaign), str(creative), str(audience))
        rows += _missing(key, arm, days)
        found = _tracking_break(key, arm, alpha, min_break_days, days.max())
        if found is not None:
            rows.append(found)
            if found["effect"].startswith("held"):
                hold.append((str(creative), str(audience)))
        rows += _jumps(key, arm, jump)
    if approved is not None and len(stats):
        rows += _shortfall(stats, approved, shortfall)
    findings = pd.DataFrame(rows, columns=list(QUALITY_COLUMNS))
    return QualityReport(findings, hold)


def _row(
    kind: str,
    campaign: str,
    creative: str,
    audience: str,
    first: pd.Timestamp | None,
    last: pd.Timestamp | None,
    detail: str,
    effect: str,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "campaign": campaign,
        "creative": creative,
        "audience": audience,
        "first_day": first.strftime("%Y-%m-%d") if first is not None else None,
        "last_day": last.strftime("%Y-%m-%d") if last is not None else None,
        "detail": detail,
        "effect": effect,
    }


def _missing(
    key: tuple[str, str, str], arm: pd.DataFrame, days: pd.DatetimeIndex
) -> list[dict[str, Any]]:
    span = days[(days >= arm["date"].min()) & (days <= days.max())]
    gone = span.difference(pd.DatetimeIndex(arm["date"]))
    if gone.empty:
        return []
    return [
        _row(
            "missing_days",
            *key,
            gone.min(),
            gone.max(),
            f"no row on {len(gone)} day(s) the campaign reported",
            "those days count as no spend and no conversions; if the arm ran, re-export them",
        )
    ]


def _tracking_break(
    key: tuple[str, str, str],
    arm: pd.DataFrame,
    alpha: float,
    min_days: int,
    last_day: pd.Timestamp,
) -> dict[str, Any] | None:
    clicks = arm["clicks"].to_numpy(float)
    conv = arm["conversions"].to_numpy(float)
    dates = arm["date"].to_numpy()
    silent = (clicks > 0) & (conv == 0)
    worst: tuple[float, int, int] | None = None
    i = 0
    while i < len(silent):
        if not silent[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(silent) and silent[j + 1]:
            j += 1
        if j - i + 1 >= min_days:
            outside = np.ones(len(silent), bool)
            outside[i : j + 1] = False
            if clicks[outside].sum() > 0:
                rate = conv[outside].sum() / clicks[outside].sum()
                expected = rate * clicks[i : j + 1].sum()
                p_zero = math.exp(-expected)
                if p_zero < alpha and (worst is None or p_zero < worst[0]):
                    worst = (p_zero, i, j)
        i = j + 1
    if worst is None:
        return None
    p_zero, i, j = worst
    first, last = pd.Timestamp(dates[i]), pd.Timestamp(dates[j])
    ongoing = last == last_day
    detail = (
        f"{int(clicks[i : j + 1].sum())} clicks over {j - i + 1} days and no conversion; "
        f"at its usual rate that happens with probability {p_zero:.1e}"
    )
    effect = (
        "held at its current spend until tracking recovers (lock it in the current split)"
        if ongoing
        else "the model reads those days as a real slump; exclude them if tracking was down"
    )
    return _row("tracking_break", *key, first, last, detail, effect)


def _jumps(key: tuple[str, str, str], arm: pd.DataFrame, factor: float) -> list[dict[str, Any]]:
    out = []
    for kind, num, den, floor, what in (
        ("cpc_jump", "spend", "clicks", 20, "cost per click"),
        ("ctr_jump", "clicks", "impressions", 500, "click-through rate"),
    ):
        ok = arm[den] >= floor
        if ok.sum() < 5:
            continue
        ratio = arm.loc[ok, num] / arm.loc[ok, den]
        median = float(ratio.median())
        if median <= 0:
            continue
        far = (ratio > factor * median) | (ratio < median / factor)
        if far.any():
            days = arm.loc[ratio[far].index, "date"]
            out.append(
                _row(
                    kind,
                    *key,
                    days.min(),
                    days.max(),
                    f"{what} moved beyond {factor:g}x its median ({median:.4g}) on "
                    f"{int(far.sum())} day(s)",
                    "counted as is; set half_life_days so older days weigh less if the arm "
                    "changed for good",
                )
            )
    return out


def _shortfall(stats: pd.DataFrame, approved: pd.DataFrame, share: float) -> list[dict[str, Any]]:
    last = stats["date"].max()
    day = stats[stats["date"] == last].set_index(["creative", "audience"])["spend"]
    out = []
    for r in approved.itertuples():
        budget = float(r.budget)
        spent = float(day.get((r.creative, r.audience), 0.0))
        if budget > 0 and spent < share * budget:
            out.append(
                _row(
                    "delivery_shortfall",
                    "",
                    str(r.creative),
                    str(r.audience),
                    last,
                    last,
                    f"spent {spent:.2f} of the approved {budget:.2f} ({spent / budget:.0%})",
                    "its results reflect less spend than planned; the next split starts from "
                    "what was spent, check its bid or audience size",
                )
            )
    return out
