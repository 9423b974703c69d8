"""Turns a stored campaign and a request into an ``optimizer.Recommendation``.

Reads happen in one short transaction; the model runs outside any transaction, so a
slow recommendation never holds a database lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

import optimizer

from .db import Database
from .models import Campaign
from .schemas import RecommendationIn
from .store import analytics_frame, event_frames, get_campaign, has_events, stats_frame

__all__ = ["StatsCache", "compute_recommendation"]


class StatsCache:
    """Per campaign (the most recently used ``size``), the stats table last read and the
    :class:`optimizer.Evidence` fitted from it, keyed by the campaign's
    ``stats_version`` (bumped by every ingest): the table is read once per change and
    the model fitted once per change and setting, not once per recommendation."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._gates: dict[int, threading.Lock] = {}

    def entry(self, campaign: Campaign) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(campaign.id)
            if entry is None or entry.version != campaign.stats_version:
                return None
            self._entries.move_to_end(campaign.id)
            return entry

    def load(self, campaign: Campaign, read: Callable[[], tuple[pd.DataFrame, str]]) -> _Entry:
        """The cached entry, or a new one from ``read()``; concurrent callers for one
        campaign wait for a single read instead of all reading (no stampede after an
        ingest)."""
        with self._lock:
            gate = self._gates.setdefault(campaign.id, threading.Lock())
        with gate:
            return self.entry(campaign) or self.put(campaign, *read())

    def put(self, campaign: Campaign, frame: pd.DataFrame, source: str = "ad platform") -> _Entry:
        entry = _Entry(campaign.stats_version, frame, source)
        with self._lock:
            self._entries[campaign.id] = entry
            self._entries.move_to_end(campaign.id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry


@dataclass
class _Entry:
    version: int
    frame: pd.DataFrame
    source: str  # whose conversions the frame carries
    evidence: dict[tuple[Any, ...], optimizer.Evidence] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def compute_recommendation(
    db: Database, cache: StatsCache, campaign_id: int, body: RecommendationIn
) -> tuple[Campaign, optimizer.Recommendation, pd.DataFrame, str]:
    """The recommendation for ``body`` on the campaign's stored stats (and event logs).

    Raises NotFoundError for an unknown campaign, InvalidStatsError when it has no
    usable stats, ConfigError for bad settings, AllocationError for impossible bounds.
    """
    config = _config(body.config)
    key = (body.as_of, config.half_life_days, body.delay)
    with db.session() as session:
        campaign = get_campaign(session, campaign_id)
        entry = cache.load(campaign, lambda: _read(session, campaign))
        if entry.frame.empty:
            raise optimizer.InvalidStatsError(
                [
                    optimizer.InputProblem(
                        None,
                        "stats",
                        f"campaign {campaign.name!r} has no stats yet: "
                        f"POST /v1/campaigns/{campaign.id}/stats first",
                    )
                ]
            )
        with entry.lock:  # one fit per stats version and setting, however many ask at once
            evidence = entry.evidence.get(key)
            if evidence is None:
                delay: Any = body.delay
                if body.delay == "auto" and has_events(session, campaign):
                    try:
                        log = optimizer.load_events(*event_frames(session, campaign))
                        delay = optimizer.fit_delay(log, seed=0)
                    except optimizer.InvalidEventsError:
                        delay = "auto"  # too few matched conversions: detect it in the stats
                evidence = optimizer.fit_evidence(
                    entry.frame,
                    config=config,
                    as_of=body.as_of,
                    campaign=campaign.name,
                    delay=delay,
                )
                entry.evidence[key] = evidence
    current = pd.DataFrame([arm.model_dump() for arm in body.current]) if body.current else None
    rec = optimizer.recommend(
        evidence,
        body.budget,
        current=current,
        objective=body.objective,
        config=config,
        as_of=body.as_of,
        seed=body.seed,
        campaign=campaign.name,
    )
    return campaign, rec, entry.frame, entry.source


def _read(session: Session, campaign: Campaign) -> tuple[pd.DataFrame, str]:
    """The campaign's stats, with conversions and revenue from web analytics when the
    campaign says so; and a label saying whose conversions they are."""
    frame = stats_frame(session, campaign)
    if campaign.conversion_source != "analytics" or frame.empty:
        return frame, "ad platform"
    from .platforms.analytics import join_sources

    table, label = analytics_frame(session, campaign)
    return join_sources(frame, table, "analytics"), f"analytics ({label or 'no rows yet'})"


def _config(values: dict[str, Any] | None) -> optimizer.ThompsonConfig:
    if not values:
        return optimizer.ThompsonConfig()
    try:
        return optimizer.ThompsonConfig.from_dict(values)
    except optimizer.ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. a text where a number belongs
        raise optimizer.ConfigError(f"config: {exc}") from None
