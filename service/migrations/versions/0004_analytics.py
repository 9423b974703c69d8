"""Conversions from web analytics: per-campaign conversion source and UTM mapping, and the
analytics table (sessions, conversions, revenue per arm and day).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NAME = 200


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("conversion_source", sa.String(20), nullable=False, server_default="platform")
        )
        batch.add_column(sa.Column("utm", sa.JSON))
    op.create_table(
        "analytics_stats",
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
        sa.Column("sessions", sa.Float, nullable=False),
        sa.Column("conversions", sa.Float, nullable=False),
        sa.Column("revenue", sa.Float, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("goal", sa.String(NAME), nullable=False),
        sa.UniqueConstraint("campaign_id", "date", "creative", "audience", name="uq_analytics_key"),
    )
    op.create_index("ix_analytics_stats_campaign_id", "analytics_stats", ["campaign_id"])


def downgrade() -> None:
    op.drop_table("analytics_stats")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("utm")
        batch.drop_column("conversion_source")
