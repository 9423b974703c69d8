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
from .store import (
    analytics_frame,
    event_frames,
    get_campaign,
    has_events,
    merge_stats,
    stats_frame,
)

__all__ = ["StatsCache", "compute_recommendation"]


class StatsCache:
    """Per campaign (the most recently used ``size``), the stats table last read and the
    :class:`optimizer.Evidence` fitted from it, keyed by the campaign's
    ``stats_version`` (bumped by every ingest): the model is fitted once per change and
    setting, not once per recommendation. After a change only the rows written since
    are read and merged into the table (a restated day of 200 arms, not 90 days of
    them)."""

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

    def load(
        self,
        campaign: Campaign,
        read: Callable[[_Entry | None], tuple[pd.DataFrame, pd.DataFrame, str]],
    ) -> _Entry:
        """The cached entry, or a new one from ``read(stale entry or None)``, which
        returns ``(stats, frame, source)``; concurrent callers for one campaign wait for
        a single read instead of all reading (no stampede after an ingest)."""
        with self._lock:
            gate = self._gates.setdefault(campaign.id, threading.Lock())
        with gate:
            fresh = self.entry(campaign)
            if fresh is not None:
                return fresh
            with self._lock:
                stale = self._entries.get(campaign.id)
            stats, frame, source = read(stale)
            return self.put(campaign, stats, frame, source)

    def put(
        self,
        campaign: Campaign,
        stats: pd.DataFrame,
        frame: pd.DataFrame | None = None,
        source: str = "ad platform",
    ) -> _Entry:
        entry = _Entry(campaign.stats_version, stats, stats if frame is None else frame, source)
        with self._lock:
            self._entries[campaign.id] = entry
            self._entries.move_to_end(campaign.id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry


@dataclass
class _Entry:
    version: int  # the campaign's stats_version when read
    stats: pd.DataFrame  # the stored stats as read (ad platform conversions)
    frame: pd.DataFrame  # what the model sees: stats, or stats joined with web analytics
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
        entry = cache.load(campaign, lambda stale: _read(session, campaign, stale))
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


def _read(
    session: Session, campaign: Campaign, stale: _Entry | None
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The campaign's stats (only the rows written since ``stale`` was read, merged into
    it, when there is one), the frame for the model (with conversions and revenue from
    web analytics when the campaign says so) and a label saying whose conversions they
    are."""
    if stale is None:
        stats = stats_frame(session, campaign)
    else:
        stats = merge_stats(stale.stats, stats_frame(session, campaign, since=stale.version))
    if campaign.conversion_source != "analytics" or stats.empty:
        return stats, stats, "ad platform"
    from .platforms.analytics import join_sources

    table, label = analytics_frame(session, campaign)
    joined = join_sources(stats, table, "analytics")
    return stats, joined, f"analytics ({label or 'no rows yet'})"


def _config(values: dict[str, Any] | None) -> optimizer.ThompsonConfig:
    if not values:
        return optimizer.ThompsonConfig()
    try:
        return optimizer.ThompsonConfig.from_dict(values)
    except optimizer.ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. a text where a number belongs
        raise optimizer.ConfigError(f"config: {exc}") from None
