"""The stats contract: golden parsing, a table of invalid inputs with exact messages."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer
from tests.conftest import frame, stats_row

HEADER = "campaign,date,creative,audience,impressions,clicks,spend,conversions,revenue\n"
GOOD = "spring,2026-03-01,c1,a1,1000,20,10.5,2,50\n"


def write(tmp_path: Path, text: str, name: str = "stats.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_golden_csv_parse(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "date,creative,audience,impressions,clicks,spend,conversions\n"
        "2026-03-01, c1 ,a1,1000,20,10.5,2\n"
        "2026-03-02,c1,a1,0,3,0,0.5\n",
    )
    stats = optimizer.load_stats(path)
    assert list(stats.columns) == list(optimizer.STATS_COLUMNS)
    assert stats["campaign"].tolist() == ["default", "default"]
    assert stats["creative"].tolist() == ["c1", "c1"]  # surrounding spaces removed
    assert stats["date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-03-01", "2026-03-02"]
    assert stats["impressions"].dtype == np.int64 and stats["clicks"].tolist() == [20, 3]
    assert stats["spend"].tolist() == [10.5, 0.0]
    assert stats["conversions"].tolist() == [2.0, 0.5]
    assert stats["revenue"].tolist() == [0.0, 0.0]


def test_dataframe_and_parquet_agree_with_csv(tmp_path: Path) -> None:
    rows = [stats_row(), stats_row(date="2026-03-02", clicks=0, conversions=0)]
    from_frame = optimizer.load_stats(frame(*rows))
    parquet = tmp_path / "stats.parquet"
    frame(*rows).to_parquet(parquet)
    from_parquet = optimizer.load_stats(parquet)
    csv = write(
        tmp_path, HEADER + GOOD.replace("10.5", "10") + "spring,2026-03-02,c1,a1,1000,0,10,0,50\n"
    )
    from_csv = optimizer.load_stats(csv)
    pd.testing.assert_frame_equal(from_frame, from_parquet)
    pd.testing.assert_frame_equal(from_frame, from_csv)


def test_unknown_columns_are_ignored_with_a_warning() -> None:
    with pytest.warns(optimizer.StatsWarning, match="ignored unknown column\\(s\\): ctr, notes"):
        stats = optimizer.load_stats(frame(stats_row(ctr=0.02, notes="x")))
    assert "ctr" not in stats.columns


def test_no_warning_for_known_columns() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer.load_stats(frame(stats_row()))


# (csv body rows after the full header, exact message)
INVALID_ROWS = [
    ("spring,2026-03-01,c1,a1,100,130,10,2,0", "row 1: clicks (130) > impressions (100)"),
    ("spring,2026-03-01,c1,a1,1000,20,-3,2,0", "row 1: spend (-3) must be >= 0"),
    ("spring,2026-03-01,c1,a1,1000,20,abc,2,0", "row 1: spend ('abc') is not a number"),
    ("spring,2026-03-01,c1,a1,1000,20,inf,2,0", "row 1: spend (inf) must be finite"),
    ("spring,2026-03-01,c1,a1,1000,20,,2,0", "row 1: spend is missing"),
    ("spring,2026-03-01,c1,a1,10.5,2,10,2,0", "row 1: impressions (10.5) must be a whole number"),
    ("spring,2026-03-01,c1,a1,-5,0,10,0,0", "row 1: impressions (-5) must be >= 0"),
    ("spring,2026-03-01,c1,a1,1000,2.5,10,0,0", "row 1: clicks (2.5) must be a whole number"),
    ("spring,2026-03-01,c1,a1,1000,20,10,-1,0", "row 1: conversions (-1) must be >= 0"),
    ("spring,2026-03-01,c1,a1,1000,20,10,two,0", "row 1: conversions ('two') is not a number"),
    ("spring,2026-03-01,c1,a1,1000,20,10,2,-7.5", "row 1: revenue (-7.5) must be >= 0"),
    (
        "spring,01/03/2026,c1,a1,1000,20,10,2,0",
        "row 1: date ('01/03/2026') is not an ISO date YYYY-MM-DD",
    ),
    (
        "spring,2026-02-30,c1,a1,1000,20,10,2,0",
        "row 1: date ('2026-02-30') is not an ISO date YYYY-MM-DD",
    ),
    ("spring,,c1,a1,1000,20,10,2,0", "row 1: date is missing"),
    ("spring,2026-03-01,,a1,1000,20,10,2,0", "row 1: creative is empty"),
    ("spring,2026-03-01,c1,  ,1000,20,10,2,0", "row 1: audience is empty"),
    ("spring,2026-03-01,c1,a1,1e3,20,10,2,0", None),  # scientific notation is a number: valid
    (  # a decimal comma adds a field: refused, never shifted into other columns
        "spring,2026-03-01,c1,a1,1000,20,1,5,0,0",
        "cannot read stats.csv: the first row has more fields than the header",
    ),
]


@pytest.mark.parametrize(("body", "message"), INVALID_ROWS)
def test_invalid_rows_are_refused_with_exact_message(
    tmp_path: Path, body: str, message: str | None
) -> None:
    path = write(tmp_path, HEADER + body + "\n")
    if message is None:
        optimizer.load_stats(path)
        return
    with pytest.raises(optimizer.InvalidStatsError) as info:
        optimizer.load_stats(path)
    assert message in str(info.value)


# (table-level breakage, exact message)
INVALID_TABLES = [
    (
        HEADER + GOOD + "spring,2026-03-02,c1,a1,1000,20,10,5,2,0\n",
        "cannot read stats.csv: Error tokenizing data. "
        "C error: Expected 9 fields in line 3, saw 10",
    ),
    (
        "date,creative,audience,impressions,clicks,spend\n2026-03-01,c1,a1,1,0,1\n",
        "table: required column 'conversions' is missing",
    ),
    (
        "date,creative,audience,impressions,clicks,spend,spend,conversions\n",
        "table: column 'spend' appears more than once",
    ),
    ("", "cannot read stats.csv: No columns to parse from file"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_TABLES)
def test_invalid_tables(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(optimizer.InvalidStatsError) as info:
        optimizer.load_stats(write(tmp_path, text))
    assert message in str(info.value)


def test_duplicate_key_names_both_rows() -> None:
    rows = [stats_row(), stats_row(creative="c2"), stats_row(spend=12.0)]
    with pytest.raises(optimizer.InvalidStatsError) as info:
        optimizer.load_stats(frame(*rows))
    assert str(info.value) == (
        "invalid stats: 1 problem in 1 row\n"
        "  row 3: duplicate key (campaign, date, creative, audience) = "
        "(spring, 2026-03-01, c1, a1), same as row 1"
    )


def test_every_bad_row_is_reported_and_the_message_lists_twenty() -> None:
    rows = [stats_row(date=f"2026-03-{d:02d}", spend=-1.0) for d in range(1, 26)]
    with pytest.raises(optimizer.InvalidStatsError) as info:
        optimizer.load_stats(frame(*rows))
    err = info.value
    assert len(err.problems) == 25
    assert [p.row for p in err.problems] == list(range(1, 26))
    assert {p.column for p in err.problems} == {"spend"}
    text = str(err).splitlines()
    assert text[0] == "invalid stats: 25 problems in 25 rows"
    assert text[1] == "  row 1: spend (-1) must be >= 0"
    assert len(text) == 1 + 20 + 1 and text[-1] == "  ... and 5 more"


def test_problems_in_one_row_are_listed_in_column_order() -> None:
    bad = stats_row(creative="", clicks=5000, spend="x")
    with pytest.raises(optimizer.InvalidStatsError) as info:
        optimizer.load_stats(frame(stats_row(date="2026-03-02"), bad))
    assert [(p.row, p.column) for p in info.value.problems] == [
        (2, "creative"),
        (2, "clicks"),
        (2, "spend"),
    ]
    assert info.value.problems[2].to_dict() == {
        "row": 2,
        "column": "spend",
        "rule": "spend ('x') is not a number",
        "value": "x",
    }


def test_clicks_above_impressions_allowed_when_impressions_unreported() -> None:
    stats = optimizer.load_stats(frame(stats_row(impressions=0, clicks=40)))
    assert stats.loc[0, "clicks"] == 40


def test_datetime_column_with_time_is_refused() -> None:
    rows = frame(stats_row())
    rows["date"] = pd.to_datetime(["2026-03-01 13:30"])
    with pytest.raises(optimizer.InvalidStatsError, match="must be a day without a time"):
        optimizer.load_stats(rows)


def test_input_frame_is_not_modified() -> None:
    rows = frame(stats_row(creative=" c1 "))
    before = rows.copy()
    optimizer.load_stats(rows)
    pd.testing.assert_frame_equal(rows, before)


def test_missing_file() -> None:
    with pytest.raises(optimizer.InvalidStatsError, match="file not found"):
        optimizer.load_stats("no/such/file.csv")


def test_aggregate_arms_golden_with_half_life() -> None:
    stats = optimizer.load_stats(
        frame(
            stats_row(date="2026-03-01", spend=10.0, conversions=2),
            stats_row(date="2026-03-02", spend=20.0, conversions=1),
            stats_row(date="2026-03-03", spend=99.0, conversions=9),  # on as_of: left out
        )
    )
    import datetime as dt

    totals = optimizer.aggregate_arms(stats, as_of=dt.date(2026, 3, 3), half_life_days=1.0)
    row = totals.iloc[0]
    # ages 2 and 1 -> weights 0.25 and 0.5
    assert row["spend"] == 30.0 and row["conversions"] == 3.0 and row["n_days"] == 2
    assert row["exposure"] == pytest.approx(10 * 0.25 + 20 * 0.5)
    assert row["weighted_conversions"] == pytest.approx(2 * 0.25 + 1 * 0.5)


def test_aggregate_arms_matches_a_plain_groupby(sample_stats_path: str) -> None:
    stats = optimizer.load_stats(sample_stats_path)
    stats = stats[~((stats["creative"] == "ugc_video") & (stats["date"] < "2026-10-10"))]
    fast = optimizer.aggregate_arms(stats, half_life_days=7.0)
    as_of = stats["date"].max() + pd.Timedelta(days=1)
    weight = 0.5 ** ((as_of - stats["date"]).dt.days / 7.0)
    ref = (
        stats.assign(exposure=stats["spend"] * weight, wc=stats["conversions"] * weight)
        .groupby(["creative", "audience"])
        .agg(
            spend=("spend", "sum"),
            conversions=("conversions", "sum"),
            revenue=("revenue", "sum"),
            impressions=("impressions", "sum"),
            clicks=("clicks", "sum"),
            n_days=("date", "nunique"),
            first_date=("date", "min"),
            last_date=("date", "max"),
            exposure=("exposure", "sum"),
            weighted_conversions=("wc", "sum"),
        )
        .reset_index()
        .assign(maturity=1.0)
    )
    pd.testing.assert_frame_equal(fast, ref, check_dtype=False, check_exact=False, rtol=1e-12)
    assert fast.loc[fast["creative"] == "ugc_video", "n_days"].tolist() == [19, 19, 19]
