"""The front door's main verb: stats in, a budget split with reasons out."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import namedtuple
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._explain import reason
from ._pbest import PBest, p_best_beta_prime, p_best_gamma, p_best_monte_carlo
from ._random import Seed, as_generator
from .allocate import Allocation, allocate_budget
from .config import ThompsonConfig
from .current import load_current
from .delay import NO_DELAY, DelayCurve
from .errors import ConfigError
from .evidence import Evidence, as_date, fit_evidence
from .model import ArmPosteriors
from .response import ResponseCurves, expected_conversions, fit_response, optimal_split
from .revenue import (
    ValuePosteriors,
    fit_values,
    p_cpa_above,
    p_roas_below,
    roas_parameters,
    roas_summary,
)

__all__ = ["OBJECTIVES", "Recommendation", "recommend"]

OBJECTIVES = ("conversions", "revenue")
#: Response-curve draws larger than this (about 650 arms at 400 draws) are drawn again on
#: every call rather than kept on the evidence, so a cache of evidences stays small.
KEEP_DRAWS_BYTES = 4 * 2**20

ALLOCATION_COLUMNS = (
    "creative",
    "audience",
    "budget",
    "share",
    "p_best",
    "p_best_open",
    "round",
    "rate_mean",
    "rate_low",
    "rate_high",
    "expected_conversions",
    "current",
    "change",
    "binding",
    "spend_to_date",
    "conversions_to_date",
    "maturity",
    "prior_mean",
    "value_mean",
    "roas_mean",
    "roas_low",
    "roas_high",
    "p_cpa_above_target",
    "p_roas_below_floor",
    "p_saturating",
    "saturation_median",
    "reason",
)


@functools.cache  # reading package metadata costs more than a small recommendation
def _version() -> str:
    try:
        return metadata.version("adbandit")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


@dataclass(frozen=True)
class Recommendation:
    """A budget split for one period, with everything needed to explain and replay it.

    ``allocations`` has one row per arm with columns :data:`ALLOCATION_COLUMNS`:
    ``budget`` (money), ``share`` (of the total), ``p_best``, ``rate_mean`` /
    ``rate_low`` / ``rate_high`` (conversions per unit of spend, credible interval
    of ``config.credible_level``), ``expected_conversions`` (``budget *
    rate_mean``), ``current`` and ``change`` (budget minus current; 0 with no
    current), ``binding`` (the constraint that decided the spend, "" for none) and
    a one-sentence ``reason``.
    """

    allocations: pd.DataFrame
    budget: float
    objective: str
    campaign: str
    as_of: dt.date
    data_start: dt.date | None
    data_end: dt.date | None
    n_rows: int
    config: ThompsonConfig
    seed: int | None
    p_best_method: str
    p_best_error: float
    prior_strength: float
    pooled_rate: float
    delay: DelayCurve = NO_DELAY
    version: str = field(default_factory=_version)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (dates as ISO strings, NaN as None)."""
        records = _records(self.allocations)
        return {
            "campaign": self.campaign,
            "budget": self.budget,
            "objective": self.objective,
            "as_of": self.as_of.isoformat(),
            "data_start": self.data_start.isoformat() if self.data_start else None,
            "data_end": self.data_end.isoformat() if self.data_end else None,
            "n_rows": self.n_rows,
            "config": self.config.to_dict(),
            "seed": self.seed,
            "p_best_method": self.p_best_method,
            "p_best_error": _json_value(self.p_best_error),
            "prior_strength": _json_value(self.prior_strength),
            "pooled_rate": _json_value(self.pooled_rate),
            "delay": _json_safe(self.delay.to_dict()),
            "version": self.version,
            "allocations": records,
        }


def recommend(
    stats: pd.DataFrame | str | Path | Evidence,
    budget: float,
    *,
    current: pd.DataFrame | str | Path | None = None,
    objective: str = "conversions",
    config: ThompsonConfig | None = None,
    as_of: dt.date | str | None = None,
    seed: int | None = None,
    campaign: str | None = None,
    delay: DelayCurve | str | Mapping[float, float] | None = "auto",
) -> Recommendation:
    """Recommend next period's budget split across arms (creative x audience).

    Parameters
    ----------
    stats : DataFrame, path to .csv / .parquet, or Evidence
        Daily per-arm stats (see :mod:`optimizer.stats`); validated here. An
        :class:`Evidence` from :func:`fit_evidence` skips that work (its as_of,
        campaign and half-life must agree with the arguments here).
    budget : float
        Money to split for the next period, > 0.
    current : DataFrame or path, optional
        The current split (see :mod:`optimizer.current`); its arms are the arms
        of the answer, and it enables ``max_change``, per-arm bounds and locks.
    objective : {"conversions"}
        What to maximise.
    config : ThompsonConfig, optional
        Model and allocation settings; defaults to ``ThompsonConfig()``.
    as_of : date or "YYYY-MM-DD", optional
        The day the split is for; stats from this day on are ignored. Default:
        the day after the latest date in ``stats``.
    seed : int, optional
        Seeds the Monte-Carlo fallback of P(best); same inputs and seed give the
        same answer (the default numerical integration needs no seed).
    campaign : str, optional
        Which campaign of ``stats`` to use; needed when it holds several.
    delay : "auto", "none", a lag profile or DelayCurve, default "auto"
        How late conversions arrive. "auto" detects a lag in the stats themselves
        (kept only if a likelihood-ratio test finds one); "none" assumes none; a
        profile such as ``"90% within 7 days"`` or ``{1: 0.5, 3: 0.8, 7: 1.0}`` is
        taken as given; a :class:`DelayCurve` (e.g. fitted from event logs) is used
        as is. Recent days then count as ``spend * m(age)`` of exposure, and every
        arm reports its ``maturity``.

    Returns
    -------
    Recommendation

    Raises
    ------
    InvalidStatsError, InvalidCurrentError, ConfigError, AllocationError

    Examples
    --------
    >>> rec = recommend("data/sample_stats.csv", budget=1200, seed=7)  # doctest: +SKIP
    >>> rec.allocations[["creative", "audience", "budget", "p_best"]].head(3)  # doctest: +SKIP
    """
    config = config or ThompsonConfig()
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective ({objective!r}) must be one of {', '.join(OBJECTIVES)}")
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.number):
        raise ConfigError(f"budget ({budget!r}) must be a number")
    if not math.isfinite(budget) or budget < 0.005:
        raise ConfigError(
            f"budget ({budget}) must be a finite amount of at least one cent (0.01): "
            "splits are rounded to cents"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ConfigError(f"seed ({seed!r}) must be an integer or None")
    if isinstance(stats, Evidence):
        evidence = stats
        for name, given, fitted in (
            ("half_life_days", config.half_life_days, evidence.half_life_days),
            ("as_of", as_date(as_of) if as_of is not None else evidence.as_of, evidence.as_of),
            ("campaign", campaign or evidence.campaign, evidence.campaign),
        ):
            if given != fitted:
                raise ConfigError(
                    f"{name} ({given}) differs from the evidence's ({fitted}): fit it again"
                )
    else:
        evidence = fit_evidence(stats, config=config, as_of=as_of, campaign=campaign, delay=delay)
    campaign_name, day = evidence.campaign, evidence.as_of
    curve, totals, used = evidence.delay, evidence.totals, evidence.used
    cur = load_current(current) if current is not None else None
    arms = cur[["creative", "audience"]] if cur is not None else totals[["creative", "audience"]]

    model = evidence.model(config)
    revenue = objective == "revenue"

    # Kept on the evidence: what depends on the arms and settings but not the budget,
    # then what the seed adds (Monte Carlo P(best), response-curve draws). An unseeded
    # call draws afresh every time.
    arm_key = (config, revenue, *zip(arms["creative"], arms["audience"], strict=True))
    fits = evidence.remember(("arms", *arm_key), lambda: _fit_arms(evidence, arms, config, revenue))
    has_draws = fits.curves is not None and not revenue  # as _draw decides
    n_draw_bytes = len(arms) * config.response_draws * 16 if has_draws else 0
    if seed is None or n_draw_bytes > KEEP_DRAWS_BYTES:  # random, or too big to keep
        drawn = _draw(fits, config, seed, revenue)
    else:
        drawn = evidence.remember(
            ("draws", seed, *arm_key), lambda: _draw(fits, config, seed, revenue)
        )
    post, values, guard, curves = fits.post, fits.values, fits.guard, fits.curves
    pb = drawn.pb
    split = None
    if curves is not None and not revenue:
        r_draws, k_draws = drawn.curves
        split = optimal_split(r_draws, k_draws, float(budget))
        weights = split.mean(axis=0) / float(budget)

    names = [
        f"arm ({c}, {a})" for c, a in zip(post.arms["creative"], post.arms["audience"], strict=True)
    ]

    def weights_for(idx: np.ndarray) -> np.ndarray:
        # P(best) among the arms still open once capped arms are fixed.
        if split is not None:
            return weights[idx]  # the averaged optimal split, among the open arms
        if idx.size == len(names):
            return pb.p_best
        sub = ArmPosteriors(
            post.arms.iloc[idx],
            post.alpha[idx],
            post.beta[idx],
            post.prior_mean[idx],
            post.prior_strength,
            post.prior_shape[idx],
        )
        sub_values = None
        if revenue:
            sub_values = ValuePosteriors(
                values.shape[idx],
                values.rate[idx],
                values.kappa,
                values.prior_value,
                values.n_capped_days,
            )
        return _p_best(sub, config, seed, sub_values).p_best

    if cur is not None:
        alloc = allocate_budget(
            pb.p_best if split is None else weights,
            float(budget),
            current=cur["budget"].to_numpy(float),
            min_spend=np.maximum(cur["min_budget"].to_numpy(float), config.min_spend),
            max_spend=np.minimum(cur["max_budget"].to_numpy(float), _max(config)),
            locked=cur["locked"].to_numpy(bool),
            floor=config.floor,
            max_floor_total=config.max_floor_total,
            max_change=config.max_change,
            names=names,
            weights_for=weights_for,
            guarded=guard.guarded,
        )
    else:
        n = len(arms)
        alloc = allocate_budget(
            pb.p_best if split is None else weights,
            float(budget),
            min_spend=np.full(n, config.min_spend),
            max_spend=np.full(n, _max(config)),
            floor=config.floor,
            max_floor_total=config.max_floor_total,
            names=names,
            weights_for=weights_for,
            guarded=guard.guarded,
        )
    table = _table(fits, pb, alloc, cur, config, objective)
    if split is not None:
        assert curves is not None
        # Expected conversions under the response curves, averaged over the draws.
        table["expected_conversions"] = expected_conversions(
            r_draws, k_draws, table["budget"].to_numpy()[None, :]
        ).mean(axis=0)
    return Recommendation(
        allocations=table,
        budget=round(float(budget), 2),
        objective=objective,
        campaign=campaign_name,
        as_of=day,
        data_start=used["date"].min().date(),
        data_end=used["date"].max().date(),
        n_rows=len(used),
        config=config,
        seed=seed,
        p_best_method=pb.method,
        p_best_error=pb.error,
        prior_strength=model.prior_strength_,
        pooled_rate=model.pooled_rate_,
        delay=curve,
    )


@dataclass(frozen=True)
class _ArmFits:
    """What a recommendation needs that depends on neither the budget nor the seed;
    arrays read-only, since :meth:`Evidence.remember` shares them between calls."""

    post: ArmPosteriors
    values: ValuePosteriors
    exact: PBest | None  # P(best) by integration; None when draws must decide
    guard: _Guard
    curves: ResponseCurves | None
    history: pd.DataFrame  # the arms' spend, conversions and maturity to date


@dataclass(frozen=True)
class _Drawn:
    """What the seed adds: P(best) (drawn only when integration will not do) and the
    response-curve draws (r, k), empty when the response is linear."""

    pb: PBest
    curves: tuple[np.ndarray, np.ndarray]


def _fit_arms(
    evidence: Evidence, arms: pd.DataFrame, config: ThompsonConfig, revenue: bool
) -> _ArmFits:
    post = evidence.model(config).posterior(arms)
    values = fit_values(
        evidence.used,
        evidence.totals,
        arms,
        prior_conversions=config.value_prior_conversions,
        n_capped_days=evidence.n_capped,
    )
    exact = _p_best_exact(post, config, values if revenue else None)
    guard = _guardrails(post, values, config)
    curves = _response(evidence.used, arms, post, evidence.delay, evidence.as_of, config)
    history = post.arms.merge(evidence.totals, on=["creative", "audience"], how="left")
    _read_only(
        post.alpha,
        post.beta,
        post.prior_mean,
        post.prior_shape,
        values.shape,
        values.rate,
        guard.guarded,
        guard.p_cpa_above,
        guard.p_roas_below,
        *([exact.p_best] if exact is not None else []),
    )
    return _ArmFits(post, values, exact, guard, curves, history)


def _draw(fits: _ArmFits, config: ThompsonConfig, seed: Seed, revenue: bool) -> _Drawn:
    pb = fits.exact
    if pb is None:
        pb = _p_best_drawn(fits.post, config, seed, fits.values if revenue else None)
    draws = (np.empty(0), np.empty(0))
    if fits.curves is not None and not revenue:
        draws = fits.curves.sample(config.response_draws, as_generator(seed))
    _read_only(pb.p_best, *draws)
    return _Drawn(pb, draws)


def _read_only(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.flags.writeable = False


def _max(config: ThompsonConfig) -> float:
    return np.inf if config.max_spend is None else config.max_spend


def _response(
    used: pd.DataFrame,
    arms: pd.DataFrame,
    post: ArmPosteriors,
    curve: DelayCurve,
    day: dt.date,
    config: ThompsonConfig,
) -> ResponseCurves | None:
    """Response curves if the pooled evidence of saturation exceeds
    ``config.saturation_evidence``, else None (linear)."""
    if config.response == "linear":
        return None
    age = (pd.Timestamp(day) - used["date"]).dt.days.to_numpy(float)
    curves = fit_response(
        used,
        arms,
        post.prior_shape,
        post.prior_shape / post.prior_mean,
        maturity=curve.maturity(age),
        min_spend_cv=config.min_spend_cv,
    )
    return curves if curves.p_campaign_saturating > config.saturation_evidence else None


@dataclass(frozen=True)
class _Guard:
    guarded: np.ndarray  # bool per arm
    p_cpa_above: np.ndarray  # NaN where no CPA target
    p_roas_below: np.ndarray  # NaN where no ROAS floor


def _guardrails(post: ArmPosteriors, values: ValuePosteriors, config: ThompsonConfig) -> _Guard:
    n = post.alpha.size
    cpa = p_cpa_above(post, config.cpa_target) if config.cpa_target else np.full(n, np.nan)
    roas = (
        p_roas_below(post, values, config.roas_floor) if config.roas_floor else np.full(n, np.nan)
    )
    level = config.guardrail_level
    guarded = (np.nan_to_num(cpa) > level) | (np.nan_to_num(roas) > level)
    return _Guard(guarded, cpa, roas)


def _p_best(
    post: ArmPosteriors,
    config: ThompsonConfig,
    seed: Seed,
    values: ValuePosteriors | None = None,
) -> PBest:
    """P(best) of conversions per spend, or of revenue per spend when ``values`` is given.

    "auto" integrates and falls back to seeded Monte Carlo only if the integral's error
    is worse than the draws' would be.
    """
    found = _p_best_exact(post, config, values)
    return found if found is not None else _p_best_drawn(post, config, seed, values)


def _p_best_exact(
    post: ArmPosteriors, config: ThompsonConfig, values: ValuePosteriors | None
) -> PBest | None:
    """P(best) by integration, or None when the settings or its error call for draws."""
    if config.p_best_method == "monte_carlo":
        return None
    if values is not None:
        p, q, scale = roas_parameters(post, values)
        found = p_best_beta_prime(p, q, scale, tol=config.p_best_tol)
    else:
        found = p_best_gamma(post.alpha, post.beta, tol=config.p_best_tol)
    mc_error = 3.0 * math.sqrt(0.25 / config.n_draws)
    if config.p_best_method == "auto" and found.error > max(config.p_best_tol, mc_error):
        return None
    return found


def _p_best_drawn(
    post: ArmPosteriors, config: ThompsonConfig, seed: Seed, values: ValuePosteriors | None
) -> PBest:
    if values is not None:
        p, q, scale = roas_parameters(post, values)
        return _p_best_revenue_mc(p, q, scale, config.n_draws, seed)
    return p_best_monte_carlo(post.alpha, post.beta, n_draws=config.n_draws, seed=seed)


def _median_k(curves: ResponseCurves) -> np.ndarray:
    """Posterior median of each arm's saturation scale (inf when more likely linear)."""
    cum = np.cumsum(curves.weights, axis=1)
    pick = (cum < 0.5).sum(axis=1)
    return curves.k_grid[np.arange(len(pick)), np.minimum(pick, curves.k_grid.shape[1] - 1)]


def _p_best_revenue_mc(
    p: np.ndarray, q: np.ndarray, scale: np.ndarray, n_draws: int, seed: Seed
) -> PBest:
    # scale * X / Y with X ~ Gamma(p), Y ~ Gamma(q); argmax counted per draw.
    rng = as_generator(seed)
    x = rng.gamma(p, size=(n_draws, p.size))
    y = rng.gamma(q, size=(n_draws, p.size))
    counts = np.bincount(np.argmax(scale * x / y, axis=1), minlength=p.size)
    share = counts / n_draws
    error = 3.0 * float(np.sqrt(max(share.max() * (1 - share.max()), 0.25 / n_draws) / n_draws))
    return PBest(share, error, "monte_carlo", n_draws)


def _table(
    fits: _ArmFits,
    pb: PBest,
    alloc: Allocation,
    cur: pd.DataFrame | None,
    config: ThompsonConfig,
    objective: str,
) -> pd.DataFrame:
    post, values, guard, curves = fits.post, fits.values, fits.guard, fits.curves
    budget_total = alloc.spend.sum()
    low, high = post.interval(config.credible_level)
    history = fits.history
    spend_to_date = history["spend"].fillna(0.0).to_numpy(float)
    maturity = history["maturity"].fillna(1.0).to_numpy(float)
    conv_to_date = history["conversions"].fillna(0.0).to_numpy(float)
    current = cur["budget"].to_numpy(float) if cur is not None else np.full(len(post.arms), np.nan)
    change = alloc.spend - current if cur is not None else np.zeros(len(post.arms))
    share = alloc.spend / budget_total
    roas_mean, roas_low, roas_high = roas_summary(post, values, config.credible_level)
    table = pd.DataFrame(
        {
            "creative": post.arms["creative"].to_numpy(),
            "audience": post.arms["audience"].to_numpy(),
            "budget": alloc.spend,
            "share": share,
            "p_best": pb.p_best,
            "p_best_open": alloc.weight,
            "round": alloc.round,
            "rate_mean": post.mean,
            "rate_low": low,
            "rate_high": high,
            "expected_conversions": alloc.spend * post.mean,
            "current": current,
            "change": np.round(change, 2),
            "binding": alloc.binding.astype(str),
            "spend_to_date": spend_to_date,
            "conversions_to_date": conv_to_date,
            "maturity": maturity,
            "prior_mean": post.prior_mean,
            "value_mean": values.mean,
            "roas_mean": roas_mean,
            "roas_low": roas_low,
            "roas_high": roas_high,
            "p_cpa_above_target": guard.p_cpa_above,
            "p_roas_below_floor": guard.p_roas_below,
            "p_saturating": curves.p_saturating if curves is not None else np.zeros(len(share)),
            "saturation_median": _median_k(curves) if curves is not None else np.inf,
        }
    )
    n = len(table)
    table["reason"] = [reason(row, n, config, objective) for row in _rows(table)]
    assert np.all(np.isfinite(table["budget"])) and np.all(table["budget"] >= 0)
    assert abs(table["share"].sum() - 1.0) < 1e-9
    return table


def _rows(table: pd.DataFrame) -> Iterator[Any]:
    """The rows as named tuples of plain Python values (``itertuples`` without its
    per-column indexing, which dominated a 200-arm table)."""
    row = _row_type(tuple(table.columns))
    return map(row._make, zip(*(table[c].tolist() for c in table.columns), strict=True))


@functools.cache
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("Row", columns)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON-safe dicts (NaN and infinities as None, dates as ISO text),
    converted a column at a time."""
    columns = []
    for name in table.columns:
        column = table[name]
        if column.dtype.kind == "f":
            array = column.to_numpy()
            values = array.tolist()
            for i in np.flatnonzero(~np.isfinite(array)):
                values[i] = None
        elif column.dtype.kind in "iub":
            values = column.to_numpy().tolist()
        else:
            values = [_json_value(v) for v in column]
        columns.append(values)
    names = [str(c) for c in table.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return _json_value(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    return value
