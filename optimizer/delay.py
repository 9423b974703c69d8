"""Conversion delay: F(d), the share of eventual conversions that arrive within d days.

A day of spend that is ``age`` days old (counted from ``as_of``; the latest day is 1 day
old) has had its clicks spread over one day, so only

    m(age) = mean over u in [0, 1) of F(age - u)

of its eventual conversions can have arrived; its exposure in the conversion model is
``spend * m(age)``. Where F comes from:

- :func:`lag_profile` -- given by the user: ``"90% within 7 days"`` (an exponential
  curve through that point) or a table ``{1: 0.5, 3: 0.8, 7: 1.0}``.
- :func:`detect_delay` -- found in the stats table itself (the default when nothing is
  known): pooled over arms, conversions per spend by age of the day, fitted by profile
  likelihood with each arm's rate profiled out; kept only when a likelihood-ratio test
  against "no lag" says so, so data without lag cost nothing.
- :func:`delay_from_restatements` -- learned from the same days re-sent later with more
  conversions (a history of exports).
- :func:`optimizer.events.fit_delay` -- fitted from click and conversion logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .errors import ConfigError

__all__ = ["NO_DELAY", "DelayCurve", "delay_from_restatements", "detect_delay", "lag_profile"]

_QUAD = (np.arange(8) + 0.5) / 8  # midpoints for the within-day average


@dataclass(frozen=True)
class DelayCurve:
    """A conversion-delay CDF with where it came from and why we believe it.

    ``kind`` is "none" (F = 1), "exponential" (``F = immediate + (1 - immediate) *
    (1 - exp(-d / mean_days))``), "weibull" (``F = 1 - exp(-(d / scale) ** shape)``)
    or "table" (piecewise linear through ``days``/``values``). ``low``/``high``, when
    present, bound F at ``band_days`` (a 90% band). ``evidence`` holds the numbers
    behind the choice (likelihoods, test statistic, per-age table ...).
    """

    kind: str
    params: dict[str, float] = field(default_factory=dict)
    source: str = "none"
    days: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    band_days: tuple[float, ...] = ()
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    def cdf(self, days: np.ndarray | float) -> np.ndarray:
        """F(d) for delays ``d`` in days (0 for d <= 0)."""
        d = np.asarray(days, dtype=float)
        if self.kind == "none":
            return np.where(d >= 0, 1.0, 0.0)
        pos = np.maximum(d, 0.0)
        if self.kind == "exponential":
            p0, mean = self.params["immediate"], self.params["mean_days"]
            out = p0 + (1 - p0) * -np.expm1(-pos / mean)
        elif self.kind == "weibull":
            k, lam = self.params["shape"], self.params["scale"]
            out = -np.expm1(-((pos / lam) ** k))
        elif self.kind == "table":
            out = np.interp(pos, (0.0, *self.days), (0.0, *self.values), right=1.0)
        else:  # pragma: no cover - guarded by the constructors
            raise ConfigError(f"unknown delay kind {self.kind!r}")
        return np.where(d > 0, out, 0.0)

    def maturity(self, age: np.ndarray | float) -> np.ndarray:
        """m(age): the share of a day's eventual conversions seen ``age`` days later."""
        a = np.asarray(age, dtype=float)
        if self.kind == "none":
            return np.where(a >= 1, 1.0, 0.0) if a.ndim else np.asarray(float(a >= 1))
        return self.cdf(a[..., None] - _QUAD).mean(axis=-1)

    def median_days(self) -> float:
        """Days until half of the eventual conversions have arrived."""
        if self.kind == "none":
            return 0.0
        grid = np.linspace(0, 365, 36_501)
        return float(grid[np.searchsorted(self.cdf(grid), 0.5)])

    def describe(self) -> str:
        """One line for people: "detected from the stats: 50% within 2.1 days, ..."."""
        if self.kind == "none":
            return "no conversion delay" + (f" ({self.source})" if self.source != "none" else "")
        grid = np.linspace(0, 365, 36_501)
        f = self.cdf(grid)

        def within(q: float) -> str:
            i = min(int(np.searchsorted(f, q)), grid.size - 1)
            return f"{q:.0%} within {grid[i]:.1f} days"

        return f"{self.kind} delay from {self.source}: {within(0.5)}, {within(0.9)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": dict(self.params),
            "source": self.source,
            "description": self.describe(),
            "evidence": self.evidence,
        }


NO_DELAY = DelayCurve("none", source="none")

_PROFILE = re.compile(
    r"^\s*(?P<share>\d+(?:\.\d+)?)\s*%\s*(?:of conversions\s*)?within\s*"
    r"(?P<days>\d+(?:\.\d+)?)\s*days?\s*$",
    re.IGNORECASE,
)


def lag_profile(spec: str | Mapping[float, float]) -> DelayCurve:
    """A delay curve the user knows: ``"90% within 7 days"`` or ``{days: share}``.

    Examples
    --------
    >>> round(float(lag_profile("90% within 7 days").cdf(7.0)), 6)
    0.9
    >>> lag_profile({1: 0.5, 3: 0.8, 7: 1.0}).cdf([1, 2, 10]).round(3).tolist()
    [0.5, 0.65, 1.0]
    """
    if isinstance(spec, str):
        match = _PROFILE.match(spec)
        if not match:
            raise ConfigError(
                f"lag profile {spec!r} not understood; write e.g. '90% within 7 days'"
            )
        share, within = float(match["share"]) / 100, float(match["days"])
        if not 0 < share < 1 or within <= 0:
            raise ConfigError(f"lag profile {spec!r}: the share must be in (0%, 100%) and days > 0")
        mean = -within / np.log1p(-share)
        return DelayCurve(
            "exponential", {"immediate": 0.0, "mean_days": float(mean)}, source="given"
        )
    items = sorted((float(d), float(v)) for d, v in spec.items())
    if not items:
        raise ConfigError("lag profile table is empty")
    days = tuple(d for d, _ in items)
    values = tuple(v for _, v in items)
    if days[0] <= 0:
        raise ConfigError("lag profile days must be > 0")
    if any(b < a for a, b in zip(values, values[1:], strict=False)) or not 0 <= values[0]:
        raise ConfigError("lag profile shares must rise with the days and stay within [0, 1]")
    if values[-1] != 1.0:
        raise ConfigError(
            f"lag profile must reach 1 (100%) at its last day, got {values[-1]} at {days[-1]}"
        )
    return DelayCurve("table", source="given", days=days, values=values)


def detect_delay(
    stats_frame: pd.DataFrame,
    *,
    as_of: Any = None,
    max_age_days: int = 28,
    alpha: float = 0.05,
) -> DelayCurve:
    """Find a conversion lag shared by all arms in the daily stats alone.

    Model: ``conversions[a, t] ~ Poisson(rate_a * spend[a, t] * m(age_t))`` with m from
    an exponential-with-immediate-share F (two parameters). For fixed F each arm's rate
    has a closed-form maximum, so the profile log-likelihood is

        l(F) = sum_a C_a log(C_a / E_a(F)) + sum_{a,t} c_{a,t} log m(age_t)

    with ``E_a(F) = sum_t spend[a, t] m(age_t)``. The lag is kept only if the likelihood
    ratio against F = 1 passes a chi-square test with 2 degrees of freedom at ``alpha``;
    otherwise the answer is "no delay". Days older than ``max_age_days`` count as
    mature. ``evidence`` carries the test, a profile-likelihood 90% interval of the
    mean delay (wide when the history is short next to the lag: measured, a 5-day
    mean lag over 20 days of history was estimated anywhere from 5 to 19 days) and a
    per-age table (observed conversions against what mature days predict, and the
    fitted m).
    """
    from .stats import default_as_of  # local: stats imports nothing from here

    day = as_of if as_of is not None else default_as_of(stats_frame)
    cutoff = np.datetime64(day, "D")
    dates = stats_frame["date"].to_numpy().astype("datetime64[D]")
    keep = dates < cutoff
    age = (cutoff - dates[keep]).astype(np.int64).astype(float)
    spend = stats_frame["spend"].to_numpy(float)[keep]
    conv = stats_frame["conversions"].to_numpy(float)[keep]
    arm = pd.factorize(
        stats_frame["creative"].to_numpy()[keep] + "\x1f" + stats_frame["audience"].to_numpy()[keep]
    )[0]
    age = np.minimum(age, float(max_age_days)).astype(np.int64)
    n_arms = int(arm.max()) + 1 if arm.size else 0
    evidence: dict[str, Any] = {"rows": int(keep.sum()), "conversions": float(conv.sum())}
    if conv.sum() < 20 or spend.sum() <= 0:
        evidence["verdict"] = "too few conversions to look for a delay (< 20)"
        return DelayCurve("none", source="stats", evidence=evidence)
    # Sufficient statistics: spend per (arm, age) and conversions per age.
    ages = np.arange(1, max_age_days + 1, dtype=float)
    cell = arm * max_age_days + (age - 1)
    spend_by = np.bincount(cell, weights=spend, minlength=n_arms * max_age_days).reshape(
        n_arms, max_age_days
    )
    conv_by_age = np.bincount(age - 1, weights=conv, minlength=max_age_days)
    total_conv = np.bincount(arm, weights=conv, minlength=n_arms)
    ok = total_conv > 0

    def loglik(curve: DelayCurve) -> float:
        m = np.maximum(curve.maturity(ages), 1e-12)
        expected = spend_by[ok] @ m
        return float(
            np.sum(total_conv[ok] * np.log(total_conv[ok] / expected))
            + np.sum(conv_by_age * np.log(m))
        )

    def curve_of(theta: np.ndarray) -> DelayCurve:
        immediate = float(1 / (1 + np.exp(-theta[0])))
        return DelayCurve(
            "exponential",
            {"immediate": immediate, "mean_days": float(np.exp(theta[1]))},
            source="stats",
        )

    base = loglik(NO_DELAY)
    best: Any = None
    for start in ([0.0, 0.5], [-2.0, 1.5], [2.0, 0.0]):
        res = optimize.minimize(
            lambda th: -loglik(curve_of(th)),
            np.array(start),
            method="L-BFGS-B",
            bounds=[(-8.0, 8.0), (np.log(0.05), np.log(60.0))],
        )
        if best is None or res.fun < best.fun:
            best = res
    fitted = curve_of(best.x)
    lr = max(0.0, 2.0 * (-best.fun - base))
    p_value = float(stats.chi2.sf(lr, df=2))
    evidence.update(
        {
            "loglik_no_delay": base,
            "loglik_delay": float(-best.fun),
            "likelihood_ratio": lr,
            "p_value": p_value,
            "by_age": _age_table(spend_by, conv_by_age, total_conv, fitted, max_age_days),
        }
    )
    if p_value >= alpha:
        evidence["verdict"] = f"no delay detected (likelihood ratio {lr:.1f}, p = {p_value:.2g})"
        return DelayCurve("none", source="stats", evidence=evidence)
    # Profile-likelihood 90% interval of the mean delay (short histories leave it
    # wide); only worth its 40 optimisations once a delay is detected.
    grid = np.exp(np.linspace(np.log(0.05), np.log(60.0), 41))
    profile = []
    for log_mean in np.log(grid):
        res = optimize.minimize_scalar(
            lambda logit, lm=log_mean: -loglik(curve_of(np.array([logit, lm]))),
            bounds=(-8.0, 8.0),
            method="bounded",
        )
        profile.append(-res.fun)
    inside = grid[2.0 * (-best.fun - np.array(profile)) <= stats.chi2.ppf(0.9, df=1)]
    evidence["mean_days"] = fitted.params["mean_days"]
    evidence["mean_days_90pct"] = (
        [float(inside.min()), float(inside.max())] if inside.size else [evidence["mean_days"]] * 2
    )
    evidence["verdict"] = f"delay detected (likelihood ratio {lr:.1f}, p = {p_value:.2g})"
    return DelayCurve(fitted.kind, fitted.params, source="stats", evidence=evidence)


def _age_table(
    spend_by: np.ndarray,
    conv_by_age: np.ndarray,
    total_conv: np.ndarray,
    curve: DelayCurve,
    max_age: int,
) -> list[dict[str, float]]:
    """Per age: conversions seen against what mature days predict (arm mix adjusted).

    Mature days are those at least 14 days old (all of them pooled, so one day's noise
    does not set the scale), or the oldest age present if none is that old.
    """
    arm_weight = total_conv / np.maximum(spend_by.sum(axis=1), 1e-12)
    expected_by_age = arm_weight @ spend_by  # at each arm's overall rate
    present = np.flatnonzero(spend_by.sum(axis=0) > 0)
    mature = present[present >= 13] if np.any(present >= 13) else present[-1:]
    mature_expected = float(expected_by_age[mature].sum())
    scale = conv_by_age[mature].sum() / mature_expected if mature_expected > 0 else float("nan")
    rows = []
    for a in range(1, min(max_age, 14) + 1):
        expected = float(expected_by_age[a - 1]) * scale
        rows.append(
            {
                "age_days": a,
                "spend": float(spend_by[:, a - 1].sum()),
                "conversions": float(conv_by_age[a - 1]),
                "observed_share": float(conv_by_age[a - 1] / expected)
                if expected > 0
                else float("nan"),
                "fitted_share": float(curve.maturity(np.array([float(a)]))[0]),
            }
        )
    return rows


def delay_from_restatements(snapshots: pd.DataFrame, *, mature_after: int = 28) -> DelayCurve:
    """Learn the delay from the same days reported again later with more conversions.

    ``snapshots`` is the stats table exported on several days, with a
    ``reported_on`` column (ISO date) beside the usual columns; each export is
    validated on its own (a key may repeat across exports, not within one). For a
    day of spend reported ``a`` days later, the share of its eventual conversions
    already in is ``m(a) = sum conversions at a / sum conversions when mature``,
    over the (campaign, date, creative, audience) keys that also have a report at
    least ``mature_after`` days old (a ratio of sums). The curve returned is
    piecewise linear through ``(a - 1/2, m(a))``, so its :meth:`DelayCurve.maturity`
    reproduces the measured shares.
    """
    from .errors import InputProblem, InvalidStatsError
    from .stats import KEY_COLUMNS, validate_stats

    if "reported_on" not in snapshots.columns:
        raise InvalidStatsError(
            [InputProblem(None, "reported_on", "required column 'reported_on' is missing")]
        )
    reported = pd.to_datetime(snapshots["reported_on"], format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(reported.isna().to_numpy())
    if bad.size:
        raise InvalidStatsError(
            [
                InputProblem(
                    int(i) + 1,
                    "reported_on",
                    f"reported_on ({snapshots['reported_on'].iloc[i]!r}) is not an ISO date",
                )
                for i in bad
            ]
        )
    parts = []
    for day, idx in snapshots.groupby(reported.to_numpy()).indices.items():
        part = validate_stats(snapshots.iloc[idx].drop(columns=["reported_on"]))
        parts.append(part.assign(reported_on=pd.Timestamp(day)))
    frame = pd.concat(parts, ignore_index=True)
    frame["age"] = (frame["reported_on"] - frame["date"]).dt.days
    early = frame[frame["age"] < 1]
    if len(early):
        raise InvalidStatsError(
            [
                InputProblem(
                    None, "reported_on", f"{len(early)} rows are reported before their day ended"
                )
            ]
        )
    key = list(KEY_COLUMNS)
    latest = frame.sort_values("age").groupby(key, sort=False).tail(1)
    mature = latest[latest["age"] >= mature_after][key + ["conversions"]]
    mature = mature.rename(columns={"conversions": "final"})
    joined = frame.merge(mature, on=key, how="inner")
    joined = joined[(joined["age"] < mature_after) & (joined["final"] >= 0)]
    evidence: dict[str, Any] = {"exports": len(parts), "mature_keys": len(mature)}
    if joined.empty or mature["final"].sum() <= 0:
        evidence["verdict"] = (
            f"no day was reported both early and at least {mature_after} days later"
        )
        return DelayCurve("none", source="restatements", evidence=evidence)
    by_age = joined.groupby("age").agg(seen=("conversions", "sum"), final=("final", "sum"))
    by_age = by_age[by_age["final"] > 0]
    share = np.clip(np.maximum.accumulate((by_age["seen"] / by_age["final"]).to_numpy()), 0, 1)
    ages = by_age.index.to_numpy(float)
    evidence["by_age"] = [
        {"age_days": int(a), "conversions": float(s), "final": float(f), "share": float(m)}
        for a, s, f, m in zip(ages, by_age["seen"], by_age["final"], share, strict=True)
    ]
    evidence["verdict"] = (
        f"learned from {len(joined):,} early reports of {len(mature):,} mature days"
    )
    days = tuple(np.concatenate([ages - 0.5, [float(mature_after)]]).tolist())
    values = tuple(np.concatenate([share, [1.0]]).tolist())
    return DelayCurve("table", source="restatements", days=days, values=values, evidence=evidence)
