"""The empirical-Bayes Gamma-Poisson model: golden values on tiny inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

import optimizer


def totals(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["creative", "audience", "exposure", "weighted_conversions"])


def test_golden_posterior_with_fixed_strength() -> None:
    t = totals([("c1", "a", 100.0, 4.0), ("c2", "a", 100.0, 4.0)])
    model = optimizer.GammaPoissonModel(optimizer.ThompsonConfig(prior_strength=2.0)).fit(t)
    post = model.posterior(t)
    assert model.pooled_rate_ == pytest.approx(0.04)
    np.testing.assert_allclose(post.prior_mean, [0.04, 0.04], rtol=1e-7)
    # Laplace variance of log m: columns (intercept, c1, c2, a), 4 expected conversions per
    # arm, ridge 1 on the effects; built here independently of the model's code.
    x = np.array([[1, 1, 0, 1], [1, 0, 1, 1]], float)
    info = x.T @ np.diag([4.0, 4.0]) @ x + np.diag([0, 1, 1, 1])
    v = np.einsum("ij,jk,ik->i", x, np.linalg.inv(info), x)
    np.testing.assert_allclose(model.prior_log_variance(t), v, rtol=1e-9)
    assert v[0] == pytest.approx(0.225)
    # Leave-one-out: each arm's conversions equal their expectation, so the mean stays,
    # but the other arm alone backs the prior: leverage h = 4 v = 0.9, variance v / (1 - h).
    v_loo = v[0] / (1 - 4 * v[0])
    assert v_loo == pytest.approx(2.25)

    def gap(k: float) -> float:
        return float(special.polygamma(1, k) - special.polygamma(1, 2.0) - v_loo)

    k_a = optimize.brentq(gap, 0.01, 2.0)
    np.testing.assert_allclose(post.prior_shape, [k_a, k_a], rtol=1e-9)
    assert k_a == pytest.approx(0.690715, rel=1e-6)
    np.testing.assert_allclose(post.alpha, k_a + 4.0, rtol=1e-9)
    np.testing.assert_allclose(post.beta, k_a / 0.04 + 100.0, rtol=1e-7)
    np.testing.assert_allclose(post.mean, [0.04, 0.04], rtol=1e-7)
    low, high = post.interval(0.9)
    np.testing.assert_allclose(low, stats.gamma.ppf(0.05, k_a + 4, scale=1 / post.beta), rtol=1e-9)
    np.testing.assert_allclose(high, stats.gamma.ppf(0.95, k_a + 4, scale=1 / post.beta), rtol=1e-9)


def test_zero_conversions_is_data_not_missing() -> None:
    t = totals([("c1", "a", 500.0, 0.0), ("c2", "a", 100.0, 10.0), ("c3", "a", 100.0, 5.0)])
    cfg = optimizer.ThompsonConfig(prior_strength=1.0)
    model = optimizer.GammaPoissonModel(cfg).fit(t)
    post = model.posterior(t)
    assert post.alpha[0] == post.prior_shape[0]  # k_a + 0 conversions
    assert post.beta[0] == pytest.approx(post.prior_shape[0] / post.prior_mean[0] + 500.0)
    assert post.mean[0] < post.prior_mean[0] / 2  # 500 spent without a conversion pulls it down
    # Asked for again on its own, the arm still carries its data.
    again = model.posterior(pd.DataFrame({"creative": ["c1"], "audience": ["a"]}))
    assert again.beta[0] == pytest.approx(post.beta[0])
    # Leave-one-out: its own zeros do not drag its prior down (only its likelihood does).
    full_fit = model.prior_mean(pd.DataFrame({"creative": ["c1"], "audience": ["a"]}))[0]
    assert post.prior_mean[0] > full_fit


def test_new_pair_gets_prior_from_its_creative_and_audience() -> None:
    # Multiplicative truth: creative c1 is 2x c2, audience a1 is 3x a2; (c1, a1) never ran.
    rate = {("c1", "a2"): 0.02, ("c2", "a1"): 0.03, ("c2", "a2"): 0.01}
    t = totals([(c, a, 100_000.0, r * 100_000.0) for (c, a), r in rate.items()])
    model = optimizer.GammaPoissonModel().fit(t)
    new = pd.DataFrame({"creative": ["c1", "c9"], "audience": ["a1", "a9"]})
    post = model.posterior(new)
    assert post.prior_mean[0] == pytest.approx(0.02 * 0.03 / 0.01, rel=0.02)  # = 0.06
    assert post.alpha[0] == pytest.approx(post.prior_shape[0])  # prior only
    assert post.prior_shape[0] < model.prior_strength_  # an unseen pair is held more loosely
    # Unseen creative and audience: the pooled level (intercept), between the seen rates.
    assert 0.01 < post.prior_mean[1] < 0.06


def test_no_conversions_anywhere_uses_half_a_conversion() -> None:
    t = totals([("c1", "a", 300.0, 0.0), ("c2", "a", 100.0, 0.0)])
    model = optimizer.GammaPoissonModel().fit(t)
    np.testing.assert_allclose(model.posterior(t).prior_mean, [0.5 / 400.0] * 2)


def test_strength_is_fitted_within_bounds() -> None:
    # A 6 x 10 grid: main effects plus Gamma(shape) noise per cell.
    rng = np.random.default_rng(3)
    cfg = optimizer.ThompsonConfig(min_prior_strength=0.1, max_prior_strength=50.0)
    cells = [(f"c{i}", f"a{j}") for i in range(6) for j in range(10)]
    c_eff = dict(zip([f"c{i}" for i in range(6)], rng.uniform(0.5, 1.5, 6), strict=True))
    a_eff = dict(zip([f"a{j}" for j in range(10)], rng.uniform(0.5, 1.5, 10), strict=True))

    def fitted(shape: float) -> float:
        mean = np.array([0.05 * c_eff[c] * a_eff[a] for c, a in cells])
        rates = rng.gamma(shape, mean / shape)
        conv = rng.poisson(rates * 5_000.0).astype(float)
        t = totals([(c, a, 5_000.0, k) for (c, a), k in zip(cells, conv, strict=True)])
        return optimizer.GammaPoissonModel(cfg).fit(t).prior_strength_

    wide, narrow = fitted(2.0), fitted(40.0)
    assert 0.1 <= wide < narrow <= 50.0
    # Plug-in means use each cell's own data, so k is biased up (less spread is left).
    assert 2.0 * 0.5 < wide < 2.0 * 2.5


def test_identical_arms_hit_the_cap() -> None:
    t = totals([(f"c{i}", "a", 1000.0, 20.0) for i in range(10)])
    model = optimizer.GammaPoissonModel(optimizer.ThompsonConfig(max_prior_strength=5.0)).fit(t)
    assert model.prior_strength_ == pytest.approx(5.0)
