"""Settings of the conversion model and the allocator, validated when built."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

__all__ = ["ThompsonConfig", "load_config"]

PBestMethod = Literal["auto", "integrate", "monte_carlo"]


@dataclass(frozen=True)
class ThompsonConfig:
    """Every knob of :func:`optimizer.recommend`, with the defaults we ship.

    Model
    -----
    prior_strength : float or None, default None
        Fix the prior's worth in conversions (the Gamma shape ``k``). None fits it
        from the spread between arms (see :mod:`optimizer.model`).
    min_prior_strength, max_prior_strength : float, default 0.1, 5.0
        Bounds of the fitted strength. The upper bound matters: in the first days
        arms look alike and an unbounded fit freezes every arm at the pooled mean.
    effect_l2_conversions : float, default 1.0
        Ridge penalty of the creative and audience main effects, in conversions: a
        creative with this many expected conversions is shrunk half-way to the mean.
    half_life_days : float or None, default None
        Discount old days by ``0.5 ** (age / half_life_days)``; None = stationary.
    credible_level : float, default 0.9
        Mass of the reported rate interval (``rate_low``, ``rate_high``).

    Revenue and guardrails
    ----------------------
    value_prior_conversions : float, default 10
        Prior worth, in conversions, of the campaign's value per conversion in each
        arm's value posterior (see :mod:`optimizer.revenue`).
    cpa_target, roas_floor : float or None
        Guardrails: an arm with ``P(CPA > cpa_target)`` or ``P(ROAS < roas_floor)``
        above ``guardrail_level`` gets at most its exploration floor.
    guardrail_level : float, default 0.8

    Diminishing returns
    -------------------
    response : {"auto", "linear"}, default "auto"
        "auto" fits a saturating response curve per arm whose spend has varied
        (:mod:`optimizer.response`) and, when some arm more likely saturates than
        not, splits by the average of each posterior draw's optimal split;
        "linear" always splits by P(best).
    response_draws : int, default 400
        Posterior draws averaged for that split.
    min_spend_cv : float, default 0.2
        Daily spend must vary at least this much (coefficient of variation) for an
        arm's curve to be fitted.
    saturation_evidence : float, default 0.9
        The curves are used only when the pooled evidence that returns diminish
        (:attr:`optimizer.response.ResponseCurves.p_campaign_saturating`) exceeds
        this. A per-arm gate ("some arm above 0.5") fires by chance in campaigns
        with hundreds of arms even when returns are linear.

    Allocation
    ----------
    floor : float, default 0.002
        Exploration floor, a share of the budget each free arm keeps at least:
        ``share = floor + (1 - n * floor) * p_best``.
    max_floor_total : float, default 0.05
        The floors together never take more than this share; past it the per-arm
        floor shrinks to ``max_floor_total / n``.
    max_change : float or None, default None
        Cap on the relative change per arm against ``current`` (0.2 = +-20%).
    min_spend, max_spend : float, default 0 and None
        Bounds on every arm's spend, in money; ``current`` can set them per arm.
    p_best_method : {"auto", "integrate", "monte_carlo"}, default "auto"
        "auto" integrates numerically and falls back to Monte Carlo if the
        integral does not reach ``p_best_tol``.
    p_best_tol : float, default 1e-4
        Target bound on the numerical error of the summed P(best).
    n_draws : int, default 10_000
        Posterior draws of the Monte-Carlo fallback.
    """

    prior_strength: float | None = None
    min_prior_strength: float = 0.1
    max_prior_strength: float = 5.0
    effect_l2_conversions: float = 1.0
    half_life_days: float | None = None
    credible_level: float = 0.9
    floor: float = 0.002
    max_floor_total: float = 0.05
    max_change: float | None = None
    min_spend: float = 0.0
    max_spend: float | None = None
    value_prior_conversions: float = 10.0
    cpa_target: float | None = None
    roas_floor: float | None = None
    guardrail_level: float = 0.8
    response: Literal["auto", "linear"] = "auto"
    response_draws: int = 400
    min_spend_cv: float = 0.2
    saturation_evidence: float = 0.9
    p_best_method: PBestMethod = "auto"
    p_best_tol: float = 1e-4
    n_draws: int = 10_000

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ConfigError(f"{name} ({getattr(self, name)!r}) {rule}")

        def finite(name: str) -> bool:
            value = getattr(self, name)
            return (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            )

        for name in (
            "min_prior_strength",
            "max_prior_strength",
            "effect_l2_conversions",
            "credible_level",
            "floor",
            "max_floor_total",
            "min_spend",
            "p_best_tol",
        ):
            need(finite(name), name, "must be a finite number")
        for name in (
            "prior_strength",
            "half_life_days",
            "max_change",
            "max_spend",
            "cpa_target",
            "roas_floor",
        ):
            if getattr(self, name) is not None:
                need(finite(name), name, "must be a finite number or None")
        need(self.min_prior_strength > 0, "min_prior_strength", "must be > 0")
        need(
            self.max_prior_strength >= self.min_prior_strength,
            "max_prior_strength",
            f"must be >= min_prior_strength ({self.min_prior_strength})",
        )
        if self.prior_strength is not None:
            need(self.prior_strength > 0, "prior_strength", "must be > 0")
        need(self.effect_l2_conversions > 0, "effect_l2_conversions", "must be > 0")
        if self.half_life_days is not None:
            need(self.half_life_days > 0, "half_life_days", "must be > 0")
        need(0 < self.credible_level < 1, "credible_level", "must be in (0, 1)")
        need(
            finite("value_prior_conversions"), "value_prior_conversions", "must be a finite number"
        )
        need(self.value_prior_conversions > 0, "value_prior_conversions", "must be > 0")
        for name in ("cpa_target", "roas_floor"):
            if getattr(self, name) is not None:
                need(getattr(self, name) > 0, name, "must be > 0")
        need(finite("guardrail_level"), "guardrail_level", "must be a finite number")
        need(0 < self.guardrail_level < 1, "guardrail_level", "must be in (0, 1)")
        need(0 <= self.floor < 1, "floor", "must be in [0, 1)")
        need(0 <= self.max_floor_total < 1, "max_floor_total", "must be in [0, 1)")
        if self.max_change is not None:
            need(self.max_change > 0, "max_change", "must be > 0")
        need(self.min_spend >= 0, "min_spend", "must be >= 0")
        if self.max_spend is not None:
            need(
                self.max_spend >= self.min_spend,
                "max_spend",
                f"must be >= min_spend ({self.min_spend})",
            )
        need(
            self.p_best_method in ("auto", "integrate", "monte_carlo"),
            "p_best_method",
            "must be one of 'auto', 'integrate', 'monte_carlo'",
        )
        need(0 < self.p_best_tol < 0.5, "p_best_tol", "must be in (0, 0.5)")
        need(self.response in ("auto", "linear"), "response", "must be 'auto' or 'linear'")
        need(
            isinstance(self.response_draws, int) and self.response_draws >= 50,
            "response_draws",
            "must be an integer >= 50",
        )
        need(finite("min_spend_cv") and self.min_spend_cv >= 0, "min_spend_cv", "must be >= 0")
        need(
            finite("saturation_evidence") and 0 < self.saturation_evidence < 1,
            "saturation_evidence",
            "must be in (0, 1)",
        )
        need(
            isinstance(self.n_draws, int) and not isinstance(self.n_draws, bool),
            "n_draws",
            "must be an integer",
        )
        need(self.n_draws >= 100, "n_draws", "must be >= 100")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict; ``ThompsonConfig.from_dict(c.to_dict()) == c``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ThompsonConfig:
        """Build from a mapping, refusing unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        try:
            return cls(**values)
        except TypeError as exc:  # e.g. comparing a str with a float in __post_init__
            raise ConfigError(f"bad setting type: {exc}") from None


def load_config(path: str | Path) -> ThompsonConfig:
    """Read a :class:`ThompsonConfig` from a ``.json`` or ``.toml`` file.

    The file holds the settings at the top level, or under a ``[thompson]``
    table / ``"thompson"`` key (so tuning output can carry metadata beside it).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            values: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            values = json.loads(text)
        else:
            raise ConfigError(f"config file {path} must end in .json or .toml")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:]}: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a table of settings")
    if "thompson" in values:
        values = values["thompson"]
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path}: 'thompson' must be a table of settings")
    return ThompsonConfig.from_dict(values)
