"""The date window of the read routes: ``start``/``end``, or the last ``days`` days."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import func, select

import optimizer

from ..models import StatRow

__all__ = ["Days", "End", "Start", "resolve_window"]

Start = Annotated[dt.date | None, Query(description="window's first day (inclusive)")]
End = Annotated[dt.date | None, Query(description="window's last day (inclusive)")]
Days = Annotated[
    int | None,
    Query(
        ge=1,
        le=3660,
        description="the window is the last `days` days of stored data (instead of start/end)",
    ),
]


def resolve_window(
    session: Any,
    campaign_ids: list[int],
    start: dt.date | None,
    end: dt.date | None,
    days: int | None,
) -> tuple[dt.date | None, dt.date | None]:
    """The window's (start, end): as given, or the last ``days`` days up to the newest
    stored day of these campaigns."""
    if days is not None and (start is not None or end is not None):
        raise optimizer.InvalidInputError(
            [
                optimizer.InputProblem(
                    None, "days", "days replaces start and end: give one or the other"
                )
            ]
        )
    if start is not None and end is not None and end < start:
        raise optimizer.InvalidInputError(
            [optimizer.InputProblem(None, "end", f"end ({end}) is before start ({start})")]
        )
    if days is None:
        return start, end
    last = session.scalar(
        select(func.max(StatRow.date)).where(StatRow.campaign_id.in_(campaign_ids))
    )
    if last is None:
        return None, None
    return last - dt.timedelta(days=days - 1), last
