"""Web analytics (GA4, Yandex Metrica) for a campaign, and its reconciliation with the
ad platform's conversions."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool

import optimizer

from .. import store
from ..auth import Principal
from ..db import Database
from ..deps import database, require
from ..platforms.analytics import UtmMapping, import_analytics, reconcile, utm_check
from ..schemas import AnalyticsIngestOut, ReconciliationOut
from . import READ, errors, json_value
from ._upload import body_kind, read_file, read_form, unsupported, upload_body
from ._window import Days, End, Start, resolve_window

router = APIRouter(prefix="/v1/campaigns", tags=["analytics"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Automation = Annotated[Principal, Depends(require("automation"))]
Db = Annotated[Database, Depends(database)]
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1, description="campaign id")]

_BODY = upload_body(
    {
        "file": {"type": "string", "format": "binary"},
        "goal": {"type": "string", "description": "key event / goal to count"},
        "layout": {"type": "string", "enum": ["auto", "ga4", "metrica"]},
        "utm_campaign": {"type": "string", "description": "keep only this UTM campaign's rows"},
    },
    ["file"],
)


@router.post(
    "/{campaign_id}/analytics",
    response_model=AnalyticsIngestOut,
    responses=errors(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_BODY,
)
async def ingest_analytics(
    campaign_id: CampaignId, request: Request, _who: Automation, db: Db
) -> AnalyticsIngestOut:
    """Upsert a GA4 or Yandex Metrica export (sessions, conversions of one goal, revenue per
    arm and day by the campaign's UTM mapping) and answer the tag check and the days whose
    platform/analytics gap jumped. All or nothing."""
    kind = body_kind(request, default="")
    if kind != "multipart/form-data":
        raise unsupported(kind)
    form = await read_form(request)
    content, name = await read_file(form, "file")
    goal = str(form["goal"]) if form.get("goal") else None
    layout = str(form.get("layout") or "auto")
    if layout not in ("auto", "ga4", "metrica"):
        raise optimizer.InvalidInputError(
            [
                optimizer.InputProblem(
                    None, "layout", f"layout ({layout!r}) must be auto, ga4 or metrica"
                )
            ]
        )
    wanted = str(form["utm_campaign"]) if form.get("utm_campaign") else None

    def write() -> AnalyticsIngestOut:
        with db.session(write=True) as session:
            campaign = store.get_campaign(session, campaign_id)
            utm = UtmMapping.from_dict(campaign.utm)
            result = import_analytics(content, goal=goal, utm=utm, layout=layout, name=name)
            table = result.table
            names = sorted(table["campaign"].unique())
            if wanted is not None:
                table = table[table["campaign"] == wanted]
            elif len(names) > 1:
                raise optimizer.InvalidInputError(
                    [
                        optimizer.InputProblem(
                            None,
                            "utm_campaign",
                            f"{name} holds {len(names)} UTM campaigns ({', '.join(names[:5])}); "
                            "name one in utm_campaign",
                        )
                    ]
                )
            n = store.ingest_analytics(session, campaign, table, result.title, result.goal)
            stats = store.stats_frame(session, campaign)
        tags = utm_check(stats, table) if len(stats) else None
        flagged = reconcile(stats, table) if len(stats) else None
        return AnalyticsIngestOut(
            n_rows=n,
            source=result.title,
            goal=result.goal,
            notes=result.notes,
            tags=_records(tags) if tags is not None else [],
            flagged=_records(flagged[flagged["flag"]]) if flagged is not None else [],
        )

    return await run_in_threadpool(write)


@router.get("/{campaign_id}/reconciliation", response_model=ReconciliationOut, responses=READ)
def get_reconciliation(
    campaign_id: CampaignId,
    _who: Viewer,
    db: Db,
    start: Start = None,
    end: End = None,
    days: Days = None,
) -> ReconciliationOut:
    """Per arm and day: platform-reported and analytics conversions, the p-value of the day's
    split given the arm's usual gap, and whether it jumped. An arm's usual gap is learnt
    from all its days; a window only chooses which days are returned."""
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        start, end = resolve_window(session, [campaign.id], start, end, days)
        stats = store.stats_frame(session, campaign)
        table, _ = store.analytics_frame(session, campaign)
    if stats.empty:
        return ReconciliationOut(campaign_id=campaign_id, rows=[])
    rows = reconcile(stats, table)
    if start is not None:
        rows = rows[rows["date"] >= pd.Timestamp(start)]
    if end is not None:
        rows = rows[rows["date"] <= pd.Timestamp(end)]
    return ReconciliationOut(campaign_id=campaign_id, rows=_records(rows))


def _records(frame: Any) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        if hasattr(value, "date") and hasattr(value, "isoformat"):
            return value.date().isoformat()
        return json_value(value)

    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
