"""Campaigns, their daily stats and their event logs."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any, TypeVar

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

import optimizer

from .. import store
from ..auth import Principal
from ..db import Database
from ..deps import database, require
from ..models import Campaign, StatRow
from ..schemas import (
    CampaignIn,
    CampaignOut,
    EventsBatch,
    EventsIngestOut,
    EventsOut,
    IngestOut,
    StatRowOut,
    StatsBatch,
    StatsOut,
)
from . import READ, WRITE, errors

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Automation = Annotated[Principal, Depends(require("automation"))]
Db = Annotated[Database, Depends(database)]
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1, description="campaign id")]


def _summary(session: Any, campaign: Campaign) -> CampaignOut:
    n, first, last = session.execute(
        select(func.count(), func.min(StatRow.date), func.max(StatRow.date)).where(
            StatRow.campaign_id == campaign.id
        )
    ).one()
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        currency=campaign.currency,
        created_at=campaign.created_at,
        n_stats_rows=n,
        first_date=first,
        last_date=last,
    )


@router.post("", response_model=CampaignOut, status_code=201, responses=WRITE)
def create_campaign(body: CampaignIn, _who: Automation, db: Db) -> CampaignOut:
    """Create a campaign; 409 when the name is taken."""
    with db.session(write=True) as session:
        campaign = store.create_campaign(session, body.name, body.currency)
        return _summary(session, campaign)


@router.get("", response_model=list[CampaignOut], responses=READ)
def list_campaigns(_who: Viewer, db: Db) -> list[CampaignOut]:
    with db.session() as session:
        return [_summary(session, c) for c in store.list_campaigns(session)]


@router.get("/{campaign_id}", response_model=CampaignOut, responses=READ)
def get_campaign(campaign_id: CampaignId, _who: Viewer, db: Db) -> CampaignOut:
    with db.session() as session:
        return _summary(session, store.get_campaign(session, campaign_id))


# -- stats ----------------------------------------------------------------------------------

_STATS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/StatsBatch"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "stats CSV (or .parquet by file name)",
                        }
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post(
    "/{campaign_id}/stats",
    response_model=IngestOut,
    responses=errors(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_STATS_BODY,
)
async def ingest_stats(
    campaign_id: CampaignId, request: Request, _who: Automation, db: Db
) -> IngestOut:
    """Upsert daily arm stats, as JSON ``{"rows": [...]}`` or a CSV upload (field ``file``).

    One transaction: a re-sent (restated) arm-day replaces the stored one; any
    broken rule refuses the whole batch (422, every problem with its row from 1)
    and nothing is written.
    """
    _check_size(request)
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind == "multipart/form-data":
        content, name = await _upload(request, "file")
        frame = await run_in_threadpool(optimizer.read_stats_file, io.BytesIO(content), name=name)
    elif kind == "application/json":
        batch = _parse(StatsBatch, await request.body())
        frame = pd.DataFrame(
            [row.model_dump(mode="json") for row in batch.rows],
            columns=list(optimizer.STATS_COLUMNS),
        )
    else:
        raise _unsupported(kind)

    def write() -> IngestOut:
        with db.session(write=True) as session:
            campaign = store.get_campaign(session, campaign_id)
            result = store.ingest_stats(session, campaign, frame)
        return IngestOut(**result.__dict__)

    return await run_in_threadpool(write)


@router.get("/{campaign_id}/stats", response_model=StatsOut, responses=READ)
def read_stats(
    campaign_id: CampaignId,
    _who: Viewer,
    db: Db,
    start: Annotated[dt.date | None, Query(description="first day (inclusive)")] = None,
    end: Annotated[dt.date | None, Query(description="last day (inclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000,
) -> StatsOut:
    """The stored stats, sorted by date, creative, audience."""
    if start is not None and end is not None and end < start:
        raise optimizer.InvalidInputError(
            [optimizer.InputProblem(None, "end", f"end ({end}) is before start ({start})")]
        )
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        frame = store.stats_frame(session, campaign, start, end)
    rows = frame.head(limit)
    records = rows.drop(columns="campaign").assign(date=rows["date"].dt.date).to_dict("records")
    return StatsOut(
        campaign_id=campaign_id,
        n_rows=len(records),
        truncated=len(frame) > limit,
        rows=[StatRowOut(**r) for r in records],
    )


# -- event logs ----------------------------------------------------------------------------

_EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/EventsBatch"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "clicks": {"type": "string", "format": "binary"},
                        "conversions": {"type": "string", "format": "binary"},
                    },
                    "required": ["clicks", "conversions"],
                }
            },
        },
    }
}


@router.post(
    "/{campaign_id}/events",
    response_model=EventsIngestOut,
    responses=errors(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_EVENTS_BODY,
)
async def ingest_events(
    campaign_id: CampaignId, request: Request, _who: Automation, db: Db
) -> EventsIngestOut:
    """Upsert click and conversion logs (JSON, or CSV files ``clicks`` and ``conversions``).

    Every conversion must match a click of this batch or a stored one; otherwise
    the batch is refused and nothing is written.
    """
    _check_size(request)
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind == "multipart/form-data":
        clicks_csv, _ = await _upload(request, "clicks")
        conversions_csv, _ = await _upload(request, "conversions")
        clicks = _csv(clicks_csv, "clicks")
        conversions = _csv(conversions_csv, "conversions")
    elif kind == "application/json":
        batch = _parse(EventsBatch, await request.body())
        clicks = pd.DataFrame(
            [{**c.model_dump(), "time": _naive(c.time)} for c in batch.clicks],
            columns=["click_id", "time", "creative", "audience"],
        )
        conversions = pd.DataFrame(
            [{**v.model_dump(), "time": _naive(v.time)} for v in batch.conversions],
            columns=["click_id", "time", "value"],
        )
    else:
        raise _unsupported(kind)

    def write() -> EventsIngestOut:
        with db.session(write=True) as session:
            campaign = store.get_campaign(session, campaign_id)
            n_clicks, n_conversions = store.ingest_events(session, campaign, clicks, conversions)
        return EventsIngestOut(n_clicks=n_clicks, n_conversions=n_conversions)

    return await run_in_threadpool(write)


@router.get("/{campaign_id}/events", response_model=EventsOut, responses=READ)
def read_events(
    campaign_id: CampaignId,
    _who: Viewer,
    db: Db,
    start: Annotated[dt.datetime | None, Query(description="from this time")] = None,
    end: Annotated[dt.datetime | None, Query(description="before this time")] = None,
) -> EventsOut:
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        clicks, conversions = store.event_frames(
            session,
            campaign,
            _naive(start) if start else None,
            _naive(end) if end else None,
        )
    for table in (clicks, conversions):  # stored as naive UTC; answered with the zone
        table["time"] = pd.to_datetime(table["time"]).dt.tz_localize("UTC")
    return EventsOut.model_validate(
        {"clicks": clicks.to_dict("records"), "conversions": conversions.to_dict("records")}
    )


# -- helpers ----------------------------------------------------------------------------------


def _check_size(request: Request) -> None:
    limit = request.app.state.settings.max_upload_mb * 1e6
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        from starlette.exceptions import HTTPException

        raise HTTPException(413, f"upload is {int(length):,} bytes; the limit is {limit:,.0f}")


async def _upload(request: Request, field: str) -> tuple[bytes, str]:
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException

    try:
        form = await request.form()
    except Exception as exc:  # malformed multipart body
        raise HTTPException(400, f"cannot read the multipart body: {exc}") from None
    item = form.get(field)
    if item is None:
        raise optimizer.InvalidInputError(
            [optimizer.InputProblem(None, field, f"multipart field {field!r} is missing")]
        )
    if isinstance(item, UploadFile):
        return await item.read(), item.filename or f"{field}.csv"
    return item.encode(), f"{field}.csv"


def _csv(content: bytes, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.BytesIO(content), dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise optimizer.InvalidEventsError(
            [optimizer.InputProblem(None, None, f"cannot read {what}: {first}")]
        ) from None


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _unsupported(kind: str) -> Exception:
    from starlette.exceptions import HTTPException

    return HTTPException(
        415, f"content type {kind!r}: send application/json or multipart/form-data"
    )


def _naive(value: dt.datetime) -> dt.datetime:
    """Times are stored as naive UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
