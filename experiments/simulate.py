"""Simulated campaigns with known truth, emitting the daily stats a platform would.

A :class:`SimulatedCampaign` holds per arm the true conversions per unit of spend,
the value per conversion and, optionally, a saturation scale (diminishing returns)
and a fatigue rate (a creative wearing out). Each day the policy's spend buys
``Poisson(expected conversions)`` conversions whose arrival is delayed by draws from
a delay distribution; :meth:`SimulatedCampaign.stats` returns the table as the
platform would report it on a given day: conversions are attributed to the day of
the spend and only those arrived so far are counted (older days are restated as
late conversions come in).

Expected conversions of spend ``s`` in arm ``a`` on day ``t``::

    linear:      rate_a * s * fatigue_a(t)
    saturating:  rate_a * K_a * (1 - exp(-s / K_a)) * fatigue_a(t)   (K_a: saturation scale)
    fatigue_a(t) = exp(-fatigue_per_day_a * t)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer import Seed, as_generator

__all__ = ["ArmTruth", "SimulatedCampaign", "make_campaign"]


@dataclass(frozen=True)
class ArmTruth:
    """The true behaviour of one arm."""

    creative: str
    audience: str
    rate: float  # conversions per unit of spend (at low spend, day 0)
    value: float = 50.0  # mean value per conversion
    saturation: float | None = None  # K: spend where returns have fallen to 1/e
    fatigue_per_day: float = 0.0  # relative decline of the rate per day
    first_day: int = 0  # the arm is launched on this day
    last_day: int | None = None  # ... and retired after this day (None: never)

    def active_on(self, day: int) -> bool:
        return day >= self.first_day and (self.last_day is None or day <= self.last_day)


@dataclass
class SimulatedCampaign:
    """A campaign whose truth is known; see the module docstring.

    ``delay_mean_days`` (exponential delays, 0 = none) and ``immediate_share`` (the
    part that converts the same moment) shape the lag of conversions.
    """

    arms: list[ArmTruth]
    start: dt.date = dt.date(2026, 1, 1)
    delay_mean_days: float = 0.0
    immediate_share: float = 0.0
    seed: Seed = None
    impressions_per_spend: float = 120.0
    ctr: float = 0.015
    _rng: np.random.Generator = field(init=False, repr=False)
    _events: list[pd.DataFrame] = field(init=False, repr=False, default_factory=list)
    # (day, spend, impressions, clicks) per day played
    _spend_rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        init=False, repr=False, default_factory=list
    )
    _days: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = as_generator(self.seed)

    @property
    def n_days(self) -> int:
        return self._days

    @property
    def today(self) -> dt.date:
        """The next day to be played (= the ``as_of`` of the stats so far)."""
        return self.start + dt.timedelta(days=self._days)

    def active(self, day: int | None = None) -> np.ndarray:
        """Which arms run on ``day`` (default today): launched and not yet retired."""
        t = self._days if day is None else day
        return np.array([arm.active_on(t) for arm in self.arms])

    def expected_conversions(self, spend: np.ndarray, day: int | None = None) -> np.ndarray:
        """True expected conversions per arm for a day's spend (for regret)."""
        t = self._days if day is None else day
        spend = np.asarray(spend, dtype=float)
        out = np.empty(len(self.arms))
        for i, arm in enumerate(self.arms):
            fatigue = np.exp(-arm.fatigue_per_day * t)
            if arm.saturation:
                out[i] = arm.rate * arm.saturation * -np.expm1(-spend[i] / arm.saturation)
            else:
                out[i] = arm.rate * spend[i]
            out[i] *= fatigue
        return np.where(self.active(t), out, 0.0)

    def play(self, spend: np.ndarray) -> None:
        """Spend ``spend[i]`` on arm i today; draw conversions and their arrival times."""
        spend = np.round(np.asarray(spend, dtype=float), 2)
        if spend.shape != (len(self.arms),) or np.any(spend < 0) or not np.all(np.isfinite(spend)):
            raise ValueError("spend must be one finite, non-negative amount per arm")
        if np.any(spend[~self.active()] > 0):
            raise ValueError("spend on an arm that is not running today (not launched or retired)")
        rng = self._rng
        mean = self.expected_conversions(spend)
        conversions = rng.poisson(mean)
        values = np.array([a.value for a in self.arms])
        arm_idx = np.repeat(np.arange(len(self.arms)), conversions)
        n = arm_idx.size
        click_time = rng.random(n)  # within the day of spend
        if self.delay_mean_days > 0:
            lag = rng.exponential(self.delay_mean_days, n)
            lag[rng.random(n) < self.immediate_share] = 0.0
        else:
            lag = np.zeros(n)
        order_value = values[arm_idx] * rng.lognormal(-0.5 * 0.6**2, 0.6, n)
        self._events.append(
            pd.DataFrame(
                {
                    "arm": arm_idx,
                    "day": self._days,
                    "arrival": self._days + click_time + lag,
                    "value": order_value,
                }
            )
        )
        impressions = rng.poisson(spend * self.impressions_per_spend)
        clicks = rng.binomial(impressions, self.ctr)
        self._spend_rows.append((self._days, spend, impressions, clicks, self.active()))
        self._days += 1

    def stats(self, as_of_day: int | None = None) -> pd.DataFrame:
        """The stats table as reported at the start of day ``as_of_day`` (default today)."""
        now = self._days if as_of_day is None else as_of_day
        events = (
            pd.concat(self._events)
            if self._events
            else pd.DataFrame(columns=["arm", "day", "arrival", "value"])
        )
        seen = events[(events["arrival"] < now) & (events["day"] < now)]
        grouped = seen.groupby(["day", "arm"]).agg(conv=("value", "size"), rev=("value", "sum"))
        rows = []
        for day, spend, impressions, clicks, running in self._spend_rows:
            if day >= now:
                continue
            date = (self.start + dt.timedelta(days=day)).isoformat()
            for i in np.flatnonzero(running):
                key = (day, i)
                conv = int(grouped["conv"].get(key, 0))
                rows.append(
                    {
                        "campaign": "sim",
                        "date": date,
                        "creative": self.arms[i].creative,
                        "audience": self.arms[i].audience,
                        "impressions": int(impressions[i]),
                        "clicks": int(min(clicks[i], impressions[i])),
                        "spend": float(spend[i]),
                        "conversions": conv,
                        "revenue": round(float(grouped["rev"].get(key, 0.0)), 2),
                    }
                )
        return pd.DataFrame(rows)


def make_campaign(
    n_creatives: int = 4,
    n_audiences: int = 3,
    *,
    base_rate: float = 0.03,
    effect_sd: float = 0.3,
    cell_shape: float = 8.0,
    delay_mean_days: float = 0.0,
    immediate_share: float = 0.0,
    saturation: float | None = None,
    fatigue_per_day: float = 0.0,
    churn: bool = False,
    seed: Seed = None,
) -> SimulatedCampaign:
    """A creative x audience grid with main effects and cell noise (see ArmTruth).

    Rates: ``base_rate * creative_effect * audience_effect * Gamma(cell_shape)/cell_shape``
    with log-normal effects of sd ``effect_sd``. ``saturation`` (per arm, in money per
    day) turns on diminishing returns; ``fatigue_per_day`` makes the first creative wear
    out; ``churn`` launches a new creative ("c_new") on day 10 and retires creative c1
    after day 19.
    """
    rng = as_generator(seed)
    c_eff = rng.lognormal(0.0, effect_sd, n_creatives)
    a_eff = rng.lognormal(0.0, effect_sd, n_audiences)
    arms = []
    for i in range(n_creatives):
        for j in range(n_audiences):
            rate = base_rate * c_eff[i] * a_eff[j] * rng.gamma(cell_shape, 1.0 / cell_shape)
            arms.append(
                ArmTruth(
                    creative=f"c{i}",
                    audience=f"a{j}",
                    rate=float(rate),
                    value=float(rng.lognormal(np.log(50), 0.3)),
                    saturation=saturation,
                    fatigue_per_day=fatigue_per_day if i == 0 else 0.0,
                    last_day=19 if churn and i == 1 else None,
                )
            )
    if churn:
        new_effect = rng.lognormal(0.3, effect_sd)  # launched because it looked promising
        for j in range(n_audiences):
            rate = base_rate * new_effect * a_eff[j] * rng.gamma(cell_shape, 1.0 / cell_shape)
            arms.append(
                ArmTruth(
                    creative="c_new",
                    audience=f"a{j}",
                    rate=float(rate),
                    value=float(rng.lognormal(np.log(50), 0.3)),
                    saturation=saturation,
                    first_day=10,
                )
            )
    return SimulatedCampaign(
        arms,
        delay_mean_days=delay_mean_days,
        immediate_share=immediate_share,
        seed=rng,
    )
