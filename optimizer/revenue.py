"""Value per conversion, revenue per spend (ROAS) and the CPA / ROAS guardrails.

Value model (Gamma-Gamma, conjugate). Order values are Gamma with shape ``kappa`` and
rate ``lam_a = kappa / value_a``, so an arm's revenue over ``n_a`` conversions is
``Gamma(n_a * kappa, lam_a)``. With the prior ``lam_a ~ Gamma(1 + m * kappa, m * v0)``
(``v0`` the campaign's value per conversion, ``m`` = ``value_prior_conversions``)::

    lam_a | data ~ Gamma(1 + (m + n_a) kappa, m v0 + R_a)
    E[value_a]   = (m v0 + R_a) / (m + n_a)

``kappa`` is estimated from the spread of daily order values (a day with ``c``
conversions has ``Var(AOV) = value^2 / (kappa c)``). Robust to a few huge orders:
before anything else a day's revenue is capped at its conversions times the 99th
percentile of daily order value across the campaign (the number of capped days is
reported).

Revenue per spend is ``rate * value = kappa (b / beta) X / Y`` with ``X ~ Gamma(alpha)``
and ``Y ~ Gamma(a)`` independent, i.e. a scaled BetaPrime(alpha, a): its quantiles,
``P(ROAS < floor)`` and P(best) are exact (no Monte Carlo). ``P(CPA > target) =
P(rate < 1 / target)`` is a Gamma CDF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from .model import ArmPosteriors

__all__ = [
    "ValuePosteriors",
    "cap_revenue",
    "fit_values",
    "p_cpa_above",
    "p_roas_below",
    "roas_summary",
]


@dataclass(frozen=True)
class ValuePosteriors:
    """Posterior of ``lam = kappa / value`` per arm: ``Gamma(shape, rate)``."""

    shape: np.ndarray
    rate: np.ndarray
    kappa: float
    prior_value: float
    n_capped_days: int

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean value per conversion."""
        return self.kappa * self.rate / (self.shape - 1.0)

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        tail = (1 - level) / 2
        lam_hi = special.gammaincinv(self.shape, 1 - tail) / self.rate
        lam_lo = special.gammaincinv(self.shape, tail) / self.rate
        return self.kappa / lam_hi, self.kappa / lam_lo


def cap_revenue(stats_frame: pd.DataFrame, factor: float = 5.0) -> tuple[pd.DataFrame, int]:
    """Cap each day's order value at ``factor`` x its arm's median daily order value.

    The median is robust to the very orders being capped (a high quantile is not: with
    a few weeks of rows it is set by the outlier itself). Arms with fewer than five
    converting days use the campaign's median. Returns the capped frame and how many
    days were capped.
    """
    conv = stats_frame["conversions"].to_numpy(float)
    rev = stats_frame["revenue"].to_numpy(float)
    has = conv > 0
    if not has.any():
        return stats_frame, 0
    aov = pd.Series(np.where(has, rev / np.where(has, conv, 1.0), np.nan))
    arm = pd.Series(
        stats_frame["creative"].to_numpy() + "\x1f" + stats_frame["audience"].to_numpy()
    )
    grouped = aov.groupby(arm.to_numpy())
    median = grouped.transform("median").to_numpy()
    days = grouped.transform("count").to_numpy()
    typical = np.where(days >= 5, median, float(np.nanmedian(aov)))
    capped = np.where(has, np.minimum(rev, conv * factor * typical), rev)
    n = int(np.sum(capped < rev - 1e-9))
    return stats_frame.assign(revenue=capped), n


def fit_values(
    daily: pd.DataFrame,
    totals: pd.DataFrame,
    arms: pd.DataFrame,
    *,
    prior_conversions: float = 10.0,
    n_capped_days: int = 0,
) -> ValuePosteriors:
    """Value-per-conversion posteriors for ``arms``.

    ``daily`` are the (capped) stats rows, used for the order-value spread ``kappa``;
    ``totals`` the per-arm sums of :func:`optimizer.aggregate_arms` on those rows.
    """
    conv_t = totals["conversions"].to_numpy(float)
    rev_t = totals["revenue"].to_numpy(float)
    v0 = float(rev_t.sum() / conv_t.sum()) if conv_t.sum() > 0 else 0.0
    conv = daily["conversions"].to_numpy(float)
    has = np.flatnonzero(conv > 0)
    if has.size >= 5 and v0 > 0:
        rows = has[np.linspace(0, has.size - 1, min(has.size, 20_000)).astype(int)]
        part = daily.iloc[rows]
        value_of = pd.Series(
            np.where(conv_t > 0, rev_t / np.maximum(conv_t, 1e-12), v0),
            index=pd.MultiIndex.from_frame(totals[["creative", "audience"]]),
        )
        ref = value_of.reindex(pd.MultiIndex.from_frame(part[["creative", "audience"]]))
        ref = ref.fillna(v0).to_numpy()
        c = part["conversions"].to_numpy(float)
        aov = part["revenue"].to_numpy(float) / c
        inv_kappa = float(np.mean(c * (aov / np.maximum(ref, 1e-12) - 1.0) ** 2))
        kappa = float(np.clip(1.0 / max(inv_kappa, 1e-6), 0.2, 100.0))
    else:
        kappa = 1.0
    index = pd.MultiIndex.from_frame(totals[["creative", "audience"]])
    want = pd.MultiIndex.from_frame(arms[["creative", "audience"]])
    n = pd.Series(conv_t, index=index).reindex(want).fillna(0.0).to_numpy()
    r = pd.Series(rev_t, index=index).reindex(want).fillna(0.0).to_numpy()
    m = prior_conversions
    return ValuePosteriors(
        shape=1.0 + (m + n) * kappa,
        rate=m * max(v0, 1e-12) + r,
        kappa=kappa,
        prior_value=v0,
        n_capped_days=n_capped_days,
    )


def roas_parameters(
    rates: ArmPosteriors, values: ValuePosteriors
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, q, scale) with revenue per spend = scale * BetaPrime(p, q)."""
    return rates.alpha, values.shape, values.kappa * values.rate / rates.beta


def roas_summary(
    rates: ArmPosteriors, values: ValuePosteriors, level: float = 0.9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and equal-tailed interval of revenue per spend, exactly."""
    p, q, scale = roas_parameters(rates, values)
    tail = (1 - level) / 2
    mean = scale * p / (q - 1.0)
    return (
        mean,
        scale * stats.betaprime.ppf(tail, p, q),
        scale * stats.betaprime.ppf(1 - tail, p, q),
    )


def p_cpa_above(rates: ArmPosteriors, target: float) -> np.ndarray:
    """P(CPA > target) = P(rate < 1 / target), a Gamma CDF."""
    return special.gammainc(rates.alpha, rates.beta / target)


def p_roas_below(rates: ArmPosteriors, values: ValuePosteriors, floor: float) -> np.ndarray:
    """P(revenue per spend < floor), a BetaPrime CDF."""
    p, q, scale = roas_parameters(rates, values)
    y = floor / scale
    return special.betainc(p, q, y / (1.0 + y))
