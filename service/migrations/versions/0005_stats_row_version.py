"""Each stats row remembers the campaign stats version that last wrote it, so a cached
stats table can be brought up to date by reading only the rows written since.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this revision get 0: a cache built after the upgrade reads
    # everything once (its first read is a full one), so their version never matters.
    with op.batch_alter_table("stats") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_stats_campaign_version", "stats", ["campaign_id", "version"])


def downgrade() -> None:
    op.drop_index("ix_stats_campaign_version", table_name="stats")
    with op.batch_alter_table("stats") as batch:
        batch.drop_column("version")
