"""Alembic migrations on SQLite and PostgreSQL: from empty, and from the previous
revision with data in it; the migrated schema is exactly what the models describe."""

from __future__ import annotations

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from service import store
from service.db import Database
from service.models import Base
from tests.service.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


def test_upgrade_from_empty_gives_the_models_schema(database_url: str) -> None:
    db = Database(database_url)
    assert db.revision() is None
    db.upgrade()
    assert db.revision() == db.head() == "0005"
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []
    db.dispose()


def test_upgrade_from_previous_revision_keeps_the_data(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade("0001")
    # Written as the 0001 code would have: plain SQL, no knowledge of later columns.
    with db.write_engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO campaigns (id, name, currency, created_at, stats_version) "
                "VALUES (1, 'spring', 'EUR', '2026-03-01 00:00:00', 1)"
            )
        )
        c.execute(
            text(
                "INSERT INTO stats (campaign_id, date, creative, audience, impressions, clicks, "
                "spend, conversions, revenue, updated_at) VALUES "
                "(1, '2026-03-01', 'c1', 'a1', 1000, 20, 10.5, 2, 40, '2026-03-02 00:00:00')"
            )
        )
        c.execute(
            text(
                "INSERT INTO recommendations (id, campaign_id, created_at, created_by, status, "
                "budget, objective, seed, request, content) VALUES (1, 1, '2026-03-02 00:00:00', "
                "'bot', 'pending', 100, 'conversions', 7, '{}', '{\"allocations\": []}')"
            )
        )
    db.upgrade()
    assert db.revision() == "0005"
    with db.session() as session:
        campaign = store.get_campaign(session, 1)
        frame = store.stats_frame(session, campaign)
        record = store.get_recommendation(session, 1)
        assert record.tracking_run_id is None and record.content == {"allocations": []}
    assert frame[["creative", "spend", "conversions"]].values.tolist() == [["c1", 10.5, 2.0]]
    # The new revision's tables work on the upgraded database.
    clicks = pd.DataFrame(
        {"click_id": ["k1"], "time": ["2026-03-01 10:00"], "creative": ["c1"], "audience": ["a1"]}
    )
    conversions = pd.DataFrame({"click_id": ["k1"], "time": ["2026-03-02 10:00"], "value": [5]})
    with db.session(write=True) as session:
        assert store.ingest_events(
            session, store.get_campaign(session, 1), clicks, conversions
        ) == (
            1,
            1,
        )
    db.dispose()
