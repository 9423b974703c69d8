"""Database tables (SQLAlchemy 2 declarative). The schema itself is owned by the
Alembic revisions in ``service/migrations``; a test checks the two agree."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ROLES",
    "AnalyticsRow",
    "STATUSES",
    "ApiKey",
    "Base",
    "Campaign",
    "ClickEvent",
    "ConversionEvent",
    "Decision",
    "RecommendationRecord",
    "StatRow",
    "utcnow",
]

#: Roles from least to most trusted; each can do everything the ones before it can.
ROLES = ("viewer", "specialist", "automation", "admin")
#: A recommendation is pending until someone approves, rejects or edits it.
STATUSES = ("pending", "approved", "rejected", "edited")

NAME = 200  # longest campaign, creative, audience or key name


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    # The ad platform its stats were imported from (revision 0003), for the split's layout.
    platform: Mapped[str | None] = mapped_column(String(20))
    # Whose conversions the recommendations use, "platform" or "analytics" (revision 0004),
    # and how UTM fields name the campaign's arms (None: the documented convention).
    conversion_source: Mapped[str] = mapped_column(
        String(20), default="platform", server_default="platform"
    )
    utm: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Bumped by every ingest so cached stats frames know they are stale.
    stats_version: Mapped[int] = mapped_column(Integer, default=0)


class StatRow(Base):
    """One arm-day of the stats contract (DESIGN.md); the key is unique, ingest upserts."""

    __tablename__ = "stats"
    __table_args__ = (
        UniqueConstraint("campaign_id", "date", "creative", "audience", name="uq_stats_key"),
        Index("ix_stats_campaign_version", "campaign_id", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    creative: Mapped[str] = mapped_column(String(NAME))
    audience: Mapped[str] = mapped_column(String(NAME))
    impressions: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    spend: Mapped[float] = mapped_column(Float)
    conversions: Mapped[float] = mapped_column(Float)
    revenue: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The campaign's stats_version that last wrote the row (revision 0005): a cached
    # table at version v catches up by reading the rows with version > v.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; ``prefix`` lets people tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class RecommendationRecord(Base):
    """A stored recommendation: the request, the full answer, and its review state."""

    __tablename__ = "recommendations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(NAME))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    budget: Mapped[float] = mapped_column(Float)
    objective: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Filled in by the background MLflow logger once the run is written (revision 0002).
    tracking_run_id: Mapped[str | None] = mapped_column(String(64))


class Decision(Base):
    """Who approved, rejected or edited a recommendation, when, and why."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(
        ForeignKey("recommendations.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    key_name: Mapped[str] = mapped_column(String(NAME))
    note: Mapped[str] = mapped_column(Text, default="")
    split: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AnalyticsRow(Base):
    """Web-analytics sessions, conversions and revenue of one arm-day (revision 0004)."""

    __tablename__ = "analytics_stats"
    __table_args__ = (
        UniqueConstraint("campaign_id", "date", "creative", "audience", name="uq_analytics_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    creative: Mapped[str] = mapped_column(String(NAME))
    audience: Mapped[str] = mapped_column(String(NAME))
    sessions: Mapped[float] = mapped_column(Float)
    conversions: Mapped[float] = mapped_column(Float)
    revenue: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))
    goal: Mapped[str] = mapped_column(String(NAME))


class ClickEvent(Base):
    """One click of the optional event log (revision 0002); click ids are unique per campaign."""

    __tablename__ = "click_events"
    __table_args__ = (UniqueConstraint("campaign_id", "click_id", name="uq_click_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    click_id: Mapped[str] = mapped_column(String(NAME))
    time: Mapped[dt.datetime] = mapped_column(DateTime)
    creative: Mapped[str] = mapped_column(String(NAME))
    audience: Mapped[str] = mapped_column(String(NAME))


class ConversionEvent(Base):
    """One conversion of the optional event log, keyed by (click, time) so re-sends upsert."""

    __tablename__ = "conversion_events"
    __table_args__ = (
        UniqueConstraint("campaign_id", "click_id", "time", name="uq_conversion_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    click_id: Mapped[str] = mapped_column(String(NAME))
    time: Mapped[dt.datetime] = mapped_column(DateTime)
    value: Mapped[float] = mapped_column(Float)
