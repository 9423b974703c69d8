"""P(best): the probability that each arm has the highest rate, for Gamma posteriors.

For independent rates ``X_i ~ Gamma(alpha_i, beta_i)`` (shape, rate)

    P_i = P(X_i > X_j for all j != i) = integral  prod_{j != i} F_j(x)  dF_i(x)

On a grid ``0 = x_0 < x_1 < ... < x_M = inf`` the Stieltjes integral is summed cell
by cell with the trapezoidal rule, ``sum_k dF_i,k * (G_{-i}(x_k) + G_{-i}(x_{k+1})) / 2``
with ``G_{-i} = prod_{j != i} F_j`` (G is 0 at 0 and 1 at infinity, which closes the
ends exactly). The error is estimated by Richardson: the same sum on every other
grid point is about four times as wrong, so ``|fine - coarse|`` (reported) is
about three times the real error. Cells where ``G`` still changes a lot under an
arm's mass are split until that estimate is below ``tol``. Arms whose chance of
reaching the contenders' range is below 1e-12 are left off the grid and their
possible mass is added to the error, not ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from ._random import Seed, as_generator

__all__ = [
    "PBest",
    "p_best_beta",
    "p_best_beta_prime",
    "p_best_gamma",
    "p_best_monte_carlo",
]

_EPS_TAIL = 1e-12  # tail mass used to pick the integration range and the contenders
_MAX_ROUNDS = 12
_MAX_GRID = 4096
_MC_CHUNK_CELLS = 4_000_000  # draws x arms per Monte-Carlo chunk (~32 MB of float64)


@dataclass(frozen=True)
class PBest:
    """P(best) per arm and how it was computed.

    ``error`` bounds ``|p_best_i - exact_i|`` for every arm: a guaranteed bound
    for "integrate", three standard errors of the largest estimate for
    "monte_carlo".
    """

    p_best: np.ndarray
    error: float
    method: str
    n_points: int


def p_best_gamma(
    alpha: np.ndarray, beta: np.ndarray, *, tol: float = 1e-4, max_points: int = _MAX_GRID
) -> PBest:
    """P(best) of independent Gamma(alpha, beta) rates by adaptive quadrature.

    Parameters
    ----------
    alpha, beta : arrays of shape (n_arms,)
        Shape and rate (1/scale) of each posterior, all > 0.
    tol : float
        Stop refining once the estimated error is below ``tol``.

    Returns
    -------
    PBest
        ``p_best`` sums to 1; ``error`` may exceed ``tol`` if ``max_points`` was
        hit (callers then fall back to Monte Carlo).

    Examples
    --------
    >>> r = p_best_gamma(np.array([2.0, 2.0]), np.array([1.0, 1.0]))
    >>> np.round(r.p_best, 6).tolist()
    [0.5, 0.5]
    """
    alpha = np.asarray(alpha, dtype=float)
    beta = np.asarray(beta, dtype=float)

    def cdf(idx: np.ndarray, x: np.ndarray) -> np.ndarray:
        return special.gammainc(alpha[idx, None], beta[idx, None] * x[None, :])

    def ppf(idx: np.ndarray, q: np.ndarray) -> np.ndarray:
        return special.gammaincinv(alpha[idx, None], q[None, :]) / beta[idx, None]

    return _integrate(alpha.size, cdf, ppf, alpha / beta, tol, max_points)


def p_best_beta_prime(
    p: np.ndarray,
    q: np.ndarray,
    scale: np.ndarray,
    *,
    tol: float = 1e-4,
    max_points: int = _MAX_GRID,
) -> PBest:
    """P(best) of ``scale * B`` with ``B ~ BetaPrime(p, q)``, independent per arm.

    A ratio of independent Gammas is BetaPrime: revenue per spend = rate x value with
    a Gamma rate and an inverse-Gamma value is one (see :mod:`optimizer.revenue`).
    CDF: ``betainc(p, q, y / (1 + y))`` at ``y = x / scale``.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    scale = np.asarray(scale, dtype=float)

    def cdf(idx: np.ndarray, x: np.ndarray) -> np.ndarray:
        y = x[None, :] / scale[idx, None]
        return special.betainc(p[idx, None], q[idx, None], y / (1.0 + y))

    def ppf(idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        t = special.betaincinv(p[idx, None], q[idx, None], u[None, :])
        return scale[idx, None] * t / np.maximum(1.0 - t, 1e-300)

    mean = np.where(q > 1, scale * p / np.maximum(q - 1, 1e-12), np.inf)
    return _integrate(p.size, cdf, ppf, mean, tol, max_points)


def p_best_beta(
    a: np.ndarray, b: np.ndarray, *, tol: float = 1e-4, max_points: int = _MAX_GRID
) -> PBest:
    """P(best) of independent Beta(a, b) proportions (e.g. conversion rates per user).

    Examples
    --------
    >>> r = p_best_beta(np.array([3.0, 1.0]), np.array([1.0, 3.0]))  # exact: 1 - 1/20
    >>> round(float(r.p_best[0]), 4)
    0.95
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)

    def cdf(idx: np.ndarray, x: np.ndarray) -> np.ndarray:
        return special.betainc(a[idx, None], b[idx, None], np.clip(x[None, :], 0.0, 1.0))

    def ppf(idx: np.ndarray, q: np.ndarray) -> np.ndarray:
        return special.betaincinv(a[idx, None], b[idx, None], q[None, :])

    return _integrate(a.size, cdf, ppf, a / (a + b), tol, max_points)


Cdf = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _integrate(
    n: int,
    cdf: Cdf,
    ppf: Cdf,
    mean: np.ndarray,
    tol: float,
    max_points: int,
) -> PBest:
    """The quadrature of the module docstring for any family given by CDF and quantiles.

    ``cdf(idx, x)`` gives F of arms ``idx`` at points ``x`` (shape (len(idx), len(x)));
    ``ppf(idx, u)`` their quantiles at levels ``u``.
    """
    if n == 1:
        return PBest(np.ones(1), 0.0, "integrate", 0)
    every = np.arange(n)
    # Range: below `lo` some other arm is almost surely higher than every x.
    q_lo = ppf(every, np.array([_EPS_TAIL]))[:, 0]
    q_hi = ppf(every, np.array([1.0 - _EPS_TAIL]))[:, 0]
    lo = float(np.partition(q_lo, n - 2)[n - 2])  # second largest lower quantile
    contender = q_hi > lo
    idx = np.flatnonzero(contender)
    out = np.flatnonzero(~contender)
    hi = float(q_hi[idx].max())
    # Mass the left-out arms could still have: P(X_j > lo) each, bounded as a whole.
    out_tail = 1.0 - cdf(out, np.array([lo]))[:, 0] if out.size else np.zeros(0)
    out_factor = float(np.exp(np.sum(np.log1p(-np.minimum(out_tail, 1 - 1e-300)))))

    lead = idx[np.argsort(-mean[idx])[:16]]
    levels = np.array([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    grid = np.unique(np.concatenate([np.linspace(lo, hi, 65), ppf(lead, levels).ravel()]))
    grid = grid[(grid >= lo) & (grid <= hi) & (grid > 0)]
    values = cdf(idx, grid)  # (n, M)
    for _ in range(_MAX_ROUNDS):
        fine, gap_per_cell = _trapezoid(values, out_factor)
        coarse, _ = _trapezoid(values[:, 1::2], out_factor)
        error = float(np.max(np.abs(fine - coarse)))
        if error <= tol or grid.size >= max_points:
            break
        new_points = _refine(grid, gap_per_cell, max_points)
        # Only the new points cost special-function calls; old columns are kept.
        grid = np.concatenate([grid, new_points])
        values = np.concatenate([values, cdf(idx, new_points)], axis=1)
        order = np.argsort(grid, kind="stable")
        grid, values = grid[order], values[:, order]

    p = np.zeros(n)
    fine = np.clip(fine, 0.0, None)
    p[idx] = fine / fine.sum()
    error = max(error, float(np.max(np.abs(p[idx] - fine))))
    if out_tail.size:
        # A left-out arm has P(best) <= P(X_j > lo) + P(every contender < lo).
        below = float(np.exp(np.sum(np.log(np.maximum(cdf(idx, np.array([lo]))[:, 0], 1e-300)))))
        error = max(error, float(out_tail.max()) + below)
    return PBest(p, error, "integrate", int(grid.size))


def p_best_monte_carlo(
    alpha: np.ndarray, beta: np.ndarray, *, n_draws: int, seed: Seed = None
) -> PBest:
    """P(best) by counting argmax over ``n_draws`` joint posterior draws.

    Draws are taken in chunks so memory stays near 32 MB at any number of arms.
    Ties (possible only when rates are exactly equal) go to the lowest index.
    """
    rng = as_generator(seed)
    alpha = np.asarray(alpha, dtype=float)
    beta = np.asarray(beta, dtype=float)
    n = alpha.size
    counts = np.zeros(n, dtype=np.int64)
    chunk = max(1, _MC_CHUNK_CELLS // max(n, 1))
    done = 0
    while done < n_draws:
        size = min(chunk, n_draws - done)
        draws = rng.gamma(alpha, 1.0 / beta, size=(size, n))
        counts += np.bincount(np.argmax(draws, axis=1), minlength=n)
        done += size
    p = counts / n_draws
    p_max = float(p.max())
    error = 3.0 * float(np.sqrt(max(p_max * (1 - p_max), 0.25 / n_draws) / n_draws))
    return PBest(p, error, "monte_carlo", n_draws)


def _trapezoid(cdf: np.ndarray, out_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoidal Stieltjes sum per arm, and the per-cell spread of G under the mass.

    ``cdf`` holds F_i at the grid points (n, M); the cells are [0, x_0], ...,
    [x_{M-1}, inf). ``out_factor`` is the product of the left-out arms' CDFs at the
    range's start (a factor in [out_factor, 1] everywhere on it).
    """
    n = cdf.shape[0]
    zero = cdf <= 0.0
    log_cdf = np.log(np.where(zero, 1.0, cdf))
    total_log = log_cdf.sum(axis=0)  # log of the product of the non-zero factors
    others_zero = (zero.sum(axis=0)[None, :] - zero) > 0
    g = np.where(others_zero, 0.0, np.exp(total_log[None, :] - log_cdf))
    g *= 0.5 * (1.0 + out_factor)
    cdf_ext = np.concatenate([np.zeros((n, 1)), cdf, np.ones((n, 1))], axis=1)
    g_ext = np.concatenate([np.zeros((n, 1)), g, np.ones((n, 1))], axis=1)
    d_cdf = np.diff(cdf_ext, axis=1)  # (n, M + 1)
    p = (d_cdf * 0.5 * (g_ext[:, :-1] + g_ext[:, 1:])).sum(axis=1)
    spread = (d_cdf * np.diff(g_ext, axis=1)).sum(axis=0)
    return p, spread


def _refine(grid: np.ndarray, gap_per_cell: np.ndarray, max_points: int) -> np.ndarray:
    """New points splitting the cells where G changes most under the mass."""
    budget = max(1, min(grid.size, max_points - grid.size))
    order = np.argsort(-gap_per_cell)[:budget]
    order = order[gap_per_cell[order] > 0.02 * gap_per_cell.max()]
    new = []
    for k in order:
        if k == 0:  # [0, x_0]
            new.append(grid[0] * 0.5)
        elif k == grid.size:  # [x_{M-1}, inf)
            new.append(grid[-1] * 1.5)
        else:
            new.append(0.5 * (grid[k - 1] + grid[k]))
    return np.setdiff1d(np.asarray(new), grid)
