"""Request and response bodies of the HTTP API (pydantic), with OpenAPI examples."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Strict(BaseModel):
    """Unknown fields are errors, never ignored; "40" is not a number (strict types)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Problem(BaseModel):
    """One broken rule: the row (from 1, None for the whole request), the field and the rule."""

    row: int | None = None
    field: str | None = None
    rule: str
    value: Any = None


class ErrorOut(BaseModel):
    detail: str
    problems: list[Problem] = []

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "invalid stats: 1 problem in 1 row",
                    "problems": [
                        {
                            "row": 3,
                            "field": "clicks",
                            "rule": "clicks (130) > impressions (100)",
                            "value": 130,
                        }
                    ],
                }
            ]
        }
    )


# -- campaigns -------------------------------------------------------------------------------


class CampaignIn(Strict):
    name: Name
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="ISO 4217 code, e.g. EUR"
    )

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"name": "spring-sale", "currency": "EUR"}]},
    )


class WindowOut(BaseModel):
    """Totals over a window of days; CPA and ROAS are ratios of the sums."""

    start: dt.date | None
    end: dt.date | None
    spend: float
    conversions: float
    revenue: float
    cpa: float | None
    roas: float | None


class LatestOut(BaseModel):
    id: int
    status: str
    created_at: dt.datetime


class CampaignOut(BaseModel):
    id: int
    name: str
    currency: str | None
    platform: str | None = None
    conversion_source: Literal["platform", "analytics"] = "platform"
    utm: dict[str, str] | None = None
    created_at: dt.datetime
    n_stats_rows: int = 0
    n_analytics_rows: int = 0
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    window: WindowOut | None = None
    latest_recommendation: LatestOut | None = None


class UtmIn(Strict):
    campaign: Literal["utm_campaign", "utm_content", "utm_term", "utm_source", "utm_medium"] = (
        "utm_campaign"
    )
    creative: Literal["utm_campaign", "utm_content", "utm_term", "utm_source", "utm_medium"] = (
        "utm_content"
    )
    audience: Literal["utm_campaign", "utm_content", "utm_term", "utm_source", "utm_medium"] = (
        "utm_term"
    )


class CampaignPatch(Strict):
    """Per-campaign settings: whose conversions recommendations learn from, and how UTM
    fields name the arms in web analytics."""

    conversion_source: Literal["platform", "analytics"] | None = None
    utm: UtmIn | None = None

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"conversion_source": "analytics"}]},
    )


class AnalyticsIngestOut(BaseModel):
    n_rows: int
    source: str
    goal: str
    notes: list[str] = []
    tags: list[dict[str, Any]] = Field(default=[], description="UTM check findings")
    flagged: list[dict[str, Any]] = Field(default=[], description="arm-days whose gap jumped")


class ReconciliationOut(BaseModel):
    campaign_id: int
    rows: list[dict[str, Any]]


# -- stats ----------------------------------------------------------------------------------


class StatRowIn(Strict):
    """One arm-day (DESIGN.md data contract). Numbers must be JSON numbers."""

    campaign: str | None = Field(default=None, description="blank or this campaign's name")
    date: dt.date
    creative: Name
    audience: Name
    impressions: Annotated[int, Field(ge=0, le=2**62)]
    clicks: Annotated[int, Field(ge=0, le=2**62)]
    spend: Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]
    conversions: Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]
    revenue: Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)] = 0.0


class StatsBatch(Strict):
    rows: list[StatRowIn] = Field(max_length=1_000_000)

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "rows": [
                        {
                            "date": "2026-11-01",
                            "creative": "video-a",
                            "audience": "lookalike-1",
                            "impressions": 12000,
                            "clicks": 240,
                            "spend": 96.5,
                            "conversions": 7,
                            "revenue": 310.0,
                        }
                    ]
                }
            ]
        },
    )


class StatRowOut(BaseModel):
    date: dt.date
    creative: str
    audience: str
    impressions: int
    clicks: int
    spend: float
    conversions: float
    revenue: float


class IngestOut(BaseModel):
    n_rows: int = Field(description="rows received")
    n_inserted: int = Field(description="arm-days that were new")
    n_replaced: int = Field(description="arm-days restated (replaced)")
    warnings: list[str] = []
    platform: str | None = Field(default=None, description="the export's platform, if imported")
    currency: str | None = None
    notes: list[str] = Field(default=[], description="rows the import dropped or merged")
    quality: dict[str, Any] | None = Field(default=None, description="data-quality report")


# -- event logs ----------------------------------------------------------------------------


class ClickIn(Strict):
    click_id: Name
    time: dt.datetime
    creative: Name
    audience: Name


class ConversionIn(Strict):
    click_id: Name
    time: dt.datetime
    value: Amount = 0.0


class EventsBatch(Strict):
    clicks: list[ClickIn] = Field(default=[], max_length=1_000_000)
    conversions: list[ConversionIn] = Field(default=[], max_length=1_000_000)

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "clicks": [
                        {
                            "click_id": "c1",
                            "time": "2026-11-01T10:00:00",
                            "creative": "video-a",
                            "audience": "lookalike-1",
                        }
                    ],
                    "conversions": [{"click_id": "c1", "time": "2026-11-03T09:30:00", "value": 40}],
                }
            ]
        },
    )


class EventsIngestOut(BaseModel):
    n_clicks: int
    n_conversions: int


class EventsOut(BaseModel):
    clicks: list[ClickIn]
    conversions: list[ConversionIn]


# -- recommendations ----------------------------------------------------------------------


class CurrentArm(Strict):
    creative: Name
    audience: Name
    budget: Amount
    min_budget: Amount | None = None
    max_budget: Amount | None = None
    locked: bool = False


class RecommendationIn(Strict):
    budget: Annotated[
        float, Field(ge=0.01, le=1e12, allow_inf_nan=False, description="money to split")
    ]
    current: list[CurrentArm] | None = Field(
        default=None, description="today's split; its arms are the answer's arms"
    )
    objective: Literal["conversions", "revenue"] = "conversions"
    config: dict[str, Any] | None = Field(
        default=None, description="ThompsonConfig settings, e.g. {'floor': 0.005}"
    )
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = 7
    as_of: dt.date | None = Field(
        default=None,
        strict=False,  # an ISO string in JSON; strict mode would want a date object
        description="day the split is for (default: day after the latest stats)",
    )
    delay: str = Field(
        default="auto",
        max_length=200,
        description=(
            "'auto' (fit from stored event logs if any, else detect in the stats), "
            "'none', or a lag profile such as '90% within 7 days'"
        ),
    )

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"budget": 1200, "objective": "conversions", "seed": 7}]},
    )


class AllocationOut(BaseModel):
    """One arm of a recommendation: the columns of ``optimizer.recommend``."""

    creative: str
    audience: str
    budget: float
    share: float
    p_best: float
    p_best_open: float | None = None
    round: int | None = None
    rate_mean: float | None = None
    rate_low: float | None = None
    rate_high: float | None = None
    expected_conversions: float | None = None
    current: float | None = None
    change: float | None = None
    binding: str = ""
    spend_to_date: float | None = None
    conversions_to_date: float | None = None
    maturity: float | None = None
    prior_mean: float | None = None
    value_mean: float | None = None
    roas_mean: float | None = None
    roas_low: float | None = None
    roas_high: float | None = None
    p_cpa_above_target: float | None = None
    p_roas_below_floor: float | None = None
    p_saturating: float | None = None
    saturation_median: float | None = None
    reason: str = ""


class SplitArm(Strict):
    creative: Name
    audience: Name
    budget: float = Field(allow_inf_nan=False)


class DecisionOut(BaseModel):
    id: int
    action: Literal["approve", "reject", "edit"]
    key_name: str
    note: str
    split: list[SplitArm] | None = None
    created_at: dt.datetime


class ArmBounds(BaseModel):
    """What an edited split may give one arm (from the request's current split and config)."""

    creative: str
    audience: str
    min_budget: float
    max_budget: float | None = Field(description="None: no upper bound")
    locked_budget: float | None = Field(description="the arm must keep exactly this")


class CampaignDecisionOut(DecisionOut):
    recommendation_id: int


class RecommendationOut(BaseModel):
    id: int
    campaign_id: int
    status: Literal["pending", "approved", "rejected", "edited"]
    created_at: dt.datetime
    created_by: str
    budget: float
    objective: str
    seed: int | None
    as_of: dt.date
    data_start: dt.date | None
    data_end: dt.date | None
    delay: dict[str, Any]
    config: dict[str, Any]
    p_best_method: str
    version: str
    tracking_run_id: str | None = None
    conversion_source: str = Field(
        default="ad platform", description="whose conversions it learned from"
    )
    allocations: list[AllocationOut]
    decisions: list[DecisionOut] = []
    final_split: list[SplitArm] | None = Field(
        default=None, description="the split to run once approved (or edited)"
    )
    bounds: list[ArmBounds] = Field(
        default=[], description="per arm, what an edit may give it (checked on edit)"
    )


class RecommendationSummary(BaseModel):
    id: int
    campaign_id: int
    status: str
    created_at: dt.datetime
    created_by: str
    budget: float
    objective: str
    n_arms: int


class HistoryPoint(BaseModel):
    id: int
    created_at: dt.datetime
    as_of: dt.date
    status: str
    arms: list[dict[str, Any]] = Field(description="creative, audience, budget, p_best")


class DecisionIn(Strict):
    note: str = Field(default="", max_length=10_000)


class EditIn(Strict):
    split: list[SplitArm] = Field(min_length=1, max_length=100_000)
    note: str = Field(default="", max_length=10_000)


# -- A/B tests and experiments ------------------------------------------------------------


class VariantIn(Strict):
    variant: Name
    users: Annotated[int, Field(ge=0, le=2**62)] | None = None
    conversions: Annotated[int, Field(ge=0, le=2**62)]
    spend: Amount | None = None
    revenue: Amount | None = None


class AbTestIn(Strict):
    control: Name
    metric: Literal["conversion_rate", "conversions_per_spend", "revenue"] = "conversion_rate"
    variants: list[VariantIn] = Field(min_length=2, max_length=100)
    level: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    expected_share: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = None
    min_chance_to_be_best: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    max_expected_loss_rel: Annotated[float, Field(gt=0, le=1)] = 0.005
    min_users: Annotated[int, Field(ge=0)] = 1000
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "control": "A",
                    "variants": [
                        {"variant": "A", "users": 10000, "conversions": 420},
                        {"variant": "B", "users": 10050, "conversions": 480},
                    ],
                }
            ]
        },
    )


class AbTestOut(BaseModel):
    metric: str
    control: str
    variants: list[dict[str, Any]]
    srm: dict[str, Any]
    stop: bool
    winner: str | None
    verdict: str


class ComparisonOut(BaseModel):
    runs: list[dict[str, Any]]


# -- keys and health ----------------------------------------------------------------------------


class KeyIn(Strict):
    name: Name
    role: Literal["viewer", "specialist", "automation", "admin"]


class MeOut(BaseModel):
    """The caller's key: its name (recorded on decisions) and role."""

    name: str
    role: str
    roles: list[str] = Field(description="every role, weakest first")


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class NewKeyOut(KeyOut):
    key: str = Field(description="the secret; shown only this once")


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str | None = None
    revision: str | None = None


class StatsOut(BaseModel):
    campaign_id: int
    n_rows: int
    truncated: bool = Field(description="more rows match than `limit`")
    rows: list[StatRowOut]


class ExperimentOut(BaseModel):
    experiment_id: str
    name: str
    n_runs: int
    url: str | None = None
