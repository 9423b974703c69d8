"""What the stats say before any budget is chosen: the first half of :func:`recommend`.

Validating the stats, finding the conversion delay, capping outlier revenue,
aggregating arm totals and fitting the population prior depend only on the stats
(and ``as_of``, the delay setting, the half-life and the prior settings), not on the
budget, the current split or the seed. :func:`fit_evidence` does that once; pass
its result to :func:`recommend` in place of the stats to answer many budgets from
one fit (the service keeps one per campaign until new stats arrive).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pandas as pd

from .config import ThompsonConfig
from .delay import NO_DELAY, DelayCurve, detect_delay, lag_profile
from .errors import ConfigError, InputProblem, InvalidStatsError
from .model import GammaPoissonModel
from .revenue import cap_revenue
from .stats import aggregate_arms, default_as_of, load_stats

__all__ = ["Evidence", "fit_evidence"]

T = TypeVar("T")
#: Results an :class:`Evidence` keeps per arms/settings/seed (see ``remember``).
MEMO = 16


@dataclass(frozen=True, eq=False)
class Evidence:
    """One campaign's validated stats, summarised for a given day and settings.

    ``frame`` is the validated stats of the campaign (revenue capped), ``used`` the
    rows before ``as_of``, ``totals`` the per-arm aggregates (half-life and delay
    applied) and ``delay`` the lag curve in use. :meth:`model` fits (and remembers)
    the population prior for a :class:`ThompsonConfig`. Safe to share between threads.
    """

    frame: pd.DataFrame
    campaign: str
    as_of: dt.date
    delay: DelayCurve
    totals: pd.DataFrame
    used: pd.DataFrame
    n_capped: int
    half_life_days: float | None
    _models: dict[ThompsonConfig, GammaPoissonModel] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _memo: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict, repr=False)

    def model(self, config: ThompsonConfig) -> GammaPoissonModel:
        """The Gamma-Poisson model fitted to ``totals`` with ``config``'s prior settings."""
        with self._lock:
            model = self._models.get(config)
        if model is None:
            model = GammaPoissonModel(config).fit(self.totals)
            with self._lock:
                self._models[config] = model
        return model

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s result, computed once per ``key`` (the newest :data:`MEMO`
        keys are kept). :func:`recommend` keeps here what depends on the arms, settings
        and seed but not on the budget (posteriors, P(best), response curves), so many
        budgets asked of one Evidence pay for those once. Two threads asking for a new
        key at once may both compute it; the results are equal."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return cast(T, self._memo[key])
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > MEMO:
                self._memo.popitem(last=False)
        return value


def fit_evidence(
    stats: pd.DataFrame | str | Path,
    *,
    config: ThompsonConfig | None = None,
    as_of: dt.date | str | None = None,
    campaign: str | None = None,
    delay: DelayCurve | str | Mapping[float, float] | None = "auto",
) -> Evidence:
    """Validate ``stats`` and summarise them for :func:`recommend`.

    Parameters are those of :func:`recommend` with the same meaning; of ``config``
    only ``half_life_days`` is used here (the prior settings are applied by
    :meth:`Evidence.model`).

    Raises
    ------
    InvalidStatsError, ConfigError
    """
    config = config or ThompsonConfig()
    frame = load_stats(stats)
    frame, campaign_name = _one_campaign(frame, campaign)
    day = as_date(as_of) if as_of is not None else default_as_of(frame)
    curve = _delay_curve(delay, frame, day)
    frame, n_capped = cap_revenue(frame)  # a few huge orders must not decide the split
    totals = aggregate_arms(frame, as_of=day, half_life_days=config.half_life_days, delay=curve)
    used = frame[frame["date"] < pd.Timestamp(day)]
    if used.empty or totals["spend"].sum() <= 0:
        raise InvalidStatsError(
            [
                InputProblem(
                    None, "spend", f"no spend before {day.isoformat()}: nothing to learn from"
                )
            ]
        )
    return Evidence(
        frame=frame,
        campaign=campaign_name,
        as_of=day,
        delay=curve,
        totals=totals,
        used=used,
        n_capped=n_capped,
        half_life_days=config.half_life_days,
    )


def _delay_curve(
    delay: DelayCurve | str | Mapping[float, float] | None, frame: pd.DataFrame, day: dt.date
) -> DelayCurve:
    if isinstance(delay, DelayCurve):
        return delay
    if delay is None or delay == "none":
        return NO_DELAY
    if delay == "auto":
        return detect_delay(frame, as_of=day)
    return lag_profile(delay)


def _one_campaign(frame: pd.DataFrame, campaign: str | None) -> tuple[pd.DataFrame, str]:
    names = sorted(frame["campaign"].unique())
    if campaign is not None:
        if campaign not in names:
            raise InvalidStatsError(
                [
                    InputProblem(
                        None,
                        "campaign",
                        f"campaign {campaign!r} is not in the stats (found: {', '.join(names)})",
                    )
                ]
            )
        return frame[frame["campaign"] == campaign], campaign
    if len(names) > 1:
        raise InvalidStatsError(
            [
                InputProblem(
                    None,
                    "campaign",
                    f"stats hold {len(names)} campaigns "
                    f"({', '.join(names[:5])}); choose one with campaign=",
                )
            ]
        )
    return frame, names[0] if names else "default"


def as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"as_of ({value!r}) is not an ISO date YYYY-MM-DD") from None
