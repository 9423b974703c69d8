"""Recommendations and the decisions on them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import optimizer

from ..errors import ConflictError, InvalidSplitError, NotFoundError
from ..models import (
    Campaign,
    Decision,
    RecommendationRecord,
    utcnow,
)
from ._sql import _iso

ACTIONS = {"approve": "approved", "reject": "rejected", "edit": "edited"}

# -- recommendations and decisions ---------------------------------------------------------------


def save_recommendation(
    session: Session,
    campaign_id: int,
    content: dict[str, Any],
    request: dict[str, Any],
    created_by: str,
) -> RecommendationRecord:
    """Store a pending recommendation; ``content`` is ``Recommendation.to_dict()``, made
    by the caller before the write transaction so the write lock is held briefly."""
    record = RecommendationRecord(
        campaign_id=campaign_id,
        created_at=utcnow(),
        created_by=created_by,
        status="pending",
        budget=float(content["budget"]),
        objective=content["objective"],
        seed=content["seed"],
        request=request,
        content=content,
    )
    session.add(record)
    session.flush()
    return record


def get_recommendation(session: Session, rec_id: int) -> RecommendationRecord:
    record = session.get(RecommendationRecord, rec_id)
    if record is None:
        raise NotFoundError(f"no recommendation with id {rec_id}")
    return record


def list_recommendations(
    session: Session, campaign: Campaign, *, status: str | None = None, limit: int = 100
) -> list[RecommendationRecord]:
    query = select(RecommendationRecord).where(RecommendationRecord.campaign_id == campaign.id)
    if status is not None:
        query = query.where(RecommendationRecord.status == status)
    query = query.order_by(RecommendationRecord.id.desc()).limit(limit)
    return list(session.scalars(query))


def decisions_of(session: Session, record: RecommendationRecord) -> list[Decision]:
    return list(
        session.scalars(
            select(Decision).where(Decision.recommendation_id == record.id).order_by(Decision.id)
        )
    )


def campaign_decisions(session: Session, campaign: Campaign, limit: int = 100) -> list[Decision]:
    """The campaign's decisions on any of its recommendations, newest first."""
    return list(
        session.scalars(
            select(Decision)
            .join(RecommendationRecord, Decision.recommendation_id == RecommendationRecord.id)
            .where(RecommendationRecord.campaign_id == campaign.id)
            .order_by(Decision.id.desc())
            .limit(limit)
        )
    )


def latest_split(session: Session, campaign: Campaign) -> list[dict[str, Any]] | None:
    """The split to run of the campaign's newest approved or edited recommendation."""
    record = session.scalars(
        select(RecommendationRecord)
        .where(
            RecommendationRecord.campaign_id == campaign.id,
            RecommendationRecord.status.in_(("approved", "edited")),
        )
        .order_by(RecommendationRecord.id.desc())
        .limit(1)
    ).first()
    return final_split(record, decisions_of(session, record)) if record is not None else None


def decide(
    session: Session,
    rec_id: int,
    action: str,
    key_name: str,
    note: str = "",
    split: Sequence[dict[str, Any]] | None = None,
) -> Decision:
    """Approve, reject or edit a pending recommendation; the decision names the key.

    Only a pending recommendation can be decided (ConflictError otherwise). A
    rejection needs a note. An edit carries the specialist's split, which must
    cover the same arms, add up to the recommended budget and respect each arm's
    bounds and locks (InvalidSplitError names the row and rule).
    """
    if action not in ACTIONS:
        raise ValueError(f"action ({action!r}) must be one of {', '.join(ACTIONS)}")
    record = session.get(RecommendationRecord, rec_id, with_for_update=True)
    if record is None:
        raise NotFoundError(f"no recommendation with id {rec_id}")
    if record.status != "pending":
        last = decisions_of(session, record)[-1]
        raise ConflictError(
            f"recommendation {rec_id} was already {record.status} by {last.key_name!r} "
            f"at {_iso(last.created_at)}"
        )
    if action == "reject" and not note.strip():
        raise InvalidSplitError(
            [optimizer.InputProblem(None, "note", "a rejection needs a note saying why")]
        )
    clean = check_split(record, split) if action == "edit" else None
    record.status = ACTIONS[action]
    decision = Decision(
        recommendation_id=record.id,
        action=action,
        key_name=key_name,
        note=note,
        split=clean,
        created_at=utcnow(),
    )
    session.add(decision)
    session.flush()
    return decision


def check_split(
    record: RecommendationRecord, split: Sequence[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Validate an edited split against the recommendation it edits; rows count from 1."""
    if not split:
        raise InvalidSplitError([optimizer.InputProblem(None, "split", "an edit needs a split")])
    allocations = record.content["allocations"]
    arms = {(a["creative"], a["audience"]): a for a in allocations}
    bounds = split_bounds(record)
    problems: list[optimizer.InputProblem] = []
    seen: set[tuple[str, str]] = set()
    clean: list[dict[str, Any]] = []
    for row, item in enumerate(split, start=1):
        arm = (str(item.get("creative", "")), str(item.get("audience", "")))
        budget = item.get("budget")
        if arm not in arms:
            problems.append(
                optimizer.InputProblem(row, "creative", f"arm {arm} is not in the recommendation")
            )
            continue
        if arm in seen:
            problems.append(optimizer.InputProblem(row, "creative", f"arm {arm} appears twice"))
            continue
        seen.add(arm)
        if (
            isinstance(budget, bool)
            or not isinstance(budget, int | float)
            or not math.isfinite(budget)
            or budget < 0
        ):
            problems.append(
                optimizer.InputProblem(
                    row, "budget", f"budget ({budget!r}) must be a finite amount >= 0", budget
                )
            )
            continue
        low, high, locked = bounds.get(arm, (0.0, math.inf, None))
        if locked is not None and abs(budget - locked) > 0.005:
            problems.append(
                optimizer.InputProblem(
                    row, "budget", f"arm {arm} is locked at {locked:g}; got {budget:g}", budget
                )
            )
        elif budget < low - 0.005 or budget > high + 0.005:
            problems.append(
                optimizer.InputProblem(
                    row,
                    "budget",
                    f"budget ({budget:g}) for arm {arm} is outside its bounds [{low:g}, {high:g}]",
                    budget,
                )
            )
        clean.append({"creative": arm[0], "audience": arm[1], "budget": float(budget)})
    missing = [a for a in arms if a not in seen]
    if missing:
        names = ", ".join(f"({c}, {a})" for c, a in missing[:5])
        problems.append(
            optimizer.InputProblem(None, "split", f"{len(missing)} arm(s) missing: {names}")
        )
    total = sum(x["budget"] for x in clean)
    if not problems and abs(total - record.budget) > 0.01:
        problems.append(
            optimizer.InputProblem(
                None,
                "budget",
                f"the split adds up to {total:.2f}, not the budget {record.budget:.2f}",
                total,
            )
        )
    if problems:
        raise InvalidSplitError(problems)
    return clean


def split_bounds(
    record: RecommendationRecord,
) -> dict[tuple[str, str], tuple[float, float, float | None]]:
    """Per-arm (min, max, locked amount) from the request's current split and the config."""
    config = record.content.get("config", {})
    low = float(config.get("min_spend") or 0.0)
    high = config.get("max_spend")
    high = math.inf if high is None else float(high)
    out: dict[tuple[str, str], tuple[float, float, float | None]] = {}
    for item in record.request.get("current") or []:
        arm = (str(item["creative"]), str(item["audience"]))
        a_low = max(low, float(item.get("min_budget") or 0.0))
        a_high = item.get("max_budget")
        a_high = high if a_high is None else min(high, float(a_high))
        out[arm] = (a_low, a_high, float(item["budget"]) if item.get("locked") else None)
    for allocation in record.content["allocations"]:
        arm = (allocation["creative"], allocation["audience"])
        out.setdefault(arm, (low, high, None))
    return out


def final_split(
    record: RecommendationRecord, decisions: Sequence[Decision]
) -> list[dict[str, Any]] | None:
    """The split to run: the recommended one once approved, the edited one once edited."""
    if record.status == "approved":
        return [
            {"creative": a["creative"], "audience": a["audience"], "budget": a["budget"]}
            for a in record.content["allocations"]
        ]
    if record.status == "edited":
        return next((d.split for d in reversed(decisions) if d.action == "edit"), None)
    return None
