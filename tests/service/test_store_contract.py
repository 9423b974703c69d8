"""One persistence contract, run on SQLite and on PostgreSQL.

Ingest is an idempotent upsert on (campaign, date, creative, audience); a refused
batch writes nothing; decisions are audited and happen once.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import optimizer
from service import auth, store
from service.db import Database
from service.errors import ConflictError, InvalidSplitError, NotFoundError, UnauthorizedError
from service.models import ApiKey, StatRow
from tests.service.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


def rows(*specs: tuple[str, str, str, float, float]) -> pd.DataFrame:
    """(date, creative, audience, spend, conversions) -> a stats batch."""
    return pd.DataFrame(
        [
            {
                "date": d,
                "creative": c,
                "audience": a,
                "impressions": 1000,
                "clicks": 50,
                "spend": s,
                "conversions": v,
                "revenue": 10 * v,
            }
            for d, c, a, s, v in specs
        ]
    )


def count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(StatRow)) or 0)


def campaign(db: Database, name: str = "spring") -> int:
    with db.session(write=True) as session:
        return store.create_campaign(session, name, "EUR").id


def ingest(db: Database, campaign_id: int, batch: pd.DataFrame) -> store.IngestResult:
    with db.session(write=True) as session:
        return store.ingest_stats(session, store.get_campaign(session, campaign_id), batch)


def read(db: Database, campaign_id: int, **kw: dt.date) -> pd.DataFrame:
    with db.session() as session:
        return store.stats_frame(session, store.get_campaign(session, campaign_id), **kw)


class TestStats:
    def test_round_trip_is_exact(self, db: Database) -> None:
        cid = campaign(db)
        batch = rows(("2026-03-01", "c1", "a1", 12.34, 2), ("2026-03-02", "c2", "a1", 0.01, 0.5))
        assert ingest(db, cid, batch) == store.IngestResult(2, 2, 0)
        got = read(db, cid)
        want = optimizer.validate_stats(batch.assign(campaign="spring"))
        pd.testing.assert_frame_equal(got, want, check_dtype=True)

    def test_restated_day_replaces_never_double_counts(self, db: Database) -> None:
        cid = campaign(db)
        ingest(db, cid, rows(("2026-03-01", "c1", "a1", 10, 1), ("2026-03-02", "c1", "a1", 10, 0)))
        result = ingest(db, cid, rows(("2026-03-02", "c1", "a1", 10, 3)))
        assert (result.n_inserted, result.n_replaced) == (0, 1)
        got = read(db, cid)
        assert got["conversions"].tolist() == [1.0, 3.0]
        assert count(db) == 2

    def test_refused_batch_writes_nothing(self, db: Database) -> None:
        cid = campaign(db)
        ingest(db, cid, rows(("2026-03-01", "c1", "a1", 10, 1)))
        before = read(db, cid)
        bad = rows(*[(f"2026-03-{d:02d}", "c1", "a1", 10, 1) for d in range(1, 29)])
        bad.loc[20, "clicks"] = 5000  # row 21: clicks > impressions
        with pytest.raises(optimizer.InvalidStatsError) as err:
            ingest(db, cid, bad)
        assert [(p.row, p.column) for p in err.value.problems] == [(21, "clicks")]
        pd.testing.assert_frame_equal(read(db, cid), before)

    def test_other_campaigns_name_in_a_row_is_refused(self, db: Database) -> None:
        cid = campaign(db)
        batch = rows(("2026-03-01", "c1", "a1", 10, 1)).assign(campaign=["autumn"])
        with pytest.raises(optimizer.InvalidStatsError, match="row 1: campaign"):
            ingest(db, cid, batch)
        assert count(db) == 0

    def test_campaigns_do_not_share_keys(self, db: Database) -> None:
        a, b = campaign(db, "a"), campaign(db, "b")
        ingest(db, a, rows(("2026-03-01", "c1", "a1", 10, 1)))
        ingest(db, b, rows(("2026-03-01", "c1", "a1", 20, 2)))
        assert read(db, a)["spend"].tolist() == [10.0]
        assert read(db, b)["spend"].tolist() == [20.0]

    def test_date_filters_are_inclusive(self, db: Database) -> None:
        cid = campaign(db)
        ingest(db, cid, rows(*[(f"2026-03-0{d}", "c1", "a1", d, 0) for d in range(1, 6)]))
        got = read(db, cid, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 4))
        assert got["spend"].tolist() == [2.0, 3.0, 4.0]

    def test_duplicate_name_conflicts(self, db: Database) -> None:
        campaign(db, "x")
        with pytest.raises(ConflictError, match="already exists"):
            campaign(db, "x")

    def test_unknown_campaign_is_not_found(self, db: Database) -> None:
        with db.session() as session, pytest.raises(NotFoundError, match="no campaign with id 9"):
            store.get_campaign(session, 9)


batches = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["2026-03-01", "2026-03-02", "2026-03-03"]),
            st.sampled_from(["c1", "c2"]),
            st.sampled_from(["a1", "a2"]),
            st.integers(0, 100).map(float),
            st.integers(0, 5).map(float),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda r: r[:3],
    ),
    min_size=1,
    max_size=4,
)


_names = iter(range(10**9))


# The database is shared by the examples of one test (a fresh one per example would cost
# a migration each); every example writes into a campaign of its own.
@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches)
def test_ingest_is_last_write_wins(db: Database, batches: list) -> None:  # type: ignore[type-arg]
    """Whatever order restatements come in, the store holds the last value of every key."""
    cid = campaign(db, f"c{next(_names)}")
    expected: dict[tuple[str, str, str], float] = {}
    for batch in batches:
        ingest(db, cid, rows(*batch))
        expected.update({(d, c, a): s for d, c, a, s, _ in batch})
    got = read(db, cid)
    stored = {
        (d.strftime("%Y-%m-%d"), c, a): s
        for d, c, a, s in zip(
            got["date"], got["creative"], got["audience"], got["spend"], strict=True
        )
    }
    assert stored == expected


class TestEvents:
    def test_conversions_match_stored_clicks_and_unknown_ones_refuse_the_batch(
        self, db: Database
    ) -> None:
        cid = campaign(db)
        clicks = pd.DataFrame(
            {
                "click_id": ["k1", "k2"],
                "time": ["2026-03-01 10:00", "2026-03-01 11:00"],
                "creative": ["c1", "c1"],
                "audience": ["a1", "a2"],
            }
        )
        empty = pd.DataFrame(columns=["click_id", "time", "value"])
        with db.session(write=True) as session:
            c = store.get_campaign(session, cid)
            assert store.ingest_events(session, c, clicks, empty) == (2, 0)
        later = pd.DataFrame({"click_id": ["k2"], "time": ["2026-03-03 09:00"], "value": [40]})
        no_clicks = clicks.iloc[:0]
        with db.session(write=True) as session:
            c = store.get_campaign(session, cid)
            assert store.ingest_events(session, c, no_clicks, later) == (0, 1)
        stray = pd.DataFrame(
            {"click_id": ["k1", "zz"], "time": ["2026-03-02", "2026-03-02"], "value": [1, 2]}
        )
        with pytest.raises(optimizer.InvalidEventsError, match="row 2: .*unknown click_id"):
            with db.session(write=True) as session:
                store.ingest_events(session, store.get_campaign(session, cid), no_clicks, stray)
        with db.session() as session:
            got_clicks, got_conv = store.event_frames(session, store.get_campaign(session, cid))
        assert got_clicks["click_id"].tolist() == ["k1", "k2"]
        assert got_conv[["click_id", "value"]].values.tolist() == [["k2", 40.0]]


def _recommendation(db: Database, cid: int, current: list[dict] | None = None) -> int:  # type: ignore[type-arg]
    batch = rows(
        *[
            (f"2026-03-{d:02d}", c, "a1", 50, v)
            for d in range(1, 15)
            for c, v in (("c1", 2), ("c2", 4))
        ]
    )
    ingest(db, cid, batch)
    rec = optimizer.recommend(
        read(db, cid), 100.0, seed=1, current=pd.DataFrame(current) if current else None
    )
    with db.session(write=True) as session:
        c = store.get_campaign(session, cid)
        return store.save_recommendation(
            session, c.id, rec.to_dict(), {"current": current}, "bot"
        ).id


class TestDecisions:
    def test_approve_once_then_conflict_names_who(self, db: Database) -> None:
        rid = _recommendation(db, campaign(db))
        with db.session(write=True) as session:
            store.decide(session, rid, "approve", "ana", "looks right")
        with (
            db.session(write=True) as session,
            pytest.raises(ConflictError, match="approved by 'ana'"),
        ):
            store.decide(session, rid, "reject", "bo", "no")
        with db.session() as session:
            record = store.get_recommendation(session, rid)
            decisions = store.decisions_of(session, record)
            assert record.status == "approved"
            assert [(d.action, d.key_name, d.note) for d in decisions] == [
                ("approve", "ana", "looks right")
            ]
            split = store.final_split(record, decisions)
            assert split is not None and sum(s["budget"] for s in split) == pytest.approx(100)

    def test_reject_needs_a_note(self, db: Database) -> None:
        rid = _recommendation(db, campaign(db))
        with db.session(write=True) as session, pytest.raises(InvalidSplitError, match="note"):
            store.decide(session, rid, "reject", "ana", "  ")

    def test_edit_keeps_both_splits(self, db: Database) -> None:
        rid = _recommendation(db, campaign(db))
        split = [
            {"creative": "c1", "audience": "a1", "budget": 30.0},
            {"creative": "c2", "audience": "a1", "budget": 70.0},
        ]
        with db.session(write=True) as session:
            store.decide(session, rid, "edit", "ana", "cap c2", split)
        with db.session() as session:
            record = store.get_recommendation(session, rid)
            assert record.status == "edited"
            assert store.final_split(record, store.decisions_of(session, record)) == split
            assert len(record.content["allocations"]) == 2  # the recommended split is kept

    @pytest.mark.parametrize(
        ("split", "match"),
        [
            ([("c1", 40.0), ("c2", 50.0)], "adds up to 90.00, not the budget 100.00"),
            ([("c1", 30.0)], "1 arm\\(s\\) missing"),
            ([("c1", 30.0), ("c1", 70.0)], "row 2: arm .* appears twice"),
            ([("c1", -5.0), ("c2", 105.0)], "row 1: budget \\(-5.0\\) must be"),
            ([("c1", 30.0), ("c9", 70.0)], "row 2: arm \\('c9', 'a1'\\) is not in"),
            (
                [("c1", 5.0), ("c2", 95.0)],
                "row 1: budget \\(5\\) .* outside its bounds \\[10, inf\\]",
            ),
            ([("c1", 30.0), ("c2", 70.0)], "row 2: arm .* is locked at 50"),
        ],
    )
    def test_bad_edits_are_refused_and_change_nothing(
        self, db: Database, split: list[tuple[str, float]], match: str
    ) -> None:
        current = [
            {"creative": "c1", "audience": "a1", "budget": 50.0, "min_budget": 10.0},
            {"creative": "c2", "audience": "a1", "budget": 50.0, "locked": True},
        ]
        rid = _recommendation(db, campaign(db), current)
        items = [{"creative": c, "audience": "a1", "budget": b} for c, b in split]
        with db.session(write=True) as session, pytest.raises(InvalidSplitError, match=match):
            store.decide(session, rid, "edit", "ana", "", items)
        with db.session() as session:
            record = store.get_recommendation(session, rid)
            assert record.status == "pending"
            assert store.decisions_of(session, record) == []


class TestKeys:
    def test_only_the_hash_is_stored_and_revocation_works(self, db: Database) -> None:
        with db.session(write=True) as session:
            row, key = auth.create_key(session, "ana", "specialist")
        with db.session() as session:
            stored = session.scalars(select(ApiKey)).one()
            assert key not in (stored.key_hash, stored.prefix, stored.name)
            assert stored.key_hash == auth.hash_key(key) and len(stored.key_hash) == 64
            assert auth.authenticate(session, key) == auth.Principal("ana", "specialist")
        with db.session(write=True) as session:
            auth.revoke_key(session, row.id)
        with db.session() as session, pytest.raises(UnauthorizedError, match="revoked"):
            auth.authenticate(session, key)

    def test_duplicate_key_name_conflicts(self, db: Database) -> None:
        with db.session(write=True) as session:
            auth.create_key(session, "ana", "viewer")
        with db.session(write=True) as session, pytest.raises(ConflictError):
            auth.create_key(session, "ana", "admin")
