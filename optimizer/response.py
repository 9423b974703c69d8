"""Diminishing returns: a saturating response curve per arm and the split it implies.

Expected conversions of a day's spend ``s`` in arm ``a``::

    r_a * K_a * (1 - exp(-s / K_a))        (-> r_a * s as K_a -> infinity: linear)

``r_a`` is conversions per unit of spend at low spend and ``K_a`` the saturation scale
(money per day). For a fixed ``K`` the rate is conjugate: with the core model's prior
``r ~ Gamma(k_a, k_a / m_a)`` and the day's delay maturity ``m_t``,
``r | K ~ Gamma(k_a + C_a, k_a / m_a + sum_t m_t g_K(s_t))`` with
``g_K(s) = K (1 - exp(-s / K))``, and the marginal likelihood of ``K`` is closed form.
So each arm gets an exact posterior over a grid ``K in median daily spend x {0.25, 0.5,
1, 2, 4, 8}`` plus ``K = infinity``, with half the prior mass on "linear": when the
data cannot tell, the arm stays linear. An arm whose daily spend never varied
(coefficient of variation < ``min_spend_cv`` or fewer than 5 days) is linear: its
curve cannot be seen.

Split: draw ``(r, K)`` for every arm from the posterior, solve that draw's optimal
split of the budget by water-filling (every arm's marginal conversions per unit of
spend, ``r exp(-x / K)``, equal at the optimum), and average the splits over draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from ._random import Seed, as_generator

__all__ = ["ResponseCurves", "fit_response", "optimal_split", "expected_conversions"]

_K_MULTIPLES = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])


def expected_conversions(r: np.ndarray, k: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """``r * K * (1 - exp(-spend / K))``, linear where ``K`` is infinite."""
    with np.errstate(invalid="ignore", over="ignore"):
        sat = r * k * -np.expm1(-spend / k)
    return np.where(np.isinf(k), r * spend, sat)


@dataclass(frozen=True)
class ResponseCurves:
    """Posterior of each arm's saturation scale (a grid) and rate given it.

    ``k_grid`` (n_arms, G) with ``inf`` for linear; ``weights`` (n_arms, G) sum to 1;
    ``alpha``/``beta`` (n_arms, G) are the Gamma posterior of ``r`` given each ``K``.
    """

    k_grid: np.ndarray
    weights: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    varied: np.ndarray

    @property
    def p_saturating(self) -> np.ndarray:
        """Posterior probability that the arm's returns diminish (K finite)."""
        return 1.0 - self.weights[:, -1]

    @property
    def p_campaign_saturating(self) -> float:
        """Pooled evidence that returns diminish in this campaign.

        Each varied arm's posterior odds equal its Bayes factor (prior odds 1), and
        independent arms' log Bayes factors add: ``sigmoid(sum_a logit P_a)``. Many
        linear arms drive it to 0, so it cannot fire by chance in big campaigns the
        way "some arm above 0.5" does.
        """
        p = np.clip(self.p_saturating[self.varied], 1e-12, 1 - 1e-12)
        if p.size == 0:
            return 0.0
        return float(special.expit(np.sum(special.logit(p))))

    def sample(self, n_draws: int, seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
        """Joint draws ``(r, K)``, each of shape (n_draws, n_arms)."""
        rng = as_generator(seed)
        n = self.weights.shape[0]
        cum = np.cumsum(self.weights, axis=1)
        u = rng.random((n_draws, n))
        pick = (u[:, :, None] > cum[None, :, :]).sum(axis=2)
        pick = np.minimum(pick, self.weights.shape[1] - 1)
        rows = np.arange(n)[None, :]
        k = self.k_grid[rows, pick]
        r = rng.gamma(self.alpha[rows, pick], 1.0 / self.beta[rows, pick])
        return r, k


def fit_response(
    daily: pd.DataFrame,
    arms: pd.DataFrame,
    prior_shape: np.ndarray,
    prior_rate: np.ndarray,
    *,
    maturity: np.ndarray | None = None,
    min_spend_cv: float = 0.2,
    p_linear: float = 0.5,
) -> ResponseCurves:
    """Fit the per-arm response-curve posterior from daily rows.

    ``daily`` holds ``creative, audience, spend, conversions`` (one row per arm and
    day); ``maturity`` the delay maturity of each row (default 1). ``prior_shape`` /
    ``prior_rate`` are the core model's Gamma prior of each arm in ``arms``.
    """
    n = len(arms)
    pos = pd.MultiIndex.from_frame(arms[["creative", "audience"]]).get_indexer(
        pd.MultiIndex.from_frame(daily[["creative", "audience"]])
    )
    keep = pos >= 0
    pos = pos[keep]
    spend = daily["spend"].to_numpy(float)[keep]
    conv = daily["conversions"].to_numpy(float)[keep]
    mat = np.ones(spend.size) if maturity is None else np.asarray(maturity, float)[keep]
    count = np.bincount(pos, minlength=n)
    mean_s = np.bincount(pos, weights=spend, minlength=n) / np.maximum(count, 1)
    var_s = np.bincount(pos, weights=spend**2, minlength=n) / np.maximum(count, 1) - mean_s**2
    cv = np.sqrt(np.maximum(var_s, 0.0)) / np.maximum(mean_s, 1e-12)
    varied = (count >= 5) & (cv >= min_spend_cv)
    median = pd.Series(spend).groupby(pos).median().reindex(range(n)).fillna(1.0).to_numpy()
    scale = np.maximum(median, 1e-6)
    k_grid = np.concatenate([scale[:, None] * _K_MULTIPLES[None, :], np.full((n, 1), np.inf)], 1)
    total_conv = np.bincount(pos, weights=conv, minlength=n)
    g_cols, loglik_terms = [], []
    for j in range(k_grid.shape[1]):
        k_rows = k_grid[pos, j]
        g = expected_conversions(np.ones_like(spend), k_rows, spend) * mat
        g_cols.append(np.bincount(pos, weights=g, minlength=n))
        with np.errstate(divide="ignore"):
            logg = np.where(conv > 0, np.log(np.maximum(g, 1e-300)), 0.0)
        loglik_terms.append(np.bincount(pos, weights=conv * logg, minlength=n))
    exposure = np.stack(g_cols, axis=1)  # (n, G)
    beta = prior_rate[:, None] + exposure
    alpha = np.broadcast_to(prior_shape[:, None] + total_conv[:, None], beta.shape).copy()
    loglik = (
        special.gammaln(alpha)
        - alpha * np.log(beta)
        + np.stack(loglik_terms, axis=1)
        + (prior_shape * np.log(prior_rate) - special.gammaln(prior_shape))[:, None]
    )
    prior = np.full(k_grid.shape[1], (1.0 - p_linear) / (k_grid.shape[1] - 1))
    prior[-1] = p_linear
    logpost = loglik + np.log(prior)[None, :]
    logpost -= logpost.max(axis=1, keepdims=True)
    weights = np.exp(logpost)
    weights /= weights.sum(axis=1, keepdims=True)
    weights[~varied] = 0.0
    weights[~varied, -1] = 1.0
    return ResponseCurves(k_grid, weights, alpha, beta, varied)


def optimal_split(r: np.ndarray, k: np.ndarray, budget: float) -> np.ndarray:
    """Each draw's conversion-maximising split of ``budget`` (water-filling).

    ``r``, ``k`` of shape (n_draws, n_arms). At the optimum every funded saturating
    arm has marginal ``r exp(-x / K) = lam``, i.e. ``x = K log(r / lam)``; linear arms
    take budget only when their ``r`` is the top marginal. ``lam`` is found per draw by
    bisection in log space; what is left goes to the arm with the best marginal.
    """
    n_draws, n = r.shape
    sat = np.isfinite(k)
    log_lo = np.log(np.maximum(r.min(axis=1), 1e-300)) - 30.0
    log_hi = np.log(np.maximum(r.max(axis=1), 1e-300)) + 1.0
    for _ in range(50):  # log(lam) to ~1e-13 relative: far below a cent of budget
        mid = 0.5 * (log_lo + log_hi)
        lam = np.exp(mid)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(sat, np.clip(k * np.log(r / lam), 0.0, budget), 0.0)
        over = (x.sum(axis=1) > budget) | ((~sat) & (r > lam)).any(axis=1)
        log_lo = np.where(over, mid, log_lo)
        log_hi = np.where(over, log_hi, mid)
    lam = np.exp(log_hi)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(sat, np.clip(k * np.log(r / lam), 0.0, budget), 0.0)
    scale = np.minimum(1.0, budget / np.maximum(x.sum(axis=1, keepdims=True), 1e-300))
    x *= scale
    left = budget - x.sum(axis=1)
    rows = np.arange(n_draws)
    # A linear arm at the threshold takes what is left (its marginal never falls) ...
    linear_at = (~sat) & (r >= lam * (1 - 1e-9))
    best_linear = np.argmax(np.where(linear_at, r, -np.inf), axis=1)
    has_linear = linear_at.any(axis=1)
    x[rows[has_linear], best_linear[has_linear]] += left[has_linear]
    # ... otherwise the funded saturating arms share it in proportion to K, which keeps
    # their marginals equal (x = K log(r / lam) moves by K * d(log lam)).
    rest = ~has_linear
    funded = sat & (x > 0)
    weight = np.where(funded, np.where(sat, k, 0.0), 0.0)
    total = weight.sum(axis=1)
    share = np.divide(weight, total[:, None], out=np.zeros_like(weight), where=total[:, None] > 0)
    x[rest] += share[rest] * left[rest, None]
    nobody = rest & (total <= 0)
    x[rows[nobody], np.argmax(r[nobody], axis=1)] += left[nobody]
    return x
