"""Bayesian A/B readout: closed forms, a high-precision Monte-Carlo reference, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from experiments import InvalidCountsError, analyze_ab, srm_check, stopping_rule

COUNTS = pd.DataFrame(
    {"variant": ["A", "B", "C"], "users": [2000, 2000, 2000], "conversions": [200, 236, 210]}
)


def p_b_beats_a(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """Closed form for integer Beta parameters (Evan Miller)."""
    total = 0.0
    for i in range(a_b):
        total += np.exp(
            special.betaln(a_a + i, b_a + b_b)
            - np.log(b_b + i)
            - special.betaln(1 + i, b_b)
            - special.betaln(a_a, b_a)
        )
    return float(total)


def test_golden_chance_to_beat_control_is_exact() -> None:
    out = analyze_ab(COUNTS, control="A")
    exact = p_b_beats_a(1 + 200, 1 + 1800, 1 + 236, 1 + 1764)
    assert out.loc[1, "chance_to_beat_control"] == pytest.approx(exact, abs=1e-6)
    assert np.isnan(out.loc[0, "chance_to_beat_control"])
    assert out.loc[0, ["uplift_mean", "uplift_low", "uplift_high"]].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(out["rate"], [201 / 2002, 237 / 2002, 211 / 2002])


def test_against_two_million_draws() -> None:
    out = analyze_ab(COUNTS, control="A")
    rng = np.random.default_rng(0)
    n = 2_000_000
    conv, users = COUNTS["conversions"].to_numpy(), COUNTS["users"].to_numpy()
    draws = rng.beta(1 + conv, 1 + users - conv, size=(n, 3))
    uplift = draws[:, 1] / draws[:, 0] - 1
    best = np.bincount(draws.argmax(axis=1), minlength=3) / n
    loss = (draws.max(axis=1, keepdims=True) - draws).mean(axis=0)
    np.testing.assert_allclose(out["chance_to_be_best"], best, atol=1.5e-3)
    np.testing.assert_allclose(out["expected_loss"], loss, rtol=5e-3, atol=1e-7)
    assert out.loc[1, "uplift_mean"] == pytest.approx(uplift.mean(), rel=2e-3)
    assert out.loc[1, "uplift_low"] == pytest.approx(np.quantile(uplift, 0.025), abs=2e-3)
    assert out.loc[1, "uplift_high"] == pytest.approx(np.quantile(uplift, 0.975), abs=2e-3)
    assert out.loc[1, "rate_low"] == pytest.approx(np.quantile(draws[:, 1], 0.025), rel=2e-3)


def test_conversions_per_spend_against_draws() -> None:
    counts = COUNTS.assign(spend=[1000.0, 1100.0, 900.0])
    out = analyze_ab(counts, control="A", metric="conversions_per_spend")
    rng = np.random.default_rng(1)
    draws = rng.gamma(
        1 + counts["conversions"].to_numpy(), 1 / counts["spend"].to_numpy(), (1_000_000, 3)
    )
    best = np.bincount(draws.argmax(axis=1), minlength=3) / 1_000_000
    np.testing.assert_allclose(out["chance_to_be_best"], best, atol=2e-3)
    np.testing.assert_allclose(out["rate"], (1 + counts["conversions"]) / counts["spend"])


def test_revenue_metric_is_seeded() -> None:
    counts = COUNTS.assign(revenue=[8000.0, 9900.0, 8100.0])
    a = analyze_ab(counts, control="A", metric="revenue", seed=3)
    b = analyze_ab(counts, control="A", metric="revenue", seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[1, "rate"] == pytest.approx(9900 / 2000, rel=0.05)


BAD = [
    (COUNTS.drop(columns="users"), {}, "required column 'users' is missing for conversion_rate"),
    (COUNTS.assign(conversions=[200, 2500, 210]), {}, "row 2: conversions (2500) > users (2000)"),
    (COUNTS.assign(users=[2000, 0, 2000]), {}, "row 2: users must be > 0"),
    (COUNTS.assign(users=[2000, 20.5, 2000]), {}, "row 2: users (20.5) must be a whole number"),
    (
        COUNTS.assign(conversions=[200, "many", 210]),
        {},
        "row 2: conversions ('many') is not a number",
    ),
    (COUNTS.assign(conversions=[200, -3, 210]), {}, "row 2: conversions (-3) must be >= 0"),
    (COUNTS.assign(variant=["A", "A", "C"]), {}, "row 2: variant 'A' repeats"),
    (COUNTS.assign(variant=["A", " ", "C"]), {}, "row 2: variant is empty"),
    (COUNTS, {"control": "Z"}, "control 'Z' is not a variant"),
    (COUNTS.iloc[:1], {}, "need at least 2 variants"),
    (COUNTS, {"metric": "ctr"}, "metric 'ctr' must be one of"),
    (COUNTS, {"metric": "conversions_per_spend"}, "required column 'spend' is missing"),
    (
        COUNTS.assign(spend=[10.0, 0.0, 5.0]),
        {"metric": "conversions_per_spend"},
        "row 2: spend must be > 0",
    ),
]


@pytest.mark.parametrize(("counts", "kwargs", "message"), BAD)
def test_bad_counts(counts: pd.DataFrame, kwargs: dict, message: str) -> None:
    args = {"control": "A", **kwargs}
    with pytest.raises(InvalidCountsError) as info:
        analyze_ab(counts, **args)
    assert message in str(info.value)


def test_srm_flags_a_broken_split() -> None:
    assert not srm_check(COUNTS)["mismatch"]
    broken = COUNTS.assign(users=[2000, 2300, 2000])
    result = srm_check(broken)
    assert result["mismatch"] and result["p_value"] < 1e-3
    planned = srm_check(broken, expected_share={"A": 2000, "B": 2300, "C": 2000})
    assert not planned["mismatch"]


def test_stopping_rule_each_branch() -> None:
    clear = pd.DataFrame(
        {"variant": ["A", "B"], "users": [20_000, 20_000], "conversions": [2000, 2400]}
    )
    out = analyze_ab(clear, control="A")
    decision = stopping_rule(out)
    assert (
        decision.stop and decision.winner == "B" and decision.reason.startswith("stop: B is best")
    )
    assert not stopping_rule(out, min_users=50_000).stop
    assert "needs 50,000 users" in stopping_rule(out, min_users=50_000).reason
    close = analyze_ab(COUNTS, control="A")
    assert stopping_rule(close, min_users=100).reason.startswith("keep going: the leader B has")
    srm = {"mismatch": True, "p_value": 1e-6}
    assert stopping_rule(out, srm=srm).reason.startswith("do not stop: sample ratio mismatch")
    lossy = stopping_rule(
        close, min_users=100, min_chance_to_be_best=0.5, max_expected_loss_rel=1e-4
    )
    assert not lossy.stop and "could still lose" in lossy.reason
