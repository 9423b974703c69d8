"""What the service keeps, as plain functions over a SQLAlchemy session.

The HTTP routes, the CLI and the tests all go through these, so the rules (upsert
keys, all-or-nothing batches, who may decide what) live in one place. Every
function runs inside the caller's transaction: a raised error rolls everything
back.
"""

from __future__ import annotations

from .analytics import analytics_frame, ingest_analytics
from .campaigns import bump_stats_version, create_campaign, get_campaign, list_campaigns
from .events import event_frames, has_events, ingest_events
from .recommendations import (
    ACTIONS,
    campaign_decisions,
    check_split,
    decide,
    decisions_of,
    final_split,
    get_recommendation,
    latest_split,
    list_recommendations,
    save_recommendation,
    split_bounds,
)
from .stats import IngestResult, ingest_stats, merge_stats, stats_frame

__all__ = [
    "ACTIONS",
    "IngestResult",
    "analytics_frame",
    "bump_stats_version",
    "campaign_decisions",
    "check_split",
    "create_campaign",
    "decide",
    "decisions_of",
    "event_frames",
    "final_split",
    "get_campaign",
    "get_recommendation",
    "has_events",
    "ingest_analytics",
    "ingest_events",
    "ingest_stats",
    "latest_split",
    "list_campaigns",
    "list_recommendations",
    "merge_stats",
    "save_recommendation",
    "split_bounds",
    "stats_frame",
]
