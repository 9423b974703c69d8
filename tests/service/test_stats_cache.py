"""The server's stats cache catches up on a change by reading only the rows written since
(stats.version, revision 0005); on SQLite and PostgreSQL it must hold exactly what a full
read gives and lead to the same recommendation as a cold cache."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from service import store
from service.db import Database
from service.engine import StatsCache, compute_recommendation
from service.models import Campaign
from service.schemas import RecommendationIn
from tests.service.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)

# Names whose order differs between code points and a linguistic collation (PostgreSQL's
# en_US sorts "a" before "B" and ignores "_"): the cache's order must not depend on it.
CREATIVES = ["B-video", "a-static", "_carousel", "Ä-story"]
AUDIENCES = ["lookalike", "Broad", "retarget"]


def batch(rng: np.random.Generator, days: pd.DatetimeIndex, share: float) -> pd.DataFrame:
    """A random share of the arm-days of ``days``, with random figures."""
    grid = pd.MultiIndex.from_product(
        [days.strftime("%Y-%m-%d"), CREATIVES, AUDIENCES], names=["date", "creative", "audience"]
    ).to_frame(index=False)
    picked = grid[rng.random(len(grid)) < share].reset_index(drop=True)
    n = len(picked)
    spend = rng.uniform(1, 50, n).round(2)
    clicks = rng.integers(5, 200, n)
    conversions = rng.binomial(clicks, 0.05)
    return picked.assign(
        impressions=clicks * 40,
        clicks=clicks,
        spend=spend,
        conversions=conversions,
        revenue=(conversions * rng.uniform(10, 30, n)).round(2),
    )


def test_cache_caught_up_from_changed_rows_equals_a_full_read(db: Database) -> None:
    rng = np.random.default_rng(11)
    with db.session(write=True) as session:
        cid = store.create_campaign(session, "spring", "EUR").id
    warm = StatsCache()
    body = RecommendationIn(budget=900, seed=3)
    days = pd.date_range("2026-03-01", periods=40)
    steps = [
        batch(rng, days[:30], 1.0),  # history
        batch(rng, days[29:31], 1.0),  # the last day restated, a new day
        batch(rng, days[10:31], 0.2),  # scattered restatements far back
        batch(rng, days[31:32], 0.5),  # a partial new day (some arms missing)
        batch(rng, days[31:33], 0.0),  # nothing at all: the version does not move
        batch(rng, days[32:40], 1.0),  # a week at once
    ]
    for step, frame in enumerate(steps):
        if not frame.empty:
            with db.session(write=True) as session:
                campaign = store.get_campaign(session, cid)
                before = campaign.stats_version
                store.ingest_stats(session, campaign, frame)
            with db.session() as session:
                campaign = store.get_campaign(session, cid)
                changed = store.stats_frame(session, campaign, since=before)
            # Exactly the batch's arm-days come back as changed, no others.
            assert len(changed) == len(frame), step
        _, rec, _, _ = compute_recommendation(db, warm, cid, body)
        _, cold_rec, _, _ = compute_recommendation(db, StatsCache(), cid, body)
        with db.session() as session:
            full = store.stats_frame(session, store.get_campaign(session, cid))
        entry = warm.entry(store_campaign(db, cid))
        assert entry is not None
        pd.testing.assert_frame_equal(entry.stats, full)
        pd.testing.assert_frame_equal(rec.allocations, cold_rec.allocations)
    # Code-point order, whatever the database's collation.
    assert list(full["creative"].drop_duplicates().sort_values()) == sorted(CREATIVES)
    assert full.groupby("date")["creative"].apply(lambda s: s.is_monotonic_increasing).all()


def store_campaign(db: Database, cid: int) -> Campaign:
    with db.session() as session:
        return store.get_campaign(session, cid)


def test_concurrent_writes_to_one_campaign_each_get_a_version(db: Database) -> None:
    # Two transactions bump the version while both are open. A read-modify-write in
    # Python gave both "1" on PostgreSQL, and a table cached at "1" then missed a batch.
    with db.session(write=True) as session:
        cid = store.create_campaign(session, "spring", "EUR").id
    got: list[int] = []
    first_holds = threading.Event()
    release = threading.Event()

    def first() -> None:
        with db.session(write=True) as session:
            got.append(store.bump_stats_version(session, store.get_campaign(session, cid)))
            first_holds.set()
            release.wait(10)

    def second() -> None:
        first_holds.wait(10)
        if db.dialect == "sqlite":
            release.set()  # one writer at a time: this transaction starts after the first
        with db.session(write=True) as session:
            campaign = store.get_campaign(session, cid)
            release.set()  # the first commits while this one waits for the row
            got.append(store.bump_stats_version(session, campaign))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(got) == [1, 2]
    assert store_campaign(db, cid).stats_version == 2
