"""Campaigns."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id)))
