"""Campaigns, daily stats, API keys, recommendations and decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NAME = 200
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("currency", sa.String(3)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("stats_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "stats",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer,
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("creative", sa.String(NAME), nullable=False),
        sa.Column("audience", sa.String(NAME), nullable=False),
        sa.Column("impressions", sa.BigInteger, nullable=False),
        sa.Column("clicks", sa.BigInteger, nullable=False),
        sa.Column("spend", sa.Float, nullable=False),
        sa.Column("conversions", sa.Float, nullable=False),
        sa.Column("revenue", sa.Float, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("campaign_id", "date", "creative", "audience", name="uq_stats_key"),
    )
    op.create_index("ix_stats_campaign_id", "stats", ["campaign_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(NAME), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
    )
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer,
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(NAME), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("budget", sa.Float, nullable=False),
        sa.Column("objective", sa.String(20), nullable=False),
        sa.Column("seed", sa.BigInteger),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
    )
    op.create_index("ix_recommendations_campaign_id", "recommendations", ["campaign_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "recommendation_id",
            sa.Integer,
            sa.ForeignKey("recommendations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("key_name", sa.String(NAME), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("split", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_decisions_recommendation_id", "decisions", ["recommendation_id"])


def downgrade() -> None:
    for table in ("decisions", "recommendations", "api_keys", "stats", "campaigns"):
        op.drop_table(table)
