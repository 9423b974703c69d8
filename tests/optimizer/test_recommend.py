"""The front door: columns, constraints, reasons, reproducibility, JSON."""

from __future__ import annotations

import datetime as dt
import importlib
import json

import numpy as np
import pandas as pd
import pytest

import optimizer
from tests.conftest import frame, stats_row

REQUIRED = [
    "creative",
    "audience",
    "budget",
    "share",
    "p_best",
    "rate_mean",
    "rate_low",
    "rate_high",
    "expected_conversions",
    "change",
    "reason",
]


def tiny() -> pd.DataFrame:
    rows = []
    for day in range(1, 8):
        for creative, conv in (("good", 6), ("bad", 1)):
            rows.append(
                stats_row(
                    date=f"2026-03-{day:02d}", creative=creative, spend=50.0, conversions=conv
                )
            )
    return frame(*rows)


def test_contract_columns_and_sums(sample_stats_path: str) -> None:
    rec = optimizer.recommend(sample_stats_path, 1200, seed=1)
    table = rec.allocations
    assert set(REQUIRED) <= set(table.columns)
    assert len(table) == 12
    assert round(table["budget"].sum() * 100) == 120_000
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert table["p_best"].sum() == pytest.approx(1.0, abs=1e-9)
    assert (table["rate_low"] < table["rate_mean"]).all()
    assert (table["rate_mean"] < table["rate_high"]).all()
    assert (table["change"] == 0).all()  # no current split given
    np.testing.assert_allclose(table["expected_conversions"], table["budget"] * table["rate_mean"])
    assert all(isinstance(r, str) and r.endswith(".") and "\n" not in r for r in table["reason"])
    assert rec.as_of == dt.date(2026, 10, 29) and rec.data_end == dt.date(2026, 10, 28)


def test_strong_arm_leads_and_weak_arm_trails(sample_stats_path: str) -> None:
    table = optimizer.recommend(sample_stats_path, 1200).allocations.set_index(
        ["creative", "audience"]
    )
    assert table["p_best"].idxmax() == ("ugc_video", "lookalike_1pct")
    assert table["rate_mean"].idxmin() == ("static_discount", "broad_25_54")
    assert table.loc[("ugc_video", "lookalike_1pct"), "reason"].startswith("Likely the best arm")


def test_golden_tiny_campaign() -> None:
    rec = optimizer.recommend(
        tiny(), 100, config=optimizer.ThompsonConfig(prior_strength=1.0, floor=0.01)
    )
    t = rec.allocations.set_index("creative")
    # good: 42 conversions on 350, bad: 7 on 350; prior mean from the creative effects.
    assert t.loc["good", "conversions_to_date"] == 42 and t.loc["bad", "spend_to_date"] == 350
    assert t.loc["good", "p_best"] == pytest.approx(1.0, abs=1e-6)
    assert t.loc["good", "budget"] == 99.0 and t.loc["bad", "budget"] == 1.0
    assert t.loc["bad", "binding"] == "floor"
    assert t.loc["bad", "reason"] == (
        "Unlikely to be best (P(best) < 0.001, 7 conversions from 350.00 so far): "
        "gets 1.00, the exploration floor that keeps it learning."
    )


def test_current_split_defines_arms_and_change() -> None:
    current = pd.DataFrame(
        {"creative": ["good", "newbie"], "audience": ["a1", "a1"], "budget": [60.0, 40.0]}
    )
    rec = optimizer.recommend(tiny(), 100, current=current, config=optimizer.ThompsonConfig())
    t = rec.allocations.set_index("creative")
    assert list(t.index) == ["good", "newbie"]  # "bad" is retired: not in the current split
    np.testing.assert_allclose(t["change"], t["budget"] - t["current"])
    assert t.loc["newbie", "spend_to_date"] == 0
    assert t.loc["newbie", "reason"].startswith("New arm with no spend yet")


def test_locked_and_bounds_from_current() -> None:
    current = pd.DataFrame(
        {
            "creative": ["good", "bad"],
            "audience": ["a1", "a1"],
            "budget": [50.0, 50.0],
            "max_budget": [70.0, None],
            "locked": ["no", "no"],
        }
    )
    t = optimizer.recommend(tiny(), 100, current=current).allocations.set_index("creative")
    assert t.loc["good", "budget"] == 70.0 and t.loc["good", "binding"] == "max_spend"
    assert t.loc["good", "reason"].endswith(", its maximum spend.")


def test_as_of_leaves_later_days_out() -> None:
    rec = optimizer.recommend(tiny(), 100, as_of="2026-03-04")
    assert rec.n_rows == 6 and rec.data_end == dt.date(2026, 3, 3)
    assert rec.allocations["spend_to_date"].tolist() == [150.0, 150.0]


def test_same_inputs_and_seed_give_identical_output(sample_stats_path: str) -> None:
    for method in ("integrate", "monte_carlo"):
        cfg = optimizer.ThompsonConfig(p_best_method=method, n_draws=2_000)
        a = optimizer.recommend(sample_stats_path, 1000, config=cfg, seed=42)
        b = optimizer.recommend(sample_stats_path, 1000, config=cfg, seed=42)
        pd.testing.assert_frame_equal(a.allocations, b.allocations)
        assert a.to_dict() == b.to_dict()


def test_to_dict_is_json_safe(sample_stats_path: str, sample_current_path: str) -> None:
    rec = optimizer.recommend(sample_stats_path, 1200, current=sample_current_path, seed=3)
    d = json.loads(json.dumps(rec.to_dict(), allow_nan=False))
    assert d["seed"] == 3 and d["as_of"] == "2026-10-29" and d["data_end"] == "2026-10-28"
    assert d["config"] == optimizer.ThompsonConfig().to_dict()
    assert d["version"] and len(d["allocations"]) == 12
    assert set(REQUIRED) <= set(d["allocations"][0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"budget": 0},
            optimizer.ConfigError,
            r"budget \(0\) must be a finite amount of at least one cent",
        ),
        ({"budget": 0.004}, optimizer.ConfigError, r"at least one cent"),
        ({"budget": "100"}, optimizer.ConfigError, r"budget \('100'\) must be a number"),
        ({"objective": "clicks"}, optimizer.ConfigError, "objective .* must be one of"),
        ({"as_of": "03/04/2026"}, optimizer.ConfigError, "is not an ISO date"),
        ({"as_of": "2026-03-01"}, optimizer.InvalidStatsError, "no spend before 2026-03-01"),
        ({"campaign": "nope"}, optimizer.InvalidStatsError, "campaign 'nope' is not in the stats"),
        ({"seed": 1.5}, optimizer.ConfigError, "seed"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    args = {"budget": 100, **kwargs}
    with pytest.raises(error, match=match):
        optimizer.recommend(tiny(), args.pop("budget"), **args)


def test_several_campaigns_need_a_choice() -> None:
    both = pd.concat([tiny(), tiny().assign(campaign="other")])
    with pytest.raises(optimizer.InvalidStatsError, match="stats hold 2 campaigns"):
        optimizer.recommend(both, 100)
    rec = optimizer.recommend(both, 100, campaign="other")
    assert rec.campaign == "other" and rec.n_rows == 14


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"floor": 1.5}, r"floor \(1.5\) must be in \[0, 1\)"),
        ({"max_change": 0}, r"max_change \(0\) must be > 0"),
        ({"n_draws": 10}, r"n_draws \(10\) must be >= 100"),
        ({"credible_level": 1.0}, r"credible_level \(1.0\) must be in \(0, 1\)"),
        ({"min_prior_strength": 2.0, "max_prior_strength": 1.0}, "max_prior_strength"),
        ({"p_best_method": "guess"}, "p_best_method"),
        ({"florr": 0.1}, "unknown setting\\(s\\) florr"),
    ],
)
def test_config_is_validated_when_built(values: dict, match: str) -> None:
    with pytest.raises(optimizer.ConfigError, match=match):
        optimizer.ThompsonConfig.from_dict(values)


def test_config_files_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = optimizer.ThompsonConfig(floor=0.01, max_change=0.25)
    (tmp_path / "c.json").write_text(json.dumps({"thompson": cfg.to_dict()}))
    (tmp_path / "c.toml").write_text("floor = 0.01\nmax_change = 0.25\n")
    assert optimizer.load_config(tmp_path / "c.json") == cfg
    assert optimizer.load_config(tmp_path / "c.toml") == cfg


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("creative,audience\nx,y\n", "required column 'budget' is missing"),
        ("creative,audience,budget\nx,y,-1\n", r"row 1: budget \(-1.0\) must be >= 0 and finite"),
        ("creative,audience,budget\nx,y,ten\n", r"row 1: budget \('ten'\) is not a number"),
        ("creative,audience,budget\nx,y,1\nx,y,2\n", r"row 2: arm \(x, y\) repeats row 1"),
        ("creative,audience,budget,locked\nx,y,1,maybe\n", "locked .* must be true or false"),
        (
            "creative,audience,budget,min_budget,max_budget\nx,y,1,5,2\n",
            r"max_budget \(2.0\) < min",
        ),
    ],
)
def test_bad_current_split(tmp_path, text: str, match: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "current.csv"
    path.write_text(text)
    with pytest.raises(optimizer.InvalidCurrentError, match=match):
        optimizer.load_current(path)


def test_change_cap_surplus_goes_down_the_ranking(
    sample_stats_path: str, sample_current_path: str
) -> None:
    cfg = optimizer.ThompsonConfig(max_change=0.3, floor=0.005)
    t = optimizer.recommend(sample_stats_path, 1200, current=sample_current_path, config=cfg)
    table = t.allocations
    raised = table[table["change"] > 0]
    cut = table[table["change"] < 0]
    assert len(raised) >= 2 and len(cut) >= 2
    # Budget the weak arms must release flows to the best of the rest, never at random.
    assert raised["rate_mean"].min() > cut["rate_mean"].max()
    later = raised[raised["round"] > 0]
    assert later["reason"].str.contains("better arms are at their limits").all()


def test_evidence_gives_the_same_answer_as_the_stats(sample_stats_path: str) -> None:
    """fit_evidence + recommend(evidence) is recommend(stats), only cheaper to repeat."""
    cfg = optimizer.ThompsonConfig(floor=0.01, half_life_days=14)
    evidence = optimizer.fit_evidence(sample_stats_path, config=cfg)
    for budget in (500.0, 1200.0):
        direct = optimizer.recommend(sample_stats_path, budget, config=cfg, seed=3)
        reused = optimizer.recommend(evidence, budget, config=cfg, seed=3)
        pd.testing.assert_frame_equal(reused.allocations, direct.allocations)
        assert reused.to_dict() == direct.to_dict()
    # prior settings may change between calls; each gets its own fitted model
    other = optimizer.ThompsonConfig(floor=0.01, half_life_days=14, max_prior_strength=1.0)
    pd.testing.assert_frame_equal(
        optimizer.recommend(evidence, 800.0, config=other, seed=1).allocations,
        optimizer.recommend(sample_stats_path, 800.0, config=other, seed=1).allocations,
    )


@pytest.mark.parametrize("keep_draws", [True, False], ids=["draws-kept", "draws-too-big"])
def test_many_questions_of_one_evidence_match_fresh_answers(
    sample_stats_path: str,
    sample_current_path: str,
    keep_draws: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """recommend() keeps budget-free fits (posteriors, P(best), response draws) on the
    Evidence per arms, settings and seed; interleaved questions that differ in each of
    those must still get exactly the answers of a fresh fit."""
    if not keep_draws:  # response draws above the size limit are drawn on every call
        module = importlib.import_module("optimizer.recommend")
        monkeypatch.setattr(module, "KEEP_DRAWS_BYTES", 0)
    # Two arms with the same record: P(best) near 1/2, so Monte Carlo seeds show.
    twins = pd.DataFrame(
        {
            "campaign": "twins",
            "date": ["2026-03-01", "2026-03-01"],
            "creative": ["a", "b"],
            "audience": ["all", "all"],
            "impressions": 1000,
            "clicks": 50,
            "spend": 100.0,
            "conversions": 5,
        }
    )
    current = pd.read_csv(sample_current_path)
    shuffled = current.sample(frac=1.0, random_state=1).iloc[:-2]  # other order, fewer arms
    new_arm = pd.concat(
        [current, pd.DataFrame([{"creative": "new", "audience": "broad_25_54", "budget": 0}])]
    )
    curves = optimizer.ThompsonConfig(saturation_evidence=1e-9)  # response curves always
    mc = optimizer.ThompsonConfig(p_best_method="monte_carlo", n_draws=2000)
    loose = optimizer.ThompsonConfig(max_prior_strength=1.0)  # another prior, other posteriors
    questions = {
        sample_stats_path: [
            {"budget": 1200.0, "seed": 7},
            {"budget": 900.0, "seed": 7},
            {"budget": 1200.0, "seed": 7, "current": current},
            {"budget": 1200.0, "seed": 7, "current": shuffled},
            {"budget": 1200.0, "seed": 7, "current": new_arm},
            {"budget": 1200.0, "seed": 7, "objective": "revenue"},
            {"budget": 700.0, "seed": 7, "config": curves},
            {"budget": 1500.0, "seed": 7, "config": curves},
            {"budget": 900.0, "seed": 7, "config": loose},
            {"budget": 900.0, "seed": 7},  # back to the first settings
        ],
        "twins": [
            {"budget": 100.0, "seed": 8, "config": mc},
            {"budget": 100.0, "seed": 9, "config": mc},
            {"budget": 100.0, "seed": 8, "config": mc, "objective": "revenue"},
            {"budget": 100.0, "seed": 9, "config": mc, "objective": "revenue"},
        ],
    }
    for source, asked in questions.items():
        stats = twins if source == "twins" else source
        evidence = optimizer.fit_evidence(stats)
        for i, kwargs in enumerate(asked):
            reused = optimizer.recommend(evidence, **kwargs)
            fresh = optimizer.recommend(stats, **kwargs)
            pd.testing.assert_frame_equal(
                reused.allocations, fresh.allocations, obj=f"{source} question {i}"
            )
            # a caller editing its answer does not reach what the evidence keeps
            reused.allocations["p_best"] = 0.0
    # Unseeded Monte Carlo stays random from call to call: nothing is kept for it. Two
    # calls tie by chance about 1% of the time (2,000 draws near 1/2), five all tie with
    # a chance below 1e-6; kept draws would tie every time.
    evidence = optimizer.fit_evidence(twins)
    draws = [optimizer.recommend(evidence, 100.0, seed=None, config=mc) for _ in range(5)]
    assert len({a.allocations["p_best"].iloc[0] for a in draws}) > 1


def test_to_dict_is_json_with_plain_values(
    sample_stats_path: str, sample_current_path: str
) -> None:
    """Allocations convert a column at a time; each value must come out as it would one
    by one: Python int/float/str, NaN and infinities as None (strict JSON)."""
    rec = optimizer.recommend(sample_stats_path, 1200.0, current=sample_current_path, seed=7)
    table = rec.allocations
    assert table["saturation_median"].map(np.isinf).all()  # linear: inf, must become None
    assert table["p_cpa_above_target"].isna().all()  # no target: NaN, must become None
    records = rec.to_dict()["allocations"]
    json.dumps(records, allow_nan=False)
    assert len(records) == len(table)
    for i, record in enumerate(records):
        assert list(record) == list(table.columns)
        for name, value in record.items():
            cell = table[name].iloc[i]
            if isinstance(cell, float | np.floating) and not np.isfinite(cell):
                assert value is None, (i, name)
            else:
                assert value == cell and type(value) in (int, float, str), (i, name, value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"as_of": "2026-10-20"}, r"as_of \(2026-10-20\) differs from the evidence's"),
        ({"campaign": "other"}, r"campaign \(other\) differs"),
        ({"config": optimizer.ThompsonConfig(half_life_days=3)}, r"half_life_days \(3"),
    ],
)
def test_evidence_refuses_other_stats_settings(sample_stats_path: str, kwargs, match) -> None:  # type: ignore[no-untyped-def]
    evidence = optimizer.fit_evidence(sample_stats_path)
    with pytest.raises(optimizer.ConfigError, match=match):
        optimizer.recommend(evidence, 100.0, **kwargs)
