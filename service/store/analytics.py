"""Web-analytics rows per arm and day."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ..models import (
    AnalyticsRow,
    Campaign,
)
from ._sql import _upsert
from .campaigns import bump_stats_version

# -- web analytics -----------------------------------------------------------------------


def ingest_analytics(
    session: Session, campaign: Campaign, table: pd.DataFrame, source: str, goal: str
) -> int:
    """Upsert analytics rows (campaign, date, creative, audience, sessions, conversions,
    revenue) on (campaign, date, creative, audience); returns the rows stored."""
    rows = [
        {
            "campaign_id": campaign.id,
            "date": d.date(),
            "creative": str(c),
            "audience": str(a),
            "sessions": float(s),
            "conversions": float(v),
            "revenue": float(r),
            "source": source,
            "goal": goal,
        }
        for d, c, a, s, v, r in zip(
            table["date"],
            table["creative"],
            table["audience"],
            table["sessions"],
            table["conversions"],
            table["revenue"],
            strict=True,
        )
    ]
    analytics_table: Table = AnalyticsRow.__table__  # type: ignore[assignment]
    _upsert(
        session,
        analytics_table,
        rows,
        key=("campaign_id", "date", "creative", "audience"),
        update=("sessions", "conversions", "revenue", "source", "goal"),
    )
    bump_stats_version(session, campaign)  # recommendations on analytics conversions change
    return len(rows)


def analytics_frame(session: Session, campaign: Campaign) -> tuple[pd.DataFrame, str | None]:
    """The stored analytics table and what it counts ("Google Analytics 4 goal 'x'")."""
    records = session.execute(
        select(
            AnalyticsRow.date,
            AnalyticsRow.creative,
            AnalyticsRow.audience,
            AnalyticsRow.sessions,
            AnalyticsRow.conversions,
            AnalyticsRow.revenue,
            AnalyticsRow.source,
            AnalyticsRow.goal,
        )
        .where(AnalyticsRow.campaign_id == campaign.id)
        .order_by(AnalyticsRow.date, AnalyticsRow.creative, AnalyticsRow.audience)
    ).all()
    frame = pd.DataFrame.from_records(
        records,
        columns=[
            "date",
            "creative",
            "audience",
            "sessions",
            "conversions",
            "revenue",
            "source",
            "goal",
        ],  # fmt: skip
    )
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    label = None
    if len(frame):
        last = frame.iloc[-1]
        label = f"{last['source']} goal {last['goal']!r}"
    return frame, label
