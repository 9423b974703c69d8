"""The stats contract: load, validate and aggregate daily per-arm performance.

One row per arm per day (DESIGN.md, "Data contract"):

========== ========= ==================================================
column     type      rule
========== ========= ==================================================
campaign   str       optional; missing column or blank cell -> "default"
date       ISO date  ``YYYY-MM-DD``, the day the spend happened
creative   str       non-empty (surrounding spaces are removed)
audience   str       non-empty (surrounding spaces are removed)
impressions int      whole number >= 0
clicks     int       whole number >= 0, <= impressions when impressions > 0
spend      float     >= 0, finite
conversions float    >= 0, finite (fractional attribution is allowed)
revenue    float     >= 0, finite; optional, missing column or blank cell -> 0
========== ========= ==================================================

The key is (campaign, date, creative, audience); a key repeated inside one batch
is an error. Rows are numbered from 1 with the header excluded, so row 1 is a
CSV's line 2.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from .delay import DelayCurve
from .errors import InputProblem, InvalidStatsError, StatsWarning

__all__ = [
    "KEY_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "STATS_COLUMNS",
    "aggregate_arms",
    "load_stats",
    "read_stats_file",
    "validate_stats",
]

KEY_COLUMNS = ("campaign", "date", "creative", "audience")
REQUIRED_COLUMNS = (
    "date",
    "creative",
    "audience",
    "impressions",
    "clicks",
    "spend",
    "conversions",
)
OPTIONAL_COLUMNS = {"campaign": "default", "revenue": 0.0}
STATS_COLUMNS = (
    "campaign",
    "date",
    "creative",
    "audience",
    "impressions",
    "clicks",
    "spend",
    "conversions",
    "revenue",
)
_WHOLE = ("impressions", "clicks")
_NUMBERS = ("impressions", "clicks", "spend", "conversions", "revenue")
_TEXT = ("campaign", "creative", "audience")
_DATE_FORMAT = "%Y-%m-%d"

# report(mask, column, rule with "{value}", values of the masked rows)
Reporter = Callable[[np.ndarray, str, str, Iterable[object]], None]


def load_stats(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Load and validate a stats table from a DataFrame, a ``.csv`` or a ``.parquet`` file.

    Parameters
    ----------
    source : DataFrame or path
        CSV files are read as text and every cell is checked here, so nothing is
        coerced silently (``"1,5"`` in spend is an error, not 15).

    Returns
    -------
    DataFrame
        Columns :data:`STATS_COLUMNS` with dtypes str, datetime64, str, str, int64,
        int64, float64, float64, float64, in the input's row order.

    Raises
    ------
    InvalidStatsError
        Listing every broken rule with its row, column and value.

    Examples
    --------
    >>> import pandas as pd
    >>> stats = load_stats(pd.DataFrame({"date": ["2026-01-01"], "creative": ["c1"],
    ...     "audience": ["a1"], "impressions": [1000], "clicks": [20], "spend": [10.0],
    ...     "conversions": [2]}))
    >>> stats.loc[0, "campaign"], float(stats.loc[0, "revenue"])
    ('default', 0.0)
    """
    if isinstance(source, pd.DataFrame):
        return validate_stats(source)
    return validate_stats(read_stats_file(source))


def read_stats_file(source: str | Path | IO[bytes], *, name: str | None = None) -> pd.DataFrame:
    """Read a ``.csv`` (every cell as text) or ``.parquet`` stats file without validating it.

    ``source`` is a path or an open binary file (an upload); ``name`` is the
    file name used to pick the format and in messages (CSV when it has no
    ``.parquet`` suffix). Unreadable files raise :class:`InvalidStatsError`.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or path.name
        if not path.exists():
            raise InvalidStatsError([InputProblem(None, None, f"file not found: {path}")])
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".txt", ".parquet"):
            raise InvalidStatsError(
                [InputProblem(None, None, f"{path.name}: expected a .csv or .parquet file")]
            )
    else:
        name = name or "upload"
        suffix = Path(name).suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(source)
        return _read_csv_strict(source)
    except InvalidStatsError:
        raise
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidStatsError(
            [InputProblem(None, None, f"cannot read {name}: {first}")]
        ) from None
    except (ValueError, ImportError) as exc:  # pyarrow's errors on a file that is not Parquet
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidStatsError(
            [InputProblem(None, None, f"cannot read {name}: {first}")]
        ) from None


def _read_csv_strict(path: str | Path | IO[bytes]) -> pd.DataFrame:
    """Every cell as text; a row with more fields than the header is an error.

    (By default pandas would quietly turn the first column into the index and
    shift every value one column left, e.g. for a decimal comma "10,5".)
    """
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, encoding="utf-8-sig")
    if not isinstance(path, str | Path):
        path.seek(0)
    names = [str(c).strip() for c in header.iloc[0].tolist()] if len(header) else []
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:  # pandas would rename the second one to "name.1" and go on
        raise InvalidStatsError(
            [InputProblem(None, c, f"column {c!r} appears more than once") for c in repeated]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skipinitialspace=True,
                index_col=False,
            )
        except pd.errors.ParserWarning:
            raise pd.errors.ParserError(
                "the first row has more fields than the header (a decimal comma? "
                "use '.' for decimals or quote the value)"
            ) from None


def validate_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Check every rule of the contract and return a clean, typed copy.

    Raises :class:`InvalidStatsError` with all problems found; unknown extra
    columns are dropped with a :class:`StatsWarning`. The input is not modified.
    """
    columns = [str(c).strip() for c in frame.columns]
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise InvalidStatsError(
            [InputProblem(None, c, f"column {c!r} appears more than once") for c in repeated]
        )
    frame = frame.set_axis(columns, axis=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidStatsError(
            [InputProblem(None, c, f"required column {c!r} is missing") for c in missing]
        )
    unknown = [c for c in columns if c not in STATS_COLUMNS]
    if unknown:
        warnings.warn(
            f"ignored unknown column(s): {', '.join(unknown)}", StatsWarning, stacklevel=2
        )
    n = len(frame)
    problems: list[tuple[int, int, InputProblem]] = []  # (row index, column order, problem)
    order = {c: i for i, c in enumerate(STATS_COLUMNS)}

    def report(mask: np.ndarray, column: str, rule: str, values: Iterable[object]) -> None:
        for i, value in zip(np.flatnonzero(mask), values, strict=True):
            text = rule.format(value=_show(value))
            problems.append((int(i), order[column], InputProblem(int(i) + 1, column, text, value)))

    out: dict[str, object] = {}
    for column in _TEXT:
        if column not in frame:
            out[column] = np.full(n, OPTIONAL_COLUMNS[column], dtype=object)
            continue
        text, blank = _as_text(frame[column])
        if column in OPTIONAL_COLUMNS:
            text = np.where(blank, str(OPTIONAL_COLUMNS[column]), text)
        else:
            report(blank, column, f"{column} is empty", [None] * int(blank.sum()))
        out[column] = text

    out["date"] = _parse_dates(frame["date"], report)

    for column in _NUMBERS:
        if column not in frame:
            out[column] = np.zeros(n)
            continue
        out[column] = _parse_numbers(frame[column], column, report)

    impressions = np.asarray(out["impressions"])
    clicks = np.asarray(out["clicks"])
    too_many = (impressions > 0) & (clicks > impressions)
    for i in np.flatnonzero(too_many):
        rule = f"clicks ({_show(clicks[i])}) > impressions ({_show(impressions[i])})"
        problems.append(
            (int(i), order["clicks"], InputProblem(int(i) + 1, "clicks", rule, clicks[i]))
        )

    if not problems:
        problems += _duplicate_keys(out, order)
    if problems:
        problems.sort(key=lambda item: (item[0], item[1]))
        raise InvalidStatsError([p for _, _, p in problems])

    result = pd.DataFrame(
        {
            "campaign": pd.Series(out["campaign"], dtype=str),
            "date": out["date"],
            "creative": pd.Series(out["creative"], dtype=str),
            "audience": pd.Series(out["audience"], dtype=str),
            "impressions": np.asarray(out["impressions"]).astype(np.int64),
            "clicks": np.asarray(out["clicks"]).astype(np.int64),
            "spend": np.asarray(out["spend"], dtype=float),
            "conversions": np.asarray(out["conversions"], dtype=float),
            "revenue": np.asarray(out["revenue"], dtype=float),
        }
    )
    return result


def aggregate_arms(
    stats: pd.DataFrame,
    *,
    as_of: dt.date | None = None,
    half_life_days: float | None = None,
    delay: DelayCurve | None = None,
) -> pd.DataFrame:
    """Sum validated stats per arm (creative, audience), with an optional drift discount.

    Parameters
    ----------
    stats : DataFrame
        Output of :func:`load_stats`; rows dated on or after ``as_of`` are left out.
    as_of : date, optional
        The day the recommendation is for; default the day after the latest date.
        A day's age is ``(as_of - date).days`` (the latest day is 1 day old).
    half_life_days : float, optional
        Each day counts with weight ``0.5 ** (age / half_life_days)`` in both
        conversions and exposure; None counts every day fully.
    delay : DelayCurve, optional
        A day's exposure is ``spend * delay.maturity(age)``: only that share of its
        eventual conversions can have arrived. None means no delay.

    Returns
    -------
    DataFrame, one row per arm, sorted by creative then audience
        ``creative, audience, spend, conversions, revenue, impressions, clicks,
        n_days, first_date, last_date, exposure, weighted_conversions, maturity``
        where ``exposure`` (money) and ``weighted_conversions`` are the discounted,
        delay-corrected sums the model uses and ``maturity`` is the share of the arm's
        expected conversions already observed (``sum spend * m(age) / sum spend``).
    """
    if as_of is None:
        as_of = default_as_of(stats)
    cutoff = np.datetime64(as_of, "D")
    used = stats[stats["date"].to_numpy().astype("datetime64[D]") < cutoff]
    age = (cutoff - used["date"].to_numpy().astype("datetime64[D]")).astype(np.int64)
    if half_life_days is None:
        weight = np.ones(len(used))
    else:
        weight = 0.5 ** (age / half_life_days)
    # Integer codes per column, combined: sorted by creative then audience, and no
    # per-row tuples (a MultiIndex factorize cost 75 ms on 60,000 rows).
    c_codes, c_names = pd.factorize(used["creative"].to_numpy(), sort=True)
    a_codes, a_names = pd.factorize(used["audience"].to_numpy(), sort=True)
    pair = c_codes.astype(np.int64) * max(len(a_names), 1) + a_codes
    arm_codes, pairs = pd.factorize(pair, sort=True)  # pandas' int64 hash: 10x numpy's here
    n_arms = pairs.size
    creative = np.asarray(c_names, dtype=object)[pairs // max(len(a_names), 1)]
    audience = np.asarray(a_names, dtype=object)[pairs % max(len(a_names), 1)]
    day = used["date"].to_numpy().astype("datetime64[D]").astype(np.int64)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(arm_codes, weights=values, minlength=n_arms)

    spend = used["spend"].to_numpy(dtype=float)
    mature = np.ones(len(used)) if delay is None else delay.maturity(age.astype(float))
    conversions = used["conversions"].to_numpy(dtype=float)
    first = np.full(n_arms, np.iinfo(np.int64).max)
    last = np.full(n_arms, np.iinfo(np.int64).min)
    np.minimum.at(first, arm_codes, day)
    np.maximum.at(last, arm_codes, day)
    offset = day - day.min() if day.size else day
    arm_days = pd.unique(arm_codes.astype(np.int64) * (1 << 32) + offset)
    n_days = np.bincount((arm_days >> 32).astype(np.int64), minlength=n_arms)
    return pd.DataFrame(
        {
            "creative": pd.Series(creative, dtype=str),
            "audience": pd.Series(audience, dtype=str),
            "spend": total(spend),
            "conversions": total(conversions),
            "revenue": total(used["revenue"].to_numpy(dtype=float)),
            "impressions": total(used["impressions"].to_numpy(dtype=float)).astype(np.int64),
            "clicks": total(used["clicks"].to_numpy(dtype=float)).astype(np.int64),
            "n_days": n_days,
            "first_date": pd.to_datetime(first.astype("datetime64[D]")),
            "last_date": pd.to_datetime(last.astype("datetime64[D]")),
            "exposure": total(spend * weight * mature),
            "weighted_conversions": total(conversions * weight),
            "maturity": total(spend * mature) / np.maximum(total(spend), 1e-300),
        }
    )


def default_as_of(stats: pd.DataFrame) -> dt.date:
    """The day after the latest date in ``stats`` (today if the table is empty)."""
    if len(stats) == 0:
        return dt.date.today()
    latest: pd.Timestamp = stats["date"].max()
    return (latest + pd.Timedelta(days=1)).date()


def _show(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _as_text(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as stripped strings (object array) and the mask of blank cells.

    Works on the distinct values only (a stats table repeats a few hundred names
    over many rows), then maps them back by code.
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    cleaned = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    blank = np.array([c == "" for c in cleaned], dtype=bool)
    return cleaned[codes], blank[codes]


def _parse_dates(column: pd.Series, report: Reporter) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        missing = parsed.isna().to_numpy()
        report(missing, "date", "date is missing", [None] * int(missing.sum()))
        timed = (~missing) & (parsed != parsed.dt.normalize()).to_numpy()
        report(
            timed,
            "date",
            "date ({value}) must be a day without a time",
            parsed[timed].astype(str).tolist(),
        )
        return parsed.to_numpy().astype("datetime64[ns]")
    # Parse each distinct date once (a table has few days and many rows per day).
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    text_unique = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    parsed_unique = pd.to_datetime(pd.Series(text_unique), format=_DATE_FORMAT, errors="coerce")
    parsed = parsed_unique.to_numpy().astype("datetime64[ns]")[codes]
    text = text_unique[codes]
    blank_unique = np.array([t == "" for t in text_unique], dtype=bool)
    blank = blank_unique[codes]
    bad = np.isnat(parsed) & ~blank
    report(blank, "date", "date is missing", [None] * int(blank.sum()))
    report(bad, "date", "date ({value}) is not an ISO date YYYY-MM-DD", text[bad].tolist())
    return parsed


def _parse_numbers(column: pd.Series, name: str, report: Reporter) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column):
        values = np.full(len(column), np.nan)
        report(np.ones(len(column), bool), name, f"{name} ({{value}}) is not a number", column)
        return values
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        blank = np.isnan(values)
        notnum = np.zeros(len(values), bool)
    else:
        text, blank = _as_text(column)
        values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        is_nan_text = np.isnan(values) & ~blank
        is_nan_text[is_nan_text] = [str(t).lower() == "nan" for t in text[is_nan_text]]
        notnum = np.isnan(values) & ~blank & ~is_nan_text
        report(notnum, name, f"{name} ({{value}}) is not a number", text[notnum].tolist())
        blank = blank | (np.isnan(values) & ~notnum)
    if name in OPTIONAL_COLUMNS:
        values = np.where(blank, float(OPTIONAL_COLUMNS[name]), values)  # type: ignore[arg-type]
    else:
        report(blank, name, f"{name} is missing", [None] * int(blank.sum()))
    ok = ~blank & ~notnum
    with np.errstate(invalid="ignore"):
        infinite = ok & np.isinf(values)
        report(infinite, name, f"{name} ({{value}}) must be finite", values[infinite])
        negative = ok & ~infinite & (values < 0)
        report(negative, name, f"{name} ({{value}}) must be >= 0", values[negative])
        if name in _WHOLE:
            fractional = ok & ~infinite & ~negative & (values != np.floor(values))
            report(
                fractional, name, f"{name} ({{value}}) must be a whole number", values[fractional]
            )
    return np.where(np.isfinite(values), values, 0.0)


def _duplicate_keys(
    out: dict[str, object], order: dict[str, int]
) -> list[tuple[int, int, InputProblem]]:
    keys = [np.asarray(out[c]) for c in KEY_COLUMNS]
    codes = np.zeros(len(keys[0]), dtype=np.int64)
    for values in keys:
        col_codes, uniques = pd.factorize(values)
        codes = codes * (len(uniques) + 1) + col_codes
    dup = pd.Series(codes).duplicated(keep="first").to_numpy()
    if not dup.any():
        return []
    first_row = pd.Series(np.arange(len(codes))).groupby(codes).transform("min").to_numpy()
    found = []
    for i in np.flatnonzero(dup):
        day = pd.Timestamp(keys[1][i]).date().isoformat()
        key = f"({keys[0][i]}, {day}, {keys[2][i]}, {keys[3][i]})"
        rule = (
            f"duplicate key (campaign, date, creative, audience) = {key}, "
            f"same as row {first_row[i] + 1}"
        )
        found.append((int(i), order["date"], InputProblem(int(i) + 1, "date", rule, key)))
    return found
