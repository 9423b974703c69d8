"""Event logs for the delay model; recommendations remember their MLflow run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NAME = 200


def _campaign() -> sa.Column:
    return sa.Column(
        "campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "click_events",
        sa.Column("id", sa.Integer, primary_key=True),
        _campaign(),
        sa.Column("click_id", sa.String(NAME), nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("creative", sa.String(NAME), nullable=False),
        sa.Column("audience", sa.String(NAME), nullable=False),
        sa.UniqueConstraint("campaign_id", "click_id", name="uq_click_key"),
    )
    op.create_index("ix_click_events_campaign_id", "click_events", ["campaign_id"])
    op.create_table(
        "conversion_events",
        sa.Column("id", sa.Integer, primary_key=True),
        _campaign(),
        sa.Column("click_id", sa.String(NAME), nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.UniqueConstraint("campaign_id", "click_id", "time", name="uq_conversion_key"),
    )
    op.create_index("ix_conversion_events_campaign_id", "conversion_events", ["campaign_id"])
    with op.batch_alter_table("recommendations") as batch:
        batch.add_column(sa.Column("tracking_run_id", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("recommendations") as batch:
        batch.drop_column("tracking_run_id")
    op.drop_table("conversion_events")
    op.drop_table("click_events")
