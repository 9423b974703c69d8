"""Budget allocation: golden splits, infeasible constraints, and invariants (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

import optimizer
from optimizer import allocate_budget


def test_golden_floor_is_additive() -> None:
    a = allocate_budget(np.array([0.7, 0.2, 0.1]), 100.0, floor=0.05)
    # 0.05 + (1 - 3 * 0.05) * p
    assert a.spend.tolist() == [64.5, 22.0, 13.5]
    assert a.floor_share == 0.05


def test_golden_floor_shrinks_past_its_total() -> None:
    a = allocate_budget(np.array([1.0, 0.0, 0.0, 0.0]), 1000.0, floor=0.1, max_floor_total=0.2)
    assert a.floor_share == pytest.approx(0.05)
    assert a.spend.tolist() == [850.0, 50.0, 50.0, 50.0]
    assert a.binding.tolist() == ["", "floor", "floor", "floor"]


def test_golden_change_cap_passes_surplus_to_next_best() -> None:
    # Arm 0 is best but capped at +20%; arm 1 is best of the rest and takes the surplus.
    p = np.array([0.98, 0.015, 0.005])
    rest = {1: 0.9, 2: 0.1}

    def weights_for(idx: np.ndarray) -> np.ndarray:
        return p[idx] if idx.size == 3 else np.array([rest[int(i)] for i in idx])

    a = allocate_budget(
        p, 300.0, current=np.array([100.0, 100.0, 100.0]), max_change=0.2, weights_for=weights_for
    )
    assert a.spend.tolist() == [120.0, 100.0, 80.0]
    assert a.binding.tolist() == ["change_cap", "", "change_cap"]
    assert a.round.tolist() == [0, 1, 1]


def test_golden_locked_arm_keeps_current() -> None:
    a = allocate_budget(
        np.array([0.5, 0.5, 0.0]),
        100.0,
        current=np.array([30.0, 30.0, 40.0]),
        locked=np.array([False, False, True]),
    )
    assert a.spend.tolist() == [30.0, 30.0, 40.0]
    assert a.binding.tolist() == ["", "", "locked"]


def test_golden_cents_sum_exactly() -> None:
    a = allocate_budget(np.full(3, 1 / 3), 100.0)
    assert sorted(a.spend.tolist()) == [33.33, 33.33, 33.34]
    assert round(a.spend.sum() * 100) == 10_000


INFEASIBLE = [
    (
        dict(min_spend=np.array([60.0, 60.0])),
        "min spend need at least 120.00 in total, more than the budget to split (100.00)",
    ),
    (
        dict(max_spend=np.array([30.0, 30.0])),
        "max spend allow at most 60.00 in total, less than the budget to split (100.00)",
    ),
    (
        dict(current=np.array([50.0, 50.0]), max_change=0.1, min_spend=np.array([70.0, 0.0])),
        "arm 0: min spend needs at least 70.00 but change cap allows at most 55.00",
    ),
    (
        dict(current=np.array([30.0, 50.0]), locked=np.array([True, True])),
        "every arm is locked: their current spend (80.00) must equal the budget (100.00)",
    ),
    (
        dict(current=np.array([120.0, 50.0]), locked=np.array([True, False])),
        "locked arms keep 120.00, more than the budget 100.00",
    ),
    (dict(locked=np.array([True, False])), "locked arms need a current split to keep"),
]


@pytest.mark.parametrize(("kwargs", "message"), INFEASIBLE)
def test_infeasible_constraints_name_the_constraint(kwargs: dict, message: str) -> None:
    with pytest.raises(optimizer.AllocationError) as info:
        allocate_budget(np.array([0.5, 0.5]), 100.0, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("budget", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_budget(budget: float) -> None:
    with pytest.raises(optimizer.AllocationError, match="must be a positive finite amount"):
        allocate_budget(np.array([1.0]), budget)


@st.composite
def problems(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 500))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(n, draw(st.sampled_from([0.05, 0.5, 5.0]))))
    budget = draw(st.integers(100, 10_000_000)) / 100
    kwargs: dict = {
        "floor": draw(st.sampled_from([0.0, 0.001, 0.01, 0.05])),
        "max_floor_total": draw(st.sampled_from([0.02, 0.1, 0.5])),
    }
    if draw(st.booleans()):
        current = np.round(rng.uniform(0, 2, n) * budget / n, 2)
        kwargs["current"] = current
        if draw(st.booleans()):
            kwargs["max_change"] = draw(st.sampled_from([0.1, 0.3, 1.0]))
        if n > 1 and draw(st.booleans()):
            locked = rng.random(n) < 0.2
            locked[rng.integers(n)] = False
            assume(current[locked].sum() <= budget * 0.9)
            kwargs["locked"] = locked
    if draw(st.booleans()):
        kwargs["min_spend"] = np.full(
            n, round(budget * draw(st.sampled_from([0, 0.1, 0.5])) / n, 2)
        )
    if draw(st.booleans()):
        kwargs["max_spend"] = np.full(n, np.inf if n == 1 else round(3.0 * budget / n, 2))
    return {"p": p, "budget": budget, **kwargs}


@given(problems())
def test_allocation_invariants(problem: dict) -> None:
    p, budget = problem.pop("p"), problem.pop("budget")
    try:
        a = allocate_budget(p, budget, **problem)
    except optimizer.AllocationError:
        event("infeasible")
        return  # infeasible draws must fail with our error, never another exception
    event("feasible")
    cents = np.round(a.spend * 100).astype(np.int64)
    assert np.allclose(a.spend * 100, cents)  # whole cents
    assert int(cents.sum()) == round(budget * 100)  # the budget to the cent
    assert np.all(a.spend >= 0) and np.all(np.isfinite(a.spend))
    share = a.spend / a.spend.sum()
    assert share.sum() == pytest.approx(1.0, abs=1e-12)
    locked = problem.get("locked", np.zeros(p.size, bool))
    free = ~locked
    if locked.any():
        np.testing.assert_allclose(a.spend[locked], problem["current"][locked], atol=0.005)
    tol = 0.0101
    if "min_spend" in problem:
        assert np.all(a.spend[free] >= problem["min_spend"][free] - tol)
    if "max_spend" in problem:
        assert np.all(a.spend[free] <= problem["max_spend"][free] + tol)
    free_budget = budget - (problem["current"][locked].sum() if locked.any() else 0.0)
    if "max_change" in problem:
        cur = problem["current"][free]
        d = problem["max_change"]
        if cur.sum() > 0:
            scaled = cur * free_budget / cur.sum()
            upper = np.where(scaled > 0, scaled * (1 + d), d * free_budget / free.sum())
            assert np.all(a.spend[free] <= upper + tol)
            assert np.all(a.spend[free] >= scaled * (1 - d) - tol)
    # The floor holds unless an upper bound is lower than it.
    floor_money = a.floor_share * free_budget
    under = a.spend[free] < floor_money - tol
    assert np.all(np.isin(a.binding[free][under], ["change_cap", "max_spend"]))


@given(st.integers(1, 500), st.integers(0, 10_000))
def test_no_constraints_shares_follow_p_best(n: int, seed: int) -> None:
    p = np.random.default_rng(seed).dirichlet(np.ones(n))
    a = allocate_budget(p, 10_000.0)
    np.testing.assert_allclose(a.spend, p * 10_000.0, atol=0.0101)
