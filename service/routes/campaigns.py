"""Campaigns, their daily stats and their event logs."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Annotated, Any, TypeVar

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, and_, case, func, select, true

import optimizer
from optimizer.stats import REQUIRED_COLUMNS

from .. import store
from ..auth import Principal
from ..db import Database
from ..deps import database, require
from ..models import AnalyticsRow, Campaign, RecommendationRecord, StatRow
from ..platforms import ImportResult, InvalidExportError, import_export, quality_report
from ..schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPatch,
    EventsBatch,
    EventsIngestOut,
    EventsOut,
    IngestOut,
    LatestOut,
    StatsBatch,
    StatsOut,
    WindowOut,
)
from . import READ, WRITE, errors
from ._upload import body_kind, read_file, read_form, unsupported, upload_body
from ._window import Days, End, Start, resolve_window

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Automation = Annotated[Principal, Depends(require("automation"))]
Db = Annotated[Database, Depends(database)]
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1, description="campaign id")]


def _summaries(
    session: Any,
    campaigns: list[Campaign],
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[CampaignOut]:
    """Each campaign's stats span, its totals over [start, end], its analytics rows and its
    latest recommendation: three grouped queries however many campaigns there are."""
    ids = [c.id for c in campaigns]
    inside: ColumnElement[bool] = true()
    if start is not None:
        inside = and_(inside, StatRow.date >= start)
    if end is not None:
        inside = and_(inside, StatRow.date <= end)

    def windowed(column: Any) -> Any:
        return func.coalesce(func.sum(case((inside, column), else_=0.0)), 0.0)

    spans = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                StatRow.campaign_id,
                func.count(),
                func.min(StatRow.date),
                func.max(StatRow.date),
                windowed(StatRow.spend),
                windowed(StatRow.conversions),
                windowed(StatRow.revenue),
            )
            .where(StatRow.campaign_id.in_(ids))
            .group_by(StatRow.campaign_id)
        )
    }
    n_analytics = dict(
        session.execute(
            select(AnalyticsRow.campaign_id, func.count())
            .where(AnalyticsRow.campaign_id.in_(ids))
            .group_by(AnalyticsRow.campaign_id)
        ).all()
    )
    newest = (
        select(func.max(RecommendationRecord.id))
        .where(RecommendationRecord.campaign_id.in_(ids))
        .group_by(RecommendationRecord.campaign_id)
    )
    latest = {
        r.campaign_id: r
        for r in session.scalars(
            select(RecommendationRecord).where(RecommendationRecord.id.in_(newest))
        )
    }
    out = []
    for campaign in campaigns:
        n, first, last, spend, conversions, revenue = spans.get(
            campaign.id, (0, None, None, 0.0, 0.0, 0.0)
        )
        spend, conversions, revenue = float(spend), float(conversions), float(revenue)
        rec = latest.get(campaign.id)
        out.append(
            CampaignOut(
                id=campaign.id,
                name=campaign.name,
                currency=campaign.currency,
                platform=campaign.platform,
                conversion_source=campaign.conversion_source,  # type: ignore[arg-type]
                utm=campaign.utm,
                created_at=campaign.created_at,
                n_stats_rows=n,
                n_analytics_rows=n_analytics.get(campaign.id, 0),
                first_date=first,
                last_date=last,
                window=WindowOut(
                    start=start,
                    end=end,
                    spend=spend,
                    conversions=conversions,
                    revenue=revenue,
                    cpa=spend / conversions if conversions else None,
                    roas=revenue / spend if spend else None,
                ),
                latest_recommendation=(
                    LatestOut(id=rec.id, status=rec.status, created_at=rec.created_at)
                    if rec is not None
                    else None
                ),
            )
        )
    return out


@router.post("", response_model=CampaignOut, status_code=201, responses=WRITE)
def create_campaign(body: CampaignIn, _who: Automation, db: Db) -> CampaignOut:
    """Create a campaign; 409 when the name is taken."""
    with db.session(write=True) as session:
        campaign = store.create_campaign(session, body.name, body.currency)
        return _summaries(session, [campaign])[0]


@router.get("", response_model=list[CampaignOut], responses=READ)
def list_campaigns(
    _who: Viewer, db: Db, start: Start = None, end: End = None, days: Days = None
) -> list[CampaignOut]:
    """Every campaign with its spend, conversions, CPA and ROAS over the window (all its
    data by default; with ``days``, one window for all, ending on the newest stored day of
    any campaign) and the state of its latest recommendation."""
    with db.session() as session:
        campaigns = store.list_campaigns(session)
        start, end = resolve_window(session, [c.id for c in campaigns], start, end, days)
        return _summaries(session, campaigns, start, end)


@router.get("/{campaign_id}", response_model=CampaignOut, responses=READ)
def get_campaign(
    campaign_id: CampaignId,
    _who: Viewer,
    db: Db,
    start: Start = None,
    end: End = None,
    days: Days = None,
) -> CampaignOut:
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        start, end = resolve_window(session, [campaign.id], start, end, days)
        return _summaries(session, [campaign], start, end)[0]


@router.patch("/{campaign_id}", response_model=CampaignOut, responses=WRITE)
def update_campaign(
    campaign_id: CampaignId, body: CampaignPatch, _who: Automation, db: Db
) -> CampaignOut:
    """Choose whose conversions the campaign's recommendations use (``platform`` or
    ``analytics``) and how UTM fields name its arms."""
    with db.session(write=True) as session:
        campaign = store.get_campaign(session, campaign_id)
        if body.conversion_source is not None:
            campaign.conversion_source = body.conversion_source
        if body.utm is not None:
            campaign.utm = body.utm.model_dump()
        store.bump_stats_version(session, campaign)  # cached fits used the old choice
        return _summaries(session, [campaign])[0]


# -- stats ----------------------------------------------------------------------------------

_STATS_BODY = upload_body(
    {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "our stats CSV (or .parquet by file name), or an "
            "ad platform's report export",
        },
        "platform": {
            "type": "string",
            "enum": ["auto", "stats", "meta", "google", "tiktok", "vk"],
            "description": "the file's layout (default auto: ours if its "
            "header is, else the platform whose columns it has)",
        },
        "conversions": {
            "type": "string",
            "description": "the export's column to count as conversions",
        },
    },
    ["file"],
    json_model="StatsBatch",
)


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
    kind = body_kind(request)
    imported: ImportResult | None = None
    if kind == "multipart/form-data":
        form = await read_form(request)
        content, name = await read_file(form, "file")
        platform = str(form.get("platform") or "auto")
        conversions = form.get("conversions")
        frame, imported = await run_in_threadpool(
            _read_upload, content, name, platform, str(conversions) if conversions else None
        )
    elif kind == "application/json":
        batch = _parse(StatsBatch, await request.body())
        frame = pd.DataFrame(
            [row.model_dump(mode="json") for row in batch.rows],
            columns=list(optimizer.STATS_COLUMNS),
        )
    else:
        raise unsupported(kind)

    def write() -> IngestOut:
        approved = None
        with db.session(write=True) as session:
            campaign = store.get_campaign(session, campaign_id)
            if imported is not None:
                _adopt(campaign, imported)
                approved = store.latest_split(session, campaign)
            result = store.ingest_stats(session, campaign, frame)
        out = IngestOut(**result.__dict__)
        if imported is not None:
            out.platform = imported.platform
            out.currency = imported.currency
            out.notes = imported.notes
            out.quality = quality_report(
                imported.stats,
                approved=pd.DataFrame(approved) if approved else None,
                n_duplicates=imported.n_duplicates,
            ).to_dict()
        return out

    return await run_in_threadpool(write)


def _read_upload(
    content: bytes, name: str, platform: str, conversions: str | None
) -> tuple[pd.DataFrame, ImportResult | None]:
    """Our stats layout as is; anything else through the platform presets."""
    if platform == "stats" or (platform == "auto" and _is_contract(content)):
        return optimizer.read_stats_file(io.BytesIO(content), name=name), None
    result = import_export(content, platform=platform, conversions=conversions, name=name)
    names = sorted(result.stats["campaign"].unique())
    if len(names) > 1:
        raise InvalidExportError(
            [
                optimizer.InputProblem(
                    None,
                    "campaign",
                    f"{name} holds {len(names)} campaigns ({', '.join(names[:5])}); "
                    "upload one campaign's rows",
                )
            ]
        )
    frame = result.stats.drop(columns="campaign")
    return frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")), result


def _is_contract(content: bytes) -> bool:
    first = content.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    cells = {c.strip() for c in first.split(",")}
    return set(REQUIRED_COLUMNS) <= cells


def _adopt(campaign: Campaign, imported: ImportResult) -> None:
    """The campaign takes the export's platform and currency; a second currency is refused."""
    if imported.currency:
        if campaign.currency and campaign.currency != imported.currency:
            raise InvalidExportError(
                [
                    optimizer.InputProblem(
                        None,
                        "currency",
                        f"campaign {campaign.name!r} is in {campaign.currency}; this export is "
                        f"in {imported.currency}: one campaign, one currency",
                    )
                ]
            )
        campaign.currency = imported.currency
    campaign.platform = imported.platform


@router.get("/{campaign_id}/stats", response_model=StatsOut, responses=READ)
def read_stats(
    campaign_id: CampaignId,
    _who: Viewer,
    db: Db,
    start: Start = None,
    end: End = None,
    days: Days = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000,
) -> Response:
    """The stored stats, sorted by date, creative, audience."""
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        start, end = resolve_window(session, [campaign.id], start, end, days)
        frame = store.stats_frame(session, campaign, start, end)
    rows = frame.head(limit)
    # Written by pandas, not as one pydantic model per row: 18,000 rows (200 arms x 90
    # days, what the review page reads) take 20 ms this way and 300 ms through models.
    body = (
        rows.drop(columns="campaign")
        .assign(date=rows["date"].dt.strftime("%Y-%m-%d"))
        .to_json(orient="records", double_precision=15)
    )
    head = json.dumps(
        {"campaign_id": campaign_id, "n_rows": len(rows), "truncated": len(frame) > limit}
    )
    return Response(f'{head[:-1]}, "rows": {body}}}', media_type="application/json")


# -- event logs ----------------------------------------------------------------------------

_EVENTS_BODY = upload_body(
    {
        "clicks": {"type": "string", "format": "binary"},
        "conversions": {"type": "string", "format": "binary"},
    },
    ["clicks", "conversions"],
    json_model="EventsBatch",
)


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
    kind = body_kind(request)
    if kind == "multipart/form-data":
        form = await read_form(request)
        clicks_csv, _ = await read_file(form, "clicks")
        conversions_csv, _ = await read_file(form, "conversions")
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
        raise unsupported(kind)

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


def _naive(value: dt.datetime) -> dt.datetime:
    """Times are stored as naive UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
