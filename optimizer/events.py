"""Click and conversion logs, and the conversion-delay curve fitted from them.

Click log: ``click_id, time, creative, audience`` (+ optional ``campaign``).
Conversion log: ``click_id, time`` (+ optional ``value``, blank = 0).
Times are ISO 8601 (``2026-03-01T14:05:00``; a trailing ``Z`` or offset is converted
to UTC). Structural problems (missing columns, unreadable times, blank or repeated
click ids in the click log, negative values) raise :class:`InvalidEventsError` with
every bad row. Conversions that cannot be used -- unknown click id, earlier than their
click, or a second conversion of the same click -- are *reported* in
:attr:`EventLog.excluded` and left out, never silently used.

Delay fit (:func:`fit_delay`): a conversion is only seen if it happened before the log
was cut (``observed_until``), so a click ``w`` days before the cut can only show delays
up to ``w``: observed delays are right-truncated. The non-parametric estimate is
Lynden-Bell's product-limit estimator for right-truncated data; the parametric ones
(exponential, Weibull) maximise ``sum log f(d_i) - log F(w_i)``. Criterion: the
parametric family with the lower AIC is used if it lies inside the non-parametric
curve's 90% bootstrap band at the deciles of the observed delays (compared as
``F(d) / F(longest window)``, the only part Lynden-Bell can see); otherwise the
non-parametric curve is used (it cannot extrapolate past the longest window). The
chosen curve carries a 90% bootstrap band.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from ._random import Seed, as_generator
from .delay import DelayCurve
from .errors import InputProblem, InvalidInputError

__all__ = ["EventLog", "InvalidEventsError", "fit_delay", "load_events"]

_MIN_DELAY = 1.0 / 1440.0  # one minute, in days: keeps log f finite for instant conversions


class InvalidEventsError(InvalidInputError):
    """A click or conversion log breaks its contract."""

    what = "event log"


@dataclass(frozen=True)
class EventLog:
    """Matched conversions with their delays, and what was left out and why.

    ``matched`` has one row per used conversion: ``click_id, creative, audience,
    campaign, click_time, conversion_time, delay_days, value``. ``clicks`` is the
    validated click log. ``excluded`` lists ``row, click_id, reason`` of the
    conversion rows not used (rows count from 1 in the conversion log).
    """

    clicks: pd.DataFrame
    matched: pd.DataFrame
    excluded: pd.DataFrame
    observed_until: pd.Timestamp = field(default_factory=lambda: pd.Timestamp(0))


def _read(source: pd.DataFrame | str | Path, name: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.copy()
    path = Path(source)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InvalidEventsError(
            [InputProblem(None, None, f"{name}: cannot read {path}: {msg}")]
        ) from None


def _times(column: pd.Series, name: str, problems: list[InputProblem]) -> pd.Series:
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    for i in np.flatnonzero(parsed.isna().to_numpy()):
        value = text.iloc[i]
        rule = (
            f"{name}: time is missing"
            if value == ""
            else (f"{name}: time ({value!r}) is not an ISO 8601 time")
        )
        problems.append(InputProblem(int(i) + 1, "time", rule, value))
    return parsed.dt.tz_localize(None)


def load_events(
    clicks: pd.DataFrame | str | Path,
    conversions: pd.DataFrame | str | Path,
    *,
    observed_until: dt.datetime | str | None = None,
) -> EventLog:
    """Validate both logs and match conversions to clicks by ``click_id``.

    ``observed_until`` is when the logs were cut (default: the latest time in either
    log); it bounds which delays could have been seen.
    """
    c = _read(clicks, "click log")
    v = _read(conversions, "conversion log")
    problems: list[InputProblem] = []
    for frame, name, cols in (
        (c, "click log", ("click_id", "time", "creative", "audience")),
        (v, "conversion log", ("click_id", "time")),
    ):
        missing = [col for col in cols if col not in frame.columns]
        problems += [
            InputProblem(None, m, f"{name}: required column {m!r} is missing") for m in missing
        ]
    if problems:
        raise InvalidEventsError(problems)

    c_ids = c["click_id"].astype(object).where(c["click_id"].notna(), "").astype(str).str.strip()
    click_time = _times(c["time"], "click log", problems)
    for col in ("creative", "audience"):
        text = c[col].astype(object).where(c[col].notna(), "").astype(str).str.strip()
        for i in np.flatnonzero((text == "").to_numpy()):
            problems.append(InputProblem(int(i) + 1, col, f"click log: {col} is empty"))
        c[col] = text
    for i in np.flatnonzero((c_ids == "").to_numpy()):
        problems.append(InputProblem(int(i) + 1, "click_id", "click log: click_id is empty"))
    repeated = c_ids.duplicated(keep="first") & (c_ids != "")
    first_row = {cid: i + 1 for i, cid in reversed(list(enumerate(c_ids)))}
    for i in np.flatnonzero(repeated.to_numpy()):
        problems.append(
            InputProblem(
                int(i) + 1,
                "click_id",
                f"click log: click_id {c_ids.iloc[i]!r} repeats row {first_row[c_ids.iloc[i]]}",
            )
        )
    v_ids = v["click_id"].astype(object).where(v["click_id"].notna(), "").astype(str).str.strip()
    conv_time = _times(v["time"], "conversion log", problems)
    if "value" in v.columns:
        text = v["value"].astype(object).where(v["value"].notna(), "").astype(str).str.strip()
        value = pd.to_numeric(text.where(text != "", "0"), errors="coerce").to_numpy(float)
        for i in np.flatnonzero(~np.isfinite(value) | (value < 0)):
            problems.append(
                InputProblem(
                    int(i) + 1,
                    "value",
                    f"conversion log: value ({text.iloc[i]!r}) must be a number >= 0",
                    text.iloc[i],
                )
            )
    else:
        value = np.zeros(len(v))
    for i in np.flatnonzero((v_ids == "").to_numpy()):
        problems.append(InputProblem(int(i) + 1, "click_id", "conversion log: click_id is empty"))
    if problems:
        raise InvalidEventsError(problems)

    campaign = c["campaign"].astype(str) if "campaign" in c.columns else "default"
    click_table = pd.DataFrame(
        {
            "click_id": c_ids.to_numpy(),
            "time": click_time.to_numpy(),
            "creative": c["creative"].to_numpy(),
            "audience": c["audience"].to_numpy(),
            "campaign": campaign,
        }
    )
    conv_table = pd.DataFrame(
        {
            "row": np.arange(1, len(v) + 1),
            "click_id": v_ids.to_numpy(),
            "time": conv_time.to_numpy(),
            "value": value,
        }
    )
    joined = conv_table.merge(
        click_table.rename(columns={"time": "click_time"}), on="click_id", how="left"
    )
    unknown = joined["click_time"].isna()
    early = ~unknown & (joined["time"] < joined["click_time"])
    ok = joined[~unknown & ~early].sort_values(["time", "row"], kind="stable")
    dup = ok["click_id"].duplicated(keep="first")
    first_of = ok[~dup].set_index("click_id")["row"]
    excluded = (
        pd.concat(
            [
                joined.loc[unknown, ["row", "click_id"]].assign(reason="unknown click_id"),
                joined.loc[early, ["row", "click_id"]].assign(reason="conversion before its click"),
                ok.loc[dup, ["row", "click_id"]].assign(
                    reason=lambda d: [
                        f"click already converted (row {first_of[c]})" for c in d["click_id"]
                    ]
                ),
            ]
        )
        .sort_values("row", kind="stable")
        .reset_index(drop=True)
    )
    used = ok[~dup]
    until = (
        pd.Timestamp(observed_until).tz_localize(None)
        if observed_until is not None
        else max(click_table["time"].max(), conv_table["time"].max())
    )
    matched = (
        pd.DataFrame(
            {
                "click_id": used["click_id"].to_numpy(),
                "creative": used["creative"].to_numpy(),
                "audience": used["audience"].to_numpy(),
                "campaign": used["campaign"].to_numpy(),
                "click_time": used["click_time"].to_numpy(),
                "conversion_time": used["time"].to_numpy(),
                "delay_days": (used["time"] - used["click_time"]).dt.total_seconds().to_numpy()
                / 86400,
                "value": used["value"].to_numpy(),
            }
        )
        .sort_values("click_time", kind="stable")
        .reset_index(drop=True)
    )
    return EventLog(click_table, matched, excluded, until)


def lynden_bell(delay: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product-limit CDF of right-truncated delays (``delay <= window``).

    Returns the distinct delays ``u`` and ``F(u)``, with
    ``F(u_k) = prod_{j > k} (1 - n_j / R_j)`` and ``R_j = #{i : d_i <= u_j <= w_i}``.

    Examples
    --------
    >>> u, f = lynden_bell(np.array([1.0, 2.0, 3.0]), np.array([10.0, 10.0, 10.0]))
    >>> f.round(4).tolist()  # no truncation binding: the empirical CDF
    [0.3333, 0.6667, 1.0]
    """
    d = np.sort(delay)
    w = np.sort(window)
    u, n = np.unique(d, return_counts=True)
    at_risk = np.searchsorted(d, u, side="right") - np.searchsorted(w, u, side="left")
    factor = 1.0 - n / np.maximum(at_risk, n)
    # F(u_k) = product of the factors of all larger distinct delays.
    tail = np.concatenate([np.cumprod(factor[::-1])[::-1][1:], [1.0]])
    return u, tail


def _nll(kind: str, params: np.ndarray, d: np.ndarray, w: np.ndarray) -> float:
    if kind == "exponential":
        lam = np.exp(params[0])
        logf = np.log(lam) - lam * d
        log_fw = np.log(-np.expm1(-lam * w))
    else:
        k, scale = np.exp(params[0]), np.exp(params[1])
        z = d / scale
        logf = np.log(k / scale) + (k - 1) * np.log(z) - z**k
        log_fw = np.log(-np.expm1(-((w / scale) ** k)))
    return -float(np.sum(logf - log_fw))


def _fit_parametric(kind: str, d: np.ndarray, w: np.ndarray) -> tuple[DelayCurve, float]:
    mean = max(float(d.mean()), _MIN_DELAY)
    start = np.array([-np.log(mean)]) if kind == "exponential" else np.array([0.0, np.log(mean)])
    res = optimize.minimize(
        lambda p: _nll(kind, p, d, w),
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
    )
    if kind == "exponential":
        curve = DelayCurve(
            "exponential",
            {"immediate": 0.0, "mean_days": float(np.exp(-res.x[0]))},
            source="events",
        )
    else:
        curve = DelayCurve(
            "weibull",
            {"shape": float(np.exp(res.x[0])), "scale": float(np.exp(res.x[1]))},
            source="events",
        )
    return curve, float(res.fun)


def fit_delay(
    events: EventLog, *, n_boot: int = 200, seed: Seed = 0, level: float = 0.9
) -> DelayCurve:
    """Fit F(d) from matched conversions, correcting for right-truncation.

    See the module docstring for the estimators and the selection criterion. The
    ``evidence`` holds the AIC of each family, the largest gap between the chosen
    parametric curve and the non-parametric one, and the choice made.
    """
    d = np.maximum(events.matched["delay_days"].to_numpy(float), _MIN_DELAY)
    w = (events.observed_until - events.matched["click_time"]).dt.total_seconds().to_numpy() / 86400
    w = np.maximum(w, d)
    if d.size < 10:
        raise InvalidEventsError(
            [
                InputProblem(
                    None,
                    None,
                    f"only {d.size} matched conversions: need at least 10 to fit a delay",
                )
            ]
        )
    rng = as_generator(seed)
    fits = {kind: _fit_parametric(kind, d, w) for kind in ("exponential", "weibull")}
    aic = {
        kind: 2 * nll + 2 * (1 if kind == "exponential" else 2) for kind, (_, nll) in fits.items()
    }
    best_kind = min(aic, key=lambda k: aic[k])
    grid = np.quantile(d, np.linspace(0.1, 0.9, 9))
    band_days = np.unique(np.round(np.linspace(0, np.quantile(d, 0.99), 50), 4))

    def lb_at(dd: np.ndarray, ww: np.ndarray, x: np.ndarray) -> np.ndarray:
        u, f = lynden_bell(dd, ww)
        idx = np.searchsorted(u, x, side="right") - 1
        return np.where(idx >= 0, f[np.maximum(idx, 0)], 0.0)

    boot_lb, boot_param = [], []
    for _ in range(n_boot):
        i = rng.integers(0, d.size, d.size)
        boot_lb.append(lb_at(d[i], w[i], np.concatenate([grid, band_days])))
        boot_param.append(_fit_parametric(best_kind, d[i], w[i])[0].cdf(band_days))
    boot_lb_arr = np.array(boot_lb)
    tail = (1 - level) / 2
    lb_low = np.quantile(boot_lb_arr[:, : grid.size], tail, axis=0)
    lb_high = np.quantile(boot_lb_arr[:, : grid.size], 1 - tail, axis=0)
    param_curve = fits[best_kind][0]
    # Lynden-Bell sees only delays up to the longest window, so it estimates F
    # conditional on d <= max(w); compare the parametric curve on that same scale.
    param_at = param_curve.cdf(grid) / max(float(param_curve.cdf(w.max())), 1e-12)
    inside = bool(np.all((param_at >= lb_low - 1e-9) & (param_at <= lb_high + 1e-9)))
    gap = float(np.max(np.abs(param_at - lb_at(d, w, grid))))
    evidence: dict[str, Any] = {
        "n_conversions": int(d.size),
        "aic": aic,
        "parametric": best_kind,
        "max_gap_to_nonparametric": gap,
        "criterion": "lower-AIC parametric family, kept if inside the non-parametric "
        f"{level:.0%} bootstrap band at the deciles of the delays",
    }
    if inside:
        evidence["choice"] = f"{best_kind} (inside the non-parametric band)"
        band = np.array(boot_param)
        return DelayCurve(
            param_curve.kind,
            param_curve.params,
            source="events",
            band_days=tuple(band_days.tolist()),
            low=tuple(np.quantile(band, tail, axis=0).tolist()),
            high=tuple(np.quantile(band, 1 - tail, axis=0).tolist()),
            evidence=evidence,
        )
    evidence["choice"] = f"non-parametric ({best_kind} leaves the band)"
    u, f = lynden_bell(d, w)
    keep = np.unique(np.searchsorted(u, np.quantile(u, np.linspace(0, 1, 200))).clip(0, u.size - 1))
    days, values = u[keep], f[keep]
    values[-1] = 1.0
    band = boot_lb_arr[:, grid.size :]
    return DelayCurve(
        "table",
        source="events",
        days=tuple(days.tolist()),
        values=tuple(np.maximum.accumulate(values).tolist()),
        band_days=tuple(band_days.tolist()),
        low=tuple(np.quantile(band, tail, axis=0).tolist()),
        high=tuple(np.quantile(band, 1 - tail, axis=0).tolist()),
        evidence=evidence,
    )
