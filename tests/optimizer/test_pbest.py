"""P(best): exact on two arms, against a 10^6-draw reference on many, reported error honest."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

import optimizer


def exact_two(a1: float, b1: float, a2: float, b2: float) -> float:
    # b1 X1 / (b1 X1 + b2 X2) ~ Beta(a1, a2); X1 > X2  <=>  that ratio > b1 / (b1 + b2)
    return float(1.0 - special.betainc(a1, a2, b1 / (b1 + b2)))


@pytest.mark.parametrize(
    ("a1", "b1", "a2", "b2"),
    [
        (2, 1, 2, 1),
        (10, 100, 5, 60),
        (1, 50, 40, 1000),
        (0.3, 10, 3, 100),
        (500, 10_000, 480, 10_000),
    ],
)
def test_two_arms_match_the_closed_form(a1: float, b1: float, a2: float, b2: float) -> None:
    r = optimizer.p_best_gamma(np.array([a1, a2], float), np.array([b1, b2], float))
    exact = exact_two(a1, b1, a2, b2)
    assert abs(r.p_best[0] - exact) <= max(r.error, 1e-9)
    assert abs(r.p_best[0] - exact) < 1e-4
    assert r.p_best.sum() == pytest.approx(1.0, abs=1e-12)


def test_golden_identical_arms_split_evenly() -> None:
    r = optimizer.p_best_gamma(np.full(4, 3.0), np.full(4, 2.0))
    np.testing.assert_allclose(r.p_best, 0.25, atol=1e-4)


def test_one_arm_is_certainly_best() -> None:
    r = optimizer.p_best_gamma(np.array([2.0]), np.array([3.0]))
    assert r.p_best.tolist() == [1.0] and r.error == 0.0


def test_many_arms_agree_with_a_million_draws() -> None:
    rng = np.random.default_rng(11)
    conv = rng.poisson(rng.gamma(4.0, 0.25, size=30) * 40)
    alpha, beta = 2.0 + conv, np.full(30, 1000.0) + rng.uniform(0, 300, 30)
    r = optimizer.p_best_gamma(alpha, beta)
    mc = optimizer.p_best_monte_carlo(alpha, beta, n_draws=1_000_000, seed=5)
    # The MC reference itself has sd <= 5e-4; 1e-3 is the benchmark's accuracy aim.
    assert np.max(np.abs(r.p_best - mc.p_best)) < 1.5e-3
    assert r.error < 1e-3


def test_hopeless_arms_are_left_off_but_counted() -> None:
    alpha = np.array([400.0, 390.0, 5.0, 4.0])
    beta = np.array([10_000.0, 10_000.0, 20_000.0, 40_000.0])
    r = optimizer.p_best_gamma(alpha, beta)
    assert r.p_best[2] == 0.0 and r.p_best[3] == 0.0
    assert r.p_best[0] == pytest.approx(exact_two(400, 10_000, 390, 10_000), abs=1e-4)


@given(
    st.lists(st.tuples(st.floats(0.2, 300), st.floats(1, 5_000)), min_size=2, max_size=40),
    st.randoms(use_true_random=False),
)
def test_is_a_distribution_and_permutation_invariant(
    params: list[tuple[float, float]], rnd: object
) -> None:
    alpha = np.array([p[0] for p in params])
    beta = np.array([p[1] for p in params])
    r = optimizer.p_best_gamma(alpha, beta)
    assert np.all(r.p_best >= 0) and r.p_best.sum() == pytest.approx(1.0, abs=1e-9)
    perm = np.random.default_rng(len(params)).permutation(len(params))
    r2 = optimizer.p_best_gamma(alpha[perm], beta[perm])
    np.testing.assert_allclose(r2.p_best, r.p_best[perm], atol=2 * max(r.error, r2.error) + 1e-9)


def test_monte_carlo_is_reproducible_and_chunked() -> None:
    alpha, beta = np.array([5.0, 6.0, 7.0]), np.array([100.0, 100.0, 100.0])
    a = optimizer.p_best_monte_carlo(alpha, beta, n_draws=20_000, seed=3)
    b = optimizer.p_best_monte_carlo(alpha, beta, n_draws=20_000, seed=3)
    c = optimizer.p_best_monte_carlo(alpha, beta, n_draws=20_000, seed=4)
    assert a.p_best.tolist() == b.p_best.tolist()
    assert a.p_best.tolist() != c.p_best.tolist()
    exact = optimizer.p_best_gamma(alpha, beta, tol=1e-6)
    assert np.max(np.abs(a.p_best - exact.p_best)) < a.error
