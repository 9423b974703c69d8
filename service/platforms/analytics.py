"""Conversions from web analytics (Google Analytics 4, Yandex Metrica), tied to arms by
the landing URL's UTM tags, and their reconciliation with what the ad platform reports.

UTM convention (override per campaign with :class:`UtmMapping`): ``utm_campaign`` names
the campaign, ``utm_content`` the creative and ``utm_term`` the audience.

Layouts:

- GA4: Explore > (free form) > Export > CSV. Comment lines starting with ``#`` (account,
  property, date range) sit above the table; dimensions ``Date`` (YYYYMMDD), ``Session
  campaign``, ``Session manual ad content``, ``Session manual term``; metrics
  ``Sessions``, ``Key events`` (or ``Key events (<event>)`` per event, the older
  ``Conversions``) and ``Total revenue`` — names as in the GA4 "Dimensions & metrics"
  reference.
- Yandex Metrica: Reports > Export > CSV/TSV. Headers in the interface language
  (``Дата визита`` / ``Date of visit``, ``UTM Campaign``, ``UTM Content``, ``UTM Term``,
  ``Визиты`` / ``Sessions``, ``Достижения цели (<goal>)`` / ``Goal completions (<goal>)``,
  ``Доход`` / ``Revenue``); a totals row ``Итого и средние`` / ``Total and averages``
  right under the header — as in the Metrica help "Export data".
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import optimizer

from .presets import normalise
from .read import InvalidExportError, UnknownLayoutError, _decode, _numbers

__all__ = [
    "ANALYTICS",
    "AnalyticsResult",
    "UtmMapping",
    "import_analytics",
    "join_sources",
    "reconcile",
    "utm_check",
]

UNTAGGED = {"", "(not set)", "(none)", "(direct)", "не определено", "not set"}


@dataclass(frozen=True)
class UtmMapping:
    """Which UTM field names which part of an arm."""

    campaign: str = "utm_campaign"
    creative: str = "utm_content"
    audience: str = "utm_term"

    @classmethod
    def from_dict(cls, values: Mapping[str, str] | None) -> UtmMapping:
        values = dict(values or {})
        unknown = sorted(set(values) - {"campaign", "creative", "audience"})
        bad = {k: v for k, v in values.items() if v not in UTM_FIELDS}
        if unknown or bad:
            raise optimizer.ConfigError(
                f"UTM mapping: parts are campaign, creative, audience (got {unknown}); "
                f"fields are {', '.join(UTM_FIELDS)} (got {bad})"
            )
        return cls(**values)


UTM_FIELDS = ("utm_campaign", "utm_content", "utm_term", "utm_source", "utm_medium")


@dataclass(frozen=True)
class _Layout:
    name: str
    title: str
    columns: Mapping[str, tuple[str, ...]]
    goal_patterns: tuple[str, ...]  # regexes on normalised headers; group 1 = goal name
    plain_goals: tuple[str, ...]  # a single all-goals column
    date_formats: tuple[str, ...]
    totals: tuple[str, ...]


GA4 = _Layout(
    name="ga4",
    title="Google Analytics 4",
    columns={
        "date": ("Date",),
        "utm_campaign": ("Session campaign", "Session manual campaign name", "Campaign"),
        "utm_content": ("Session manual ad content", "Manual ad content"),
        "utm_term": ("Session manual term", "Manual term"),
        "utm_source": ("Session source", "Session manual source"),
        "utm_medium": ("Session medium", "Session manual medium"),
        "sessions": ("Sessions",),
        "revenue": ("Total revenue", "Purchase revenue"),
    },
    goal_patterns=(r"^key events \((.+)\)$", r"^conversions \((.+)\)$"),
    plain_goals=("key events", "conversions"),
    date_formats=("%Y%m%d", "%Y-%m-%d"),
    totals=("grand total", "total", "итого"),
)

METRICA = _Layout(
    name="metrica",
    title="Yandex Metrica",
    columns={
        "date": ("Дата визита", "Date of visit", "Дата", "Date"),
        "utm_campaign": ("UTM Campaign",),
        "utm_content": ("UTM Content",),
        "utm_term": ("UTM Term",),
        "utm_source": ("UTM Source",),
        "utm_medium": ("UTM Medium",),
        "sessions": ("Визиты", "Sessions", "Visits"),
        "revenue": ("Доход", "Revenue", "Доход (все цели)"),
    },
    goal_patterns=(
        r"^достижения цели \((.+)\)$",
        r"^целевые визиты \((.+)\)$",
        r"^goal completions \((.+)\)$",
        r"^conversions \((.+)\)$",
        r"^goal reaches \((.+)\)$",
    ),
    plain_goals=("достижения целей", "goal completions", "conversions"),
    date_formats=("%Y-%m-%d", "%d.%m.%Y"),
    totals=("итого и средние", "total and averages", "итого", "total"),
)

ANALYTICS = {layout.name: layout for layout in (GA4, METRICA)}


@dataclass(frozen=True)
class AnalyticsResult:
    """Sessions, conversions (of ``goal``) and revenue per arm and day, and the rows whose
    UTM tags name no arm (``untagged``: sessions without the campaign's tags)."""

    table: pd.DataFrame  # campaign, date, creative, audience, sessions, conversions, revenue
    source: str
    title: str
    goal: str
    columns: dict[str, str]
    untagged_sessions: float
    notes: list[str] = field(default_factory=list)


def import_analytics(
    source: bytes | str | Path,
    *,
    goal: str | None = None,
    utm: UtmMapping | None = None,
    layout: str = "auto",
    name: str | None = None,
) -> AnalyticsResult:
    """Read a GA4 or Yandex Metrica export; ``goal`` names the key event / goal to count
    as conversions (needed when the export has several)."""
    if isinstance(source, str | Path):
        name = name or Path(source).name
        data = Path(source).read_bytes()
    else:
        data = source
    name = name or "export"
    utm = utm or UtmMapping()
    lines = [ln for ln in _decode(data, name).splitlines()]
    candidates = list(ANALYTICS.values()) if layout == "auto" else [ANALYTICS[layout]]
    head_at, sep, chosen, found = _header(lines, candidates, name)
    rows = list(csv.reader(lines[head_at:], delimiter=sep))
    header = rows[0]
    names = [normalise(h) for h in header]
    needed = ["date", "sessions", utm.campaign, utm.creative, utm.audience]
    missing = [f for f in needed if f not in found]
    if missing:
        raise InvalidExportError(
            [
                optimizer.InputProblem(
                    None,
                    f,
                    f"{name}: no {f} column (a {chosen.title} export needs one of "
                    f"{', '.join(repr(a) for a in chosen.columns[f])})",
                )
                for f in missing
            ]
        )
    goal_col, goal_name = _goal(header, names, chosen, goal, name)
    body: list[list[str]] = []
    line_of: list[int] = []
    n_totals = 0
    for offset, row in enumerate(rows[1:], start=1):
        line = head_at + 1 + offset
        if not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if row[0].strip().lower().startswith(chosen.totals):
            n_totals += 1
            continue
        if len(row) != len(header):
            raise InvalidExportError(
                [
                    optimizer.InputProblem(
                        None,
                        None,
                        f"line {line}: {len(row)} fields where the header has {len(header)}",
                    )
                ]
            )
        body.append(row)
        line_of.append(line)
    if not body:
        raise InvalidExportError([optimizer.InputProblem(None, None, f"{name} has no data rows")])
    problems: list[optimizer.InputProblem] = []
    dates = _analytics_dates([r[found["date"]].strip() for r in body], chosen, line_of, problems)
    numeric = [found["sessions"], goal_col, *([found["revenue"]] if "revenue" in found else [])]
    decimal_comma = sep == ";" or any(
        re.search(r",\d{1,2}$", r[k].strip()) for r in body for k in numeric
    )

    def numbers(column: int, what: str) -> list[float]:
        return _numbers([r[column] for r in body], what, decimal_comma, line_of, problems)

    sessions = numbers(found["sessions"], "sessions")
    conversions = numbers(goal_col, "conversions")
    revenue = numbers(found["revenue"], "revenue") if "revenue" in found else [0.0] * len(body)
    if problems:
        raise InvalidExportError(problems)
    frame = pd.DataFrame(
        {
            "campaign": [r[found[utm.campaign]].strip() for r in body],
            "date": dates,
            "creative": [r[found[utm.creative]].strip() for r in body],
            "audience": [r[found[utm.audience]].strip() for r in body],
            "sessions": sessions,
            "conversions": conversions,
            "revenue": revenue,
        }
    )
    tagged = ~(
        frame["creative"].str.lower().isin(UNTAGGED) | frame["audience"].str.lower().isin(UNTAGGED)
    )
    untagged = float(frame.loc[~tagged, "sessions"].sum())
    table = (
        frame[tagged]
        .groupby(["campaign", "date", "creative", "audience"], as_index=False, sort=True)[
            ["sessions", "conversions", "revenue"]
        ]
        .sum()
    )
    notes = [f"dropped {n_totals} total row(s)"] if n_totals else []
    if untagged:
        notes.append(f"{untagged:,.0f} sessions without the arm's UTM tags were left out")
    used = {f: header[i] for f, i in found.items()}
    used["conversions"] = header[goal_col]
    return AnalyticsResult(table, chosen.name, chosen.title, goal_name, used, untagged, notes)


def _header(
    lines: list[str], candidates: list[_Layout], name: str
) -> tuple[int, str, _Layout, dict[str, int]]:
    best: tuple[int, int, str, _Layout | None, dict[str, int]] = (0, 0, ",", None, {})
    for i, line in enumerate(lines[:40]):
        if line.lstrip().startswith("#"):
            continue  # GA4's comment lines
        for sep in (",", ";", "\t"):
            if sep not in line:
                continue
            cells = [normalise(c) for c in next(csv.reader([line], delimiter=sep))]
            for layout in candidates:
                found = {}
                for f, aliases in layout.columns.items():
                    for alias in aliases:
                        if normalise(alias) in cells:
                            found[f] = cells.index(normalise(alias))
                            break
                if len(found) > best[0]:
                    best = (len(found), i, sep, layout, found)
    if best[3] is None or best[0] < 3:
        raise UnknownLayoutError(
            [
                optimizer.InputProblem(
                    None,
                    None,
                    f"{name}: no Google Analytics 4 or Yandex Metrica header in the first 40 lines",
                )
            ]
        )
    return best[1], best[2], best[3], best[4]


def _goal(
    header: list[str], names: list[str], layout: _Layout, goal: str | None, name: str
) -> tuple[int, str]:
    per_goal: dict[str, int] = {}
    shown: dict[str, str] = {}  # normalised goal -> as the export writes it
    for i, n in enumerate(names):
        for pattern in layout.goal_patterns:
            m = re.match(pattern, n)
            if m:
                per_goal[m.group(1)] = i
                inner = re.search(r"\((.+)\)\s*$", header[i])
                shown[m.group(1)] = inner.group(1) if inner else m.group(1)
    plain = [i for i, n in enumerate(names) if n in layout.plain_goals]
    if goal is not None:
        key = normalise(goal)
        if key in per_goal:
            return per_goal[key], shown[key]
        if key in names:
            return names.index(key), goal
        options = sorted(shown.values()) or [header[i] for i in plain]
        raise InvalidExportError(
            [
                optimizer.InputProblem(
                    None,
                    "conversions",
                    f"{name}: goal {goal!r} not found; the export has "
                    f"{', '.join(map(repr, options)) or 'no goal columns'}",
                )
            ]
        )
    if len(per_goal) == 1:
        only = next(iter(per_goal))
        return per_goal[only], shown[only]
    if len(per_goal) > 1:
        raise InvalidExportError(
            [
                optimizer.InputProblem(
                    None,
                    "conversions",
                    f"{name} counts several goals ({', '.join(sorted(shown.values()))}); "
                    "choose one with --goal",
                )
            ]
        )
    if plain:
        return plain[0], header[plain[0]]
    raise InvalidExportError(
        [optimizer.InputProblem(None, "conversions", f"{name}: no key event / goal column")]
    )


def _analytics_dates(
    values: list[str], layout: _Layout, line_of: list[int], problems: list[optimizer.InputProblem]
) -> pd.Series:
    series = pd.Series(values, dtype=object)
    parsed = {f: pd.to_datetime(series, format=f, errors="coerce") for f in layout.date_formats}
    for candidate in parsed.values():
        if candidate.notna().all():
            return candidate
    either = pd.concat(list(parsed.values()), axis=1).notna().any(axis=1)
    if either.all():
        seen = [f for f, p in parsed.items() if p.notna().any()]
        first = {f: values[int(np.flatnonzero(parsed[f].notna())[0])] for f in seen}
        problems.append(
            optimizer.InputProblem(
                None,
                "date",
                "mixed date formats ("
                + " and ".join(f"{v!r} on line {line_of[values.index(v)]}" for v in first.values())
                + "): export the whole report at once",
            )
        )
        return parsed[layout.date_formats[0]]
    for i in np.flatnonzero(~either.to_numpy()):
        problems.append(
            optimizer.InputProblem(
                int(i) + 1,
                "date",
                f"line {line_of[i]}: date ({values[i]!r}) is not a date",
                values[i],
            )
        )
    return parsed[layout.date_formats[0]]


# -- checks and joins -----------------------------------------------------------------------


def _table(analytics: AnalyticsResult | pd.DataFrame) -> pd.DataFrame:
    return analytics.table if isinstance(analytics, AnalyticsResult) else analytics


def utm_check(stats: pd.DataFrame, analytics: AnalyticsResult | pd.DataFrame) -> pd.DataFrame:
    """Tagged traffic that names no known arm, and arms with spend but no tagged traffic
    (broken or missing tags): columns ``kind, creative, audience, sessions, detail``."""
    arms = stats[stats["spend"] > 0].groupby(["creative", "audience"])["spend"].sum()
    traffic = _table(analytics).groupby(["creative", "audience"])["sessions"].sum()
    rows = []
    for (c, a), sessions in traffic.items():
        if (c, a) not in arms.index:
            rows.append(
                {
                    "kind": "unknown_arm",
                    "creative": c,
                    "audience": a,
                    "sessions": float(sessions),
                    "detail": f"{sessions:,.0f} sessions tagged ({c}, {a}), which is no arm "
                    "of the ad platform's stats: a typo in the tags?",
                }
            )
    for (c, a), spend in arms.items():
        if (c, a) not in traffic.index:
            rows.append(
                {
                    "kind": "untagged_arm",
                    "creative": c,
                    "audience": a,
                    "sessions": 0.0,
                    "detail": f"spent {spend:,.2f} but no session carries its tags: "
                    "the ad's landing URL lacks or breaks them",
                }
            )
    return pd.DataFrame(rows, columns=["kind", "creative", "audience", "sessions", "detail"])


def join_sources(
    stats: pd.DataFrame, analytics: AnalyticsResult | pd.DataFrame, source: str
) -> pd.DataFrame:
    """The stats with conversions and revenue from ``source``: "platform" (as they are) or
    "analytics" (matched by date, creative and audience; 0 where analytics saw none)."""
    if source == "platform":
        return stats.copy()
    if source != "analytics":
        raise optimizer.ConfigError(f"conversion source ({source!r}) must be platform or analytics")
    seen = (
        _table(analytics)
        .groupby(["date", "creative", "audience"], as_index=False)[["conversions", "revenue"]]
        .sum()
    )
    out = stats.drop(columns=["conversions", "revenue"]).merge(
        seen, on=["date", "creative", "audience"], how="left"
    )
    out[["conversions", "revenue"]] = out[["conversions", "revenue"]].fillna(0.0)
    return optimizer.validate_stats(out[list(optimizer.STATS_COLUMNS)])


def reconcile(
    stats: pd.DataFrame,
    analytics: AnalyticsResult | pd.DataFrame,
    *,
    alpha: float = 0.001,
    run_alpha: float = 0.05,
) -> pd.DataFrame:
    """Per arm and day, platform-reported against analytics conversions.

    If both sources count the same conversions up to a steady gap, a day's platform count
    given the day's total is Binomial(total, the arm's platform share on its other days).
    ``p_value`` is that two-sided tail; ``flag`` marks days with ``p_value < alpha``, or
    in a run of two or more days in a row with ``p_value < run_alpha`` on the same side:
    the gap jumped (a broken pixel or tag).
    """
    from scipy import stats as st

    seen = (
        _table(analytics)
        .groupby(["date", "creative", "audience"], as_index=False)["conversions"]
        .sum()
    )
    table = stats[["date", "creative", "audience", "conversions"]].merge(
        seen, on=["date", "creative", "audience"], how="left", suffixes=("_platform", "_analytics")
    )
    table = table.rename(
        columns={"conversions_platform": "platform", "conversions_analytics": "analytics"}
    ).fillna({"analytics": 0.0})
    table = table.astype({"platform": float, "analytics": float})  # object when none matched
    table = table.sort_values(["creative", "audience", "date"], ignore_index=True)
    arm = [table["creative"], table["audience"]]
    total = table["platform"] + table["analytics"]
    # leave-one-out share: the arm's platform share on its other days (+1/+2 keeps it in (0, 1))
    share = (table.groupby(arm)["platform"].transform("sum") - table["platform"] + 1) / (
        table.groupby(arm)["platform"].transform("sum")
        + table.groupby(arm)["analytics"].transform("sum")
        - total
        + 2
    )
    k = np.round(table["platform"].to_numpy())
    n = np.round(total.to_numpy())
    low = st.binom.cdf(k, n, share)
    high = st.binom.sf(k - 1, n, share)
    table["p_value"] = np.minimum(1.0, 2 * np.minimum(low, high))
    side = np.sign(k - n * share)
    weak = (table["p_value"] < run_alpha).to_numpy()
    run = np.zeros(len(table), bool)
    same_arm = (table["creative"].shift() == table["creative"]) & (
        table["audience"].shift() == table["audience"]
    )
    for i in range(1, len(table)):
        if same_arm.iloc[i] and weak[i] and weak[i - 1] and side[i] == side[i - 1]:
            run[i] = run[i - 1] = True
    table["flag"] = (table["p_value"] < alpha).to_numpy() | run
    return table
