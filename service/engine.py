"""Turns a stored campaign and a request into an ``optimizer.Recommendation``.

Reads happen in one short transaction; the model runs outside any transaction, so a
slow recommendation never holds a database lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pandas as pd

import optimizer

from .db import Database
from .models import Campaign
from .schemas import RecommendationIn
from .store import event_frames, get_campaign, has_events, stats_frame

__all__ = ["StatsCache", "compute_recommendation"]


class StatsCache:
    """The last-read stats table of the most recently used campaigns, keyed by the
    campaign's ``stats_version`` (bumped by every ingest), so a table is read from
    the database once per change, not once per recommendation."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._frames: OrderedDict[int, tuple[int, pd.DataFrame]] = OrderedDict()

    def get(self, campaign: Campaign) -> pd.DataFrame | None:
        with self._lock:
            entry = self._frames.get(campaign.id)
            if entry is None or entry[0] != campaign.stats_version:
                return None
            self._frames.move_to_end(campaign.id)
            return entry[1]

    def put(self, campaign: Campaign, frame: pd.DataFrame) -> None:
        with self._lock:
            self._frames[campaign.id] = (campaign.stats_version, frame)
            self._frames.move_to_end(campaign.id)
            while len(self._frames) > self.size:
                self._frames.popitem(last=False)


def compute_recommendation(
    db: Database, cache: StatsCache, campaign_id: int, body: RecommendationIn
) -> tuple[Campaign, optimizer.Recommendation, pd.DataFrame]:
    """The recommendation for ``body`` on the campaign's stored stats (and event logs).

    Raises NotFoundError for an unknown campaign, InvalidStatsError when it has no
    usable stats, ConfigError for bad settings, AllocationError for impossible bounds.
    """
    events: tuple[pd.DataFrame, pd.DataFrame] | None = None
    with db.session() as session:
        campaign = get_campaign(session, campaign_id)
        frame = cache.get(campaign)
        if frame is None:
            frame = stats_frame(session, campaign)
            cache.put(campaign, frame)
        if body.delay == "auto" and has_events(session, campaign):
            events = event_frames(session, campaign)
    if frame.empty:
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
    config = _config(body.config)
    current = pd.DataFrame([arm.model_dump() for arm in body.current]) if body.current else None
    delay: Any = body.delay
    if events is not None:
        try:
            delay = optimizer.fit_delay(optimizer.load_events(*events), seed=body.seed or 0)
        except optimizer.InvalidEventsError:
            delay = "auto"  # too few matched conversions: detect the lag in the stats instead
    rec = optimizer.recommend(
        frame,
        body.budget,
        current=current,
        objective=body.objective,
        config=config,
        as_of=body.as_of,
        seed=body.seed,
        campaign=campaign.name,
        delay=delay,
    )
    return campaign, rec, frame


def _config(values: dict[str, Any] | None) -> optimizer.ThompsonConfig:
    if not values:
        return optimizer.ThompsonConfig()
    try:
        return optimizer.ThompsonConfig.from_dict(values)
    except optimizer.ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. a text where a number belongs
        raise optimizer.ConfigError(f"config: {exc}") from None
