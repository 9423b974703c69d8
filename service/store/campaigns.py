"""Campaigns."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import ConflictError, NotFoundError
from ..models import (
    Campaign,
    utcnow,
)

# -- campaigns ---------------------------------------------------------------------------


def create_campaign(session: Session, name: str, currency: str | None = None) -> Campaign:
    """A new campaign; ConflictError when the name is taken."""
    if session.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
        raise ConflictError(f"a campaign named {name!r} already exists")
    campaign = Campaign(name=name, currency=currency, created_at=utcnow(), stats_version=0)
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"no campaign with id {campaign_id}")
    return campaign


def bump_stats_version(session: Session, campaign: Campaign) -> int:
    """Mark the campaign's data changed; returns the new ``stats_version``.

    One ``UPDATE ... SET stats_version = stats_version + 1`` on the database, not a
    read-modify-write in Python: on PostgreSQL two ingests into one campaign would
    otherwise both read 5 and both write 6, and a stats table cached between them at
    "6" would miss the second batch. The update also locks the campaign's row until
    the transaction ends, so versions commit in order. Call it before writing rows
    that carry the version.
    """
    version = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(stats_version=Campaign.stats_version + 1)
        .returning(Campaign.stats_version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(campaign, "stats_version", version)
    return int(version)


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id)))
