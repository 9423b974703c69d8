"""Click and conversion event logs for the delay model."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

import optimizer

from ..models import (
    Campaign,
    ClickEvent,
    ConversionEvent,
)
from ._sql import _upsert
from .campaigns import bump_stats_version

# -- event logs -----------------------------------------------------------------------------


def ingest_events(
    session: Session, campaign: Campaign, clicks: pd.DataFrame, conversions: pd.DataFrame
) -> tuple[int, int]:
    """Validate and upsert click and conversion logs; returns (clicks, conversions) stored.

    Clicks are keyed by ``click_id``, conversions by (click_id, time). Conversions
    must name a click of this batch or one already stored.
    """
    stored = event_frames(session, campaign)[0]
    if len(stored) and "click_id" in clicks.columns:
        # The batch's rows first, so problem rows are the batch's own row numbers; a
        # re-sent click replaces the stored one.
        ids = set(clicks["click_id"].astype(str).str.strip())
        stored = stored[~stored["click_id"].isin(ids)]
        all_clicks = pd.concat([clicks, stored], ignore_index=True)
    else:
        all_clicks = clicks
    log = optimizer.load_events(all_clicks, conversions)
    if len(log.excluded):
        raise optimizer.InvalidEventsError(
            [
                optimizer.InputProblem(int(r), "click_id", f"conversion log: {why}", c)
                for r, c, why in zip(
                    log.excluded["row"],
                    log.excluded["click_id"],
                    log.excluded["reason"],
                    strict=True,
                )
            ]
        )
    new_clicks = log.clicks[log.clicks["click_id"].isin(clicks["click_id"].astype(str).str.strip())]
    click_rows = [
        {
            "campaign_id": campaign.id,
            "click_id": str(c),
            "time": t.to_pydatetime(),
            "creative": str(cr),
            "audience": str(a),
        }
        for c, t, cr, a in zip(
            new_clicks["click_id"],
            new_clicks["time"],
            new_clicks["creative"],
            new_clicks["audience"],
            strict=True,
        )
    ]
    conv_rows = [
        {
            "campaign_id": campaign.id,
            "click_id": str(c),
            "time": t.to_pydatetime(),
            "value": float(v),
        }
        for c, t, v in zip(
            log.matched["click_id"],
            log.matched["conversion_time"],
            log.matched["value"],
            strict=True,
        )
    ]
    clicks_table: Table = ClickEvent.__table__  # type: ignore[assignment]
    conversions_table: Table = ConversionEvent.__table__  # type: ignore[assignment]
    _upsert(
        session,
        clicks_table,
        click_rows,
        key=("campaign_id", "click_id"),
        update=("time", "creative", "audience"),
    )
    _upsert(
        session,
        conversions_table,
        conv_rows,
        key=("campaign_id", "click_id", "time"),
        update=("value",),
    )
    bump_stats_version(session, campaign)  # the delay fitted from the logs may change
    return len(click_rows), len(conv_rows)


def event_frames(
    session: Session,
    campaign: Campaign,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored click and conversion logs (``time`` from ``start``, before ``end``)."""
    cq = select(
        ClickEvent.click_id, ClickEvent.time, ClickEvent.creative, ClickEvent.audience
    ).where(ClickEvent.campaign_id == campaign.id)
    vq = select(ConversionEvent.click_id, ConversionEvent.time, ConversionEvent.value).where(
        ConversionEvent.campaign_id == campaign.id
    )
    if start is not None:
        cq, vq = cq.where(ClickEvent.time >= start), vq.where(ConversionEvent.time >= start)
    if end is not None:
        cq, vq = cq.where(ClickEvent.time < end), vq.where(ConversionEvent.time < end)
    clicks = pd.DataFrame.from_records(
        session.execute(cq.order_by(ClickEvent.time)).all(),
        columns=["click_id", "time", "creative", "audience"],
    )
    conversions = pd.DataFrame.from_records(
        session.execute(vq.order_by(ConversionEvent.time)).all(),
        columns=["click_id", "time", "value"],
    )
    return clicks, conversions


def has_events(session: Session, campaign: Campaign) -> bool:
    n = session.scalar(
        select(func.count())
        .select_from(ConversionEvent)
        .where(ConversionEvent.campaign_id == campaign.id)
    )
    return bool(n)
