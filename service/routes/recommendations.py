"""Recommendations: create one for a campaign, read it, and decide on it."""

from __future__ import annotations

import logging
import math
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from .. import store
from ..auth import Principal
from ..db import Database
from ..deps import database, require
from ..engine import compute_recommendation
from ..errors import ConflictError
from ..models import Decision, RecommendationRecord
from ..platforms import split_for_platform
from ..schemas import (
    AllocationOut,
    ArmBounds,
    CampaignDecisionOut,
    DecisionIn,
    DecisionOut,
    EditIn,
    HistoryPoint,
    RecommendationIn,
    RecommendationOut,
    RecommendationSummary,
    SplitArm,
)
from . import READ, WRITE, errors

router = APIRouter(tags=["recommendations"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Specialist = Annotated[Principal, Depends(require("specialist"))]
Automation = Annotated[Principal, Depends(require("automation"))]
Db = Annotated[Database, Depends(database)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
log = logging.getLogger("adbandit.service")


def recommendation_out(
    session: Session | None,
    record: RecommendationRecord,
    decisions: list[Decision] | None = None,
) -> RecommendationOut:
    if decisions is None:
        assert session is not None
        decisions = store.decisions_of(session, record)
    content = record.content
    split = store.final_split(record, decisions)
    return RecommendationOut(
        id=record.id,
        campaign_id=record.campaign_id,
        status=record.status,  # type: ignore[arg-type]
        created_at=record.created_at,
        created_by=record.created_by,
        budget=record.budget,
        objective=record.objective,
        seed=record.seed,
        as_of=content["as_of"],
        data_start=content["data_start"],
        data_end=content["data_end"],
        delay=content["delay"],
        config=content["config"],
        p_best_method=content["p_best_method"],
        version=content["version"],
        tracking_run_id=record.tracking_run_id,
        conversion_source=content.get("conversion_source", "ad platform"),
        allocations=[AllocationOut(**a) for a in content["allocations"]],
        decisions=[DecisionOut.model_validate(d, from_attributes=True) for d in decisions],
        final_split=[SplitArm(**s) for s in split] if split is not None else None,
        bounds=[
            ArmBounds(
                creative=creative,
                audience=audience,
                min_budget=low,
                max_budget=high if math.isfinite(high) else None,
                locked_budget=locked,
            )
            for (creative, audience), (low, high, locked) in store.split_bounds(record).items()
        ],
    )


@router.post(
    "/v1/campaigns/{campaign_id}/recommendations",
    response_model=RecommendationOut,
    status_code=201,
    responses=WRITE,
)
def create_recommendation(
    campaign_id: Id, body: RecommendationIn, who: Automation, db: Db, request: Request
) -> RecommendationOut:
    """Recommend a budget split from the campaign's stored stats and store it as pending.

    Same stored stats, request and seed give the same split. The recommendation is
    logged to MLflow in the background; the answer never waits for it.
    """
    state = request.app.state
    # CPU-bound under the GIL: a couple at a time finish sooner than dozens interleaved.
    with state.compute_slots:
        campaign, rec, frame, source = compute_recommendation(
            db, state.stats_cache, campaign_id, body
        )
    # built before the write transaction, which then holds the lock briefly
    content = {**rec.to_dict(), "conversion_source": source}
    request_json = body.model_dump(mode="json")
    with db.session(write=True) as session:
        record = store.save_recommendation(session, campaign.id, content, request_json, who.name)
    out = recommendation_out(None, record, decisions=[])
    if state.tracker is not None:
        state.tracker.submit(record.id, rec, frame)
    return out


@router.get(
    "/v1/campaigns/{campaign_id}/recommendations",
    response_model=list[RecommendationSummary],
    responses=READ,
)
def list_recommendations(
    campaign_id: Id,
    _who: Viewer,
    db: Db,
    status: Literal["pending", "approved", "rejected", "edited"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RecommendationSummary]:
    """Newest first."""
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        return [
            RecommendationSummary(
                id=r.id,
                campaign_id=r.campaign_id,
                status=r.status,
                created_at=r.created_at,
                created_by=r.created_by,
                budget=r.budget,
                objective=r.objective,
                n_arms=len(r.content["allocations"]),
            )
            for r in store.list_recommendations(session, campaign, status=status, limit=limit)
        ]


@router.get(
    "/v1/campaigns/{campaign_id}/history",
    response_model=list[HistoryPoint],
    responses=READ,
)
def history(
    campaign_id: Id,
    _who: Viewer,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000)] = 90,
) -> list[HistoryPoint]:
    """Budget and P(best) of every arm in the campaign's last ``limit`` recommendations,
    oldest first: what the review page draws as P(best) over time."""
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        records = store.list_recommendations(session, campaign, limit=limit)
    return [
        HistoryPoint(
            id=r.id,
            created_at=r.created_at,
            as_of=r.content["as_of"],
            status=r.status,
            arms=[
                {k: a.get(k) for k in ("creative", "audience", "budget", "p_best")}
                for a in r.content["allocations"]
            ],
        )
        for r in reversed(records)
    ]


@router.get(
    "/v1/campaigns/{campaign_id}/decisions",
    response_model=list[CampaignDecisionOut],
    responses=READ,
)
def campaign_decisions(
    campaign_id: Id,
    _who: Viewer,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CampaignDecisionOut]:
    """Who approved, rejected or edited which recommendation of the campaign, when and
    why; newest first."""
    with db.session() as session:
        campaign = store.get_campaign(session, campaign_id)
        return [
            CampaignDecisionOut.model_validate(d, from_attributes=True)
            for d in store.campaign_decisions(session, campaign, limit)
        ]


@router.get("/v1/recommendations/{rec_id}", response_model=RecommendationOut, responses=READ)
def get_recommendation(rec_id: Id, _who: Viewer, db: Db) -> RecommendationOut:
    with db.session() as session:
        return recommendation_out(session, store.get_recommendation(session, rec_id))


def _decide(
    db: Database, rec_id: int, action: str, who: Principal, note: str, split: list[SplitArm] | None
) -> RecommendationOut:
    with db.session(write=True) as session:
        store.decide(
            session,
            rec_id,
            action,
            who.name,
            note,
            [s.model_dump() for s in split] if split is not None else None,
        )
        return recommendation_out(session, store.get_recommendation(session, rec_id))


@router.post(
    "/v1/recommendations/{rec_id}/approve", response_model=RecommendationOut, responses=WRITE
)
def approve(
    rec_id: Id,
    who: Specialist,
    db: Db,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> RecommendationOut:
    """Approve the recommended split as is (409 once decided)."""
    return _decide(db, rec_id, "approve", who, body.note if body else "", None)


@router.post(
    "/v1/recommendations/{rec_id}/reject", response_model=RecommendationOut, responses=WRITE
)
def reject(rec_id: Id, body: DecisionIn, who: Specialist, db: Db) -> RecommendationOut:
    """Reject it; the note saying why is required."""
    return _decide(db, rec_id, "reject", who, body.note, None)


@router.post("/v1/recommendations/{rec_id}/edit", response_model=RecommendationOut, responses=WRITE)
def edit(rec_id: Id, body: EditIn, who: Specialist, db: Db) -> RecommendationOut:
    """Store the specialist's adjusted split beside the recommended one.

    The split must list every arm once, add up to the budget (to the cent) and keep
    each arm within its bounds and locks.
    """
    return _decide(db, rec_id, "edit", who, body.note, body.split)


@router.get(
    "/v1/recommendations/{rec_id}/split.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "creative,audience,budget"},
        **errors(401, 403, 404, 409, 422),
    },
)
def download_split(
    rec_id: Id,
    _who: Viewer,
    db: Db,
    layout: Annotated[
        Literal["platform", "adbandit"],
        Query(description="the campaign's ad platform's bulk columns (when known) or ours"),
    ] = "platform",
) -> Response:
    """The approved (or edited) split as CSV, in the column layout of the platform the
    campaign's stats were imported from (ours when unknown); 409 while pending or once
    rejected."""
    with db.session() as session:
        record = store.get_recommendation(session, rec_id)
        split = store.final_split(record, store.decisions_of(session, record))
        campaign = store.get_campaign(session, record.campaign_id)
    if split is None:
        raise ConflictError(f"recommendation {rec_id} is {record.status}: nothing to run")
    platform = campaign.platform if layout == "platform" else None
    content, media = split_for_platform(
        pd.DataFrame(split, columns=["creative", "audience", "budget"]), platform, campaign.name
    )
    suffix = f"-{platform}" if platform else ""
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="split-{rec_id}{suffix}.csv"'},
    )
