"""The conversion model: an empirical-Bayes Gamma-Poisson posterior per arm.

Per arm ``a`` (one creative shown to one audience)::

    conversions_a ~ Poisson(rate_a * exposure_a)      rate_a = conversions per unit of spend
    rate_a        ~ Gamma(k, k / m_a)                  prior mean m_a, worth k conversions
    rate_a | data ~ Gamma(k + conversions_a, k / m_a + exposure_a)

Prior mean ``m_a``
    A Poisson regression (scikit-learn ``PoissonRegressor``, log link) of each arm's
    conversions per spend on one-hot creative and audience main effects, with the
    arm's exposure as sample weight; that is the Poisson likelihood of the counts
    with ``log(exposure)`` as offset. Rates are divided by the pooled rate first and
    the ridge penalty is ``effect_l2_conversions / total conversions``, so an effect
    backed by ``effect_l2_conversions`` expected conversions is shrunk half-way to
    the pooled mean, whatever the currency. A new (creative, audience) pair gets
    ``exp(intercept + creative effect + audience effect)``; an unseen creative or
    audience contributes 0 (the pooled level). With no conversions at all, every
    arm's prior mean is half a conversion over the total exposure.

Prior strength ``k`` (type-II maximum likelihood, bounded)
    Marginally ``conversions_a`` is negative binomial with mean ``m_a * exposure_a``
    and shape ``k``; ``k`` maximises that marginal likelihood over the arms with
    exposure, then is clipped to ``[min_prior_strength, max_prior_strength]``. The
    upper bound is deliberate: while arms still look alike the unbounded maximum
    runs to infinity and would freeze every arm at its prior mean.

Arms with exposure but zero conversions are data, not "no data": their posterior
mean drops below the prior as exposure grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.linear_model import PoissonRegressor
from sklearn.preprocessing import OneHotEncoder

from ._random import Seed, as_generator
from .config import ThompsonConfig

__all__ = ["ArmPosteriors", "GammaPoissonModel"]


@dataclass(frozen=True)
class ArmPosteriors:
    """Gamma posteriors of conversions per unit of spend, one per arm.

    ``alpha`` (shape) and ``beta`` (rate, per money) have shape (n_arms,);
    ``arms`` holds the matching ``creative, audience`` rows.
    """

    arms: pd.DataFrame
    alpha: np.ndarray
    beta: np.ndarray
    prior_mean: np.ndarray
    prior_strength: float

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean conversions per unit of spend, ``alpha / beta``."""
        return self.alpha / self.beta

    def interval(self, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """Equal-tailed credible interval with mass ``level`` for every arm."""
        tail = (1.0 - level) / 2.0
        low = special.gammaincinv(self.alpha, tail) / self.beta
        high = special.gammaincinv(self.alpha, 1.0 - tail) / self.beta
        return low, high

    def sample(self, n_draws: int, seed: Seed = None) -> np.ndarray:
        """Posterior draws of the rates, shape (n_draws, n_arms)."""
        rng = as_generator(seed)
        return rng.gamma(self.alpha, 1.0 / self.beta, size=(n_draws, self.alpha.size))


class GammaPoissonModel:
    """Fit the empirical-Bayes prior on per-arm totals, then give posteriors for any arms.

    Parameters
    ----------
    config : ThompsonConfig
        Uses ``prior_strength``, ``min_prior_strength``, ``max_prior_strength`` and
        ``effect_l2_conversions``.

    Attributes
    ----------
    pooled_rate_ : float
        Total conversions over total exposure.
    prior_strength_ : float
        The fitted (or fixed) shape ``k``.

    Examples
    --------
    >>> totals = pd.DataFrame({"creative": ["c1", "c2"], "audience": ["a", "a"],
    ...     "exposure": [100.0, 100.0], "weighted_conversions": [4.0, 4.0]})
    >>> model = GammaPoissonModel(ThompsonConfig(prior_strength=2.0)).fit(totals)
    >>> post = model.posterior(totals[["creative", "audience"]])
    >>> post.alpha.tolist(), np.round(post.beta, 6).tolist()
    ([6.0, 6.0], [150.0, 150.0])
    """

    def __init__(self, config: ThompsonConfig | None = None) -> None:
        self.config = config or ThompsonConfig()

    def fit(self, totals: pd.DataFrame) -> GammaPoissonModel:
        """Fit prior mean and strength on ``totals`` (``aggregate_arms`` output).

        Needs columns ``creative, audience, exposure, weighted_conversions``.
        """
        exposure = totals["exposure"].to_numpy(dtype=float)
        conversions = totals["weighted_conversions"].to_numpy(dtype=float)
        seen = exposure > 0
        self.totals_ = totals
        self.pooled_rate_ = float(conversions.sum() / exposure.sum()) if seen.any() else 0.0
        self.encoder_: OneHotEncoder | None = None
        self.regression_: PoissonRegressor | None = None
        if conversions.sum() > 0:
            self.encoder_ = OneHotEncoder(handle_unknown="ignore", sparse_output=True)
            design = self.encoder_.fit_transform(totals.loc[seen, ["creative", "audience"]])
            y = conversions[seen] / exposure[seen] / self.pooled_rate_
            weight = exposure[seen] * self.pooled_rate_  # expected conversions at the pooled rate
            self.regression_ = PoissonRegressor(
                alpha=self.config.effect_l2_conversions / weight.sum(),
                max_iter=1000,
                tol=1e-10,
            )
            self.regression_.fit(design, y, sample_weight=weight)
        elif seen.any():
            self.pooled_rate_ = 0.5 / float(exposure.sum())
        else:
            self.pooled_rate_ = np.nan
        mean = self.prior_mean(totals[["creative", "audience"]])
        if self.config.prior_strength is not None:
            self.prior_strength_ = float(self.config.prior_strength)
        else:
            self.prior_strength_ = _fit_strength(
                conversions[seen],
                mean[seen] * exposure[seen],
                self.config.min_prior_strength,
                self.config.max_prior_strength,
            )
        return self

    def prior_mean(self, arms: pd.DataFrame) -> np.ndarray:
        """Prior mean conversions per unit of spend for any ``creative, audience`` rows."""
        if self.regression_ is None or self.encoder_ is None:
            return np.full(len(arms), self.pooled_rate_)
        design = self.encoder_.transform(arms[["creative", "audience"]])
        return self.pooled_rate_ * self.regression_.predict(design)

    def posterior(self, arms: pd.DataFrame) -> ArmPosteriors:
        """Posteriors for ``arms`` (``creative, audience``); arms absent from the fit
        data get the prior alone."""
        arms = arms[["creative", "audience"]].reset_index(drop=True)
        merged = arms.merge(
            self.totals_[["creative", "audience", "exposure", "weighted_conversions"]],
            on=["creative", "audience"],
            how="left",
        )
        exposure = merged["exposure"].fillna(0.0).to_numpy(dtype=float)
        conversions = merged["weighted_conversions"].fillna(0.0).to_numpy(dtype=float)
        mean = self.prior_mean(arms)
        k = self.prior_strength_
        return ArmPosteriors(
            arms=arms,
            alpha=k + conversions,
            beta=k / mean + exposure,
            prior_mean=mean,
            prior_strength=k,
        )


def _fit_strength(
    conversions: np.ndarray, expected: np.ndarray, low: float, high: float
) -> float:
    """Type-II ML shape of the negative-binomial marginal, clipped to [low, high]."""
    if conversions.size < 2:
        return high

    def neg_loglik(log_k: float) -> float:
        k = np.exp(log_k)
        ll = (
            special.gammaln(k + conversions)
            - special.gammaln(k)
            + k * np.log(k / (k + expected))
            + conversions * np.log(expected / (k + expected))
        )
        return -float(ll.sum())

    result = optimize.minimize_scalar(
        neg_loglik, bounds=(np.log(low), np.log(high)), method="bounded", options={"xatol": 1e-6}
    )
    return float(np.clip(np.exp(result.x), low, high))
