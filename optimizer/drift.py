"""Drift: is a creative wearing out?

For each creative ``c`` and its arms ``a``, with ``t`` the day index and ``m`` the
delay maturity of the day (recent days are not yet complete; without ``m`` they
would look like decay)::

    conversions[a, t] ~ Poisson(rate_a * spend[a, t] * m(age_t) * exp(slope_c * t))

Each arm's rate is profiled out in closed form, the slope is fitted by maximum
likelihood, its standard error comes from the curvature of the profile likelihood,
and the creative is flagged when the slope is negative with one-sided
``p < alpha``. The slope is relative per day: -0.02 means the rate falls about 2%
a day (half-life ``ln 2 / 0.02 = 35`` days). A campaign-wide trend (seasonality)
moves every creative alike; compare the slopes before calling it fatigue.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .delay import NO_DELAY, DelayCurve
from .stats import default_as_of

__all__ = ["detect_fatigue"]


def detect_fatigue(
    stats_frame: pd.DataFrame,
    *,
    delay: DelayCurve = NO_DELAY,
    as_of: dt.date | None = None,
    alpha: float = 0.01,
    min_days: int = 7,
) -> pd.DataFrame:
    """Fit a per-creative rate slope over time and flag significant decline.

    Returns
    -------
    DataFrame, one row per creative
        ``creative, n_days, conversions, slope_per_day, slope_low, slope_high (90%),
        half_life_days, z, p_value, fatigued, evidence`` where ``evidence`` is one
        sentence with the first and last weeks' conversions per spend.

    Examples
    --------
    The sample campaign is stationary: nothing is flagged.

    >>> import optimizer  # doctest: +SKIP
    >>> stats = optimizer.load_stats("data/sample_stats.csv")  # doctest: +SKIP
    >>> detect_fatigue(stats)["fatigued"].any()  # doctest: +SKIP
    False
    """
    day = as_of or default_as_of(stats_frame)
    cutoff = np.datetime64(day, "D")
    dates = stats_frame["date"].to_numpy().astype("datetime64[D]")
    keep = dates < cutoff
    frame = stats_frame[keep]
    age = (cutoff - dates[keep]).astype(np.int64).astype(float)
    t = (dates[keep] - dates[keep].min()).astype(np.int64).astype(float) if keep.any() else age
    mature = delay.maturity(age)
    rows = []
    for creative, idx in frame.groupby("creative", sort=True).indices.items():
        rows.append(_one(creative, frame.iloc[idx], t[idx], mature[idx], alpha, min_days))
    return pd.DataFrame(rows)


def _one(
    creative: str,
    part: pd.DataFrame,
    t: np.ndarray,
    mature: np.ndarray,
    alpha: float,
    min_days: int,
) -> dict[str, object]:
    arm = pd.factorize(part["audience"].to_numpy())[0]
    n_arms = int(arm.max()) + 1
    spend = part["spend"].to_numpy(float) * mature
    conv = part["conversions"].to_numpy(float)
    total = np.bincount(arm, weights=conv, minlength=n_arms)
    n_days = int(np.unique(t).size)
    base: dict[str, object] = {
        "creative": creative,
        "n_days": n_days,
        "conversions": float(conv.sum()),
    }
    if n_days < min_days or conv.sum() < 10:
        return base | {
            "slope_per_day": np.nan,
            "slope_low": np.nan,
            "slope_high": np.nan,
            "half_life_days": np.nan,
            "z": np.nan,
            "p_value": np.nan,
            "fatigued": False,
            "evidence": f"not tested: {n_days} days and {conv.sum():.0f} conversions "
            f"(needs {min_days} days and 10 conversions)",
        }
    tc = t - t.mean()  # centring keeps the rates and the slope nearly independent
    ok = total > 0

    def loglik(slope: float) -> float:
        expected = np.bincount(arm, weights=spend * np.exp(slope * tc), minlength=n_arms)
        return float(
            np.sum(total[ok] * np.log(total[ok] / expected[ok])) + slope * np.sum(conv * tc)
        )

    res = optimize.minimize_scalar(lambda b: -loglik(b), bounds=(-1.0, 1.0), method="bounded")
    slope = float(res.x)
    h = 1e-4
    curvature = -(loglik(slope + h) - 2 * loglik(slope) + loglik(slope - h)) / h**2
    se = float(1 / np.sqrt(curvature)) if curvature > 0 else np.inf
    z = slope / se if np.isfinite(se) and se > 0 else 0.0
    p_value = float(stats.norm.cdf(z))  # one-sided: decline
    first = t <= t.min() + 6
    last = t >= t.max() - 6
    rate_first = conv[first].sum() / max(spend[first].sum(), 1e-12)
    rate_last = conv[last].sum() / max(spend[last].sum(), 1e-12)
    fatigued = bool(slope < 0 and p_value < alpha)
    verdict = "wearing out" if fatigued else "no significant decline"
    return base | {
        "slope_per_day": slope,
        "slope_low": slope - 1.645 * se,
        "slope_high": slope + 1.645 * se,
        "half_life_days": float(np.log(2) / -slope) if slope < 0 else np.inf,
        "z": float(z),
        "p_value": p_value,
        "fatigued": fatigued,
        "evidence": f"{verdict}: {slope:+.1%} a day (p = {p_value:.2g}); conversions per "
        f"spend {rate_first:.4f} in the first week, {rate_last:.4f} in the last "
        "(delay-corrected)",
    }
