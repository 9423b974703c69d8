"""Raw click and conversion logs -> the daily arm stats and the delay model's inputs.

One aggregation, three engines that must give the same answer:

- ``pandas``: the reference, in memory (:func:`aggregate_frames`).
- ``duckdb``: SQL over the files, in process; the fastest on one machine (measured in
  ``benchmarks/log_aggregation.py``), so ``engine="auto"`` picks it without a scheduler.
- ``dask``: dask.dataframe over partitions, on a LocalCluster or the cluster at
  ``scheduler``; memory stays bounded by the partition size, not the data.

Logs (Parquet or CSV; a file, a folder, a glob or any fsspec URL):

- clicks: ``click_id, time, creative, audience`` and optionally ``campaign``, ``cost``
- conversions: ``click_id, time`` and optionally ``value``
- optional arm-day table: ``date, creative, audience`` (``campaign``) with
  ``impressions`` and/or ``spend``; its spend (the platform's bill) replaces summed
  click costs where given, and its arm-days without clicks appear with 0 clicks.

A conversion counts on its click's day (the day the money was spent), for the click's
arm. Conversions whose click_id is not in the click logs, or that come before their
click, are left out and counted. Money is rounded to 1e-6 so that every engine's
sums agree exactly whatever their order of addition.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import optimizer

__all__ = ["ENGINES", "Aggregated", "aggregate_frames", "aggregate_logs", "write_synthetic_logs"]

ENGINES = ("auto", "pandas", "duckdb", "dask")
KEY = ["campaign", "date", "creative", "audience"]
DAY = np.timedelta64(1, "D")

Source = str | Path | Sequence[str | Path]


@dataclass(frozen=True)
class Aggregated:
    """The stats table (data contract) and what the delay model needs.

    ``lags``: conversions by ``campaign, click_date, lag_days`` (whole days from click
    to conversion). ``windows``: per ``campaign, click_date`` the clicks and how many
    days of conversions could have been seen (``observed_until - click_date``), the
    censoring information. ``n_unmatched`` / ``n_before_click``: conversions left out.
    """

    stats: pd.DataFrame
    lags: pd.DataFrame
    windows: pd.DataFrame
    observed_until: pd.Timestamp
    n_unmatched: int
    n_before_click: int
    engine: str


def aggregate_frames(
    clicks: pd.DataFrame,
    conversions: pd.DataFrame,
    arm_days: pd.DataFrame | None = None,
    *,
    observed_until: pd.Timestamp | str | None = None,
) -> Aggregated:
    """The pandas reference implementation, on tables in memory."""
    c = _clicks(clicks)
    v = _conversions(conversions)
    until = _until(observed_until, c["time"].max(), v["time"].max())
    joined = v.merge(c, on="click_id", how="left", suffixes=("", "_click"))
    unknown = joined["time_click"].isna()
    early = ~unknown & (joined["time"] < joined["time_click"])
    m = joined[~unknown & ~early]
    m = m.assign(
        date=m["time_click"].dt.floor("D"),
        lag_days=((m["time"] - m["time_click"]) // pd.Timedelta(days=1)).astype("int64"),
    )
    per_click = (
        c.assign(date=c["time"].dt.floor("D"))
        .groupby(KEY, sort=False)
        .agg(clicks=("click_id", "size"), cost=("cost", "sum"))
        .reset_index()
    )
    per_conv = (
        m.groupby(KEY, sort=False)
        .agg(conversions=("click_id", "size"), revenue=("value", "sum"))
        .reset_index()
    )
    lags = (
        m.groupby(["campaign", "date", "lag_days"], sort=False)
        .size()
        .rename("conversions")
        .reset_index()
    )
    return _finish(
        per_click, per_conv, lags, arm_days, until, int(unknown.sum()), int(early.sum()), "pandas"
    )


def aggregate_logs(
    clicks: Source,
    conversions: Source,
    arm_days: Source | pd.DataFrame | None = None,
    *,
    engine: str = "auto",
    scheduler: str | None = None,
    workers: int = 2,
    observed_until: pd.Timestamp | str | None = None,
) -> Aggregated:
    """Aggregate log files with ``engine``; see the module docstring."""
    if engine not in ENGINES:
        raise optimizer.ConfigError(f"engine ({engine!r}) must be one of {', '.join(ENGINES)}")
    if engine == "auto":
        engine = "dask" if scheduler else "duckdb"
    table = arm_days if isinstance(arm_days, pd.DataFrame) or arm_days is None else _read(arm_days)
    if engine == "pandas":
        return aggregate_frames(
            _read(clicks), _read(conversions), table, observed_until=observed_until
        )
    if engine == "duckdb":
        return _duckdb(clicks, conversions, table, observed_until)
    return _dask(clicks, conversions, table, observed_until, scheduler, workers)


# -- shared steps ------------------------------------------------------------------------


def _paths(source: Source) -> list[str]:
    items = [source] if isinstance(source, str | Path) else list(source)
    out: list[str] = []
    for item in items:
        text = str(item)
        if "://" in text:
            out.append(text)
        elif Path(text).is_dir():
            out += sorted(str(p) for p in Path(text).rglob("*") if p.suffix in (".parquet", ".csv"))
        elif any(ch in text for ch in "*?["):
            out += sorted(glob.glob(text, recursive=True))
        else:
            out.append(text)
    if not out:
        raise optimizer.InvalidInputError(
            [optimizer.InputProblem(None, None, f"no log files at {source}")]
        )
    return out


def _read(source: Source) -> pd.DataFrame:
    frames = []
    for path in _paths(source):
        if path.endswith(".csv"):
            frames.append(pd.read_csv(path))
        else:
            frames.append(pd.read_parquet(path))
    return pd.concat(frames, ignore_index=True)


def _clicks(frame: pd.DataFrame) -> pd.DataFrame:
    _require(frame.columns, ("click_id", "time", "creative", "audience"), "click log")
    out = pd.DataFrame(
        {
            "click_id": frame["click_id"].astype(str),
            "time": pd.to_datetime(frame["time"], format="ISO8601").astype("datetime64[ns]"),
            "creative": frame["creative"].astype(str),
            "audience": frame["audience"].astype(str),
            "campaign": frame["campaign"].astype(str) if "campaign" in frame else "default",
            "cost": frame["cost"].astype(float) if "cost" in frame else 0.0,
        }
    )
    return out


def _conversions(frame: pd.DataFrame) -> pd.DataFrame:
    _require(frame.columns, ("click_id", "time"), "conversion log")
    return pd.DataFrame(
        {
            "click_id": frame["click_id"].astype(str),
            "time": pd.to_datetime(frame["time"], format="ISO8601").astype("datetime64[ns]"),
            "value": frame["value"].astype(float) if "value" in frame else 0.0,
        }
    )


def _require(have: Iterable[str], columns: Sequence[str], what: str) -> None:
    present = set(have)
    missing = [c for c in columns if c not in present]
    if missing:
        raise optimizer.InvalidInputError(
            [
                optimizer.InputProblem(None, m, f"{what}: required column {m!r} is missing")
                for m in missing
            ]
        )


def _until(given: Any, *latest: Any) -> pd.Timestamp:
    if given is not None:
        return pd.Timestamp(given)
    return pd.Timestamp(max(pd.Timestamp(t) for t in latest if pd.notna(t)))


def _finish(
    per_click: pd.DataFrame,
    per_conv: pd.DataFrame,
    lags: pd.DataFrame,
    arm_days: pd.DataFrame | None,
    until: pd.Timestamp,
    n_unmatched: int,
    n_early: int,
    engine: str,
) -> Aggregated:
    """Common tail of every engine: join the pieces, the arm-day table, round, sort."""
    for frame in (per_click, per_conv, lags):
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
        frame["campaign"] = frame["campaign"].astype(str)
    stats = per_click.merge(per_conv, on=KEY, how="outer")
    if arm_days is not None:
        table = arm_days.copy()
        _require(table.columns, ("date", "creative", "audience"), "arm-day table")
        table["campaign"] = table["campaign"].astype(str) if "campaign" in table else "default"
        table["date"] = pd.to_datetime(table["date"]).astype("datetime64[ns]")
        table = table[[*KEY, *[c for c in ("impressions", "spend") if c in table]]]
        stats = stats.merge(table, on=KEY, how="outer")
    if "spend" not in stats:
        stats["spend"] = np.nan
    if "impressions" not in stats:
        stats["impressions"] = 0
    stats["spend"] = stats["spend"].fillna(stats["cost"]).fillna(0.0)
    stats = stats.fillna({"clicks": 0, "conversions": 0, "revenue": 0.0, "impressions": 0})
    out = pd.DataFrame(
        {
            "campaign": stats["campaign"],
            "date": stats["date"].dt.strftime("%Y-%m-%d"),
            "creative": stats["creative"].astype(str),
            "audience": stats["audience"].astype(str),
            "impressions": stats["impressions"].astype("int64"),
            "clicks": stats["clicks"].astype("int64"),
            "spend": stats["spend"].astype(float).round(6),
            "conversions": stats["conversions"].astype(float),
            "revenue": stats["revenue"].astype(float).round(6),
        }
    ).sort_values(KEY, kind="stable", ignore_index=True)
    validated = optimizer.validate_stats(out)
    lags = (
        lags.rename(columns={"date": "click_date"})
        .astype({"lag_days": "int64", "conversions": "int64"})
        .sort_values(["campaign", "click_date", "lag_days"], ignore_index=True)
    )[["campaign", "click_date", "lag_days", "conversions"]]
    windows = (
        validated.groupby(["campaign", "date"], sort=True)["clicks"]
        .sum()
        .reset_index()
        .rename(columns={"date": "click_date"})
    )
    windows["window_days"] = (until - windows["click_date"]) / pd.Timedelta(days=1)
    return Aggregated(validated, lags, windows, until, n_unmatched, n_early, engine)


# -- DuckDB ------------------------------------------------------------------------------


def _duckdb(
    clicks: Source, conversions: Source, arm_days: pd.DataFrame | None, observed_until: Any
) -> Aggregated:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET enable_progress_bar = false")  # it would print to stdout

    def relation(source: Source) -> str:
        paths = _paths(source)
        reader = "read_csv" if all(p.endswith(".csv") for p in paths) else "read_parquet"
        options = ", header = true" if reader == "read_csv" else ""
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        return f"{reader}([{listed}]{options})"

    c_cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation(clicks)}").fetchall()}
    v_cols = {
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation(conversions)}").fetchall()
    }
    for need, have, what in (
        (("click_id", "time", "creative", "audience"), c_cols, "click log"),
        (("click_id", "time"), v_cols, "conversion log"),
    ):
        _require(have, need, what)
    campaign = "CAST(campaign AS VARCHAR)" if "campaign" in c_cols else "'default'"
    cost = "CAST(cost AS DOUBLE)" if "cost" in c_cols else "0.0"
    value = "CAST(value AS DOUBLE)" if "value" in v_cols else "0.0"
    con.execute(
        f"""CREATE TEMP VIEW c AS SELECT CAST(click_id AS VARCHAR) AS click_id,
            CAST(time AS TIMESTAMP) AS time, CAST(creative AS VARCHAR) AS creative,
            CAST(audience AS VARCHAR) AS audience, {campaign} AS campaign, {cost} AS cost
            FROM {relation(clicks)}"""
    )
    con.execute(
        f"""CREATE TEMP TABLE v AS SELECT CAST(click_id AS VARCHAR) AS click_id,
            CAST(time AS TIMESTAMP) AS time, {value} AS value FROM {relation(conversions)}"""
    )
    con.execute(
        """CREATE TEMP TABLE j AS SELECT v.time AS time, v.value AS value, c.time AS time_click,
           c.campaign, c.creative, c.audience FROM v LEFT JOIN c USING (click_id)"""
    )
    per_click = con.execute(
        """SELECT campaign, date_trunc('day', time) AS date, creative, audience,
           count(*) AS clicks, sum(cost) AS cost FROM c GROUP BY ALL"""
    ).df()
    matched = "time_click IS NOT NULL AND time >= time_click"
    per_conv = con.execute(
        f"""SELECT campaign, date_trunc('day', time_click) AS date, creative, audience,
            count(*) AS conversions, sum(value) AS revenue FROM j WHERE {matched} GROUP BY ALL"""
    ).df()
    lags = con.execute(
        f"""SELECT campaign, date_trunc('day', time_click) AS date,
            CAST(floor(epoch(time - time_click) / 86400) AS BIGINT) AS lag_days,
            count(*) AS conversions FROM j WHERE {matched} GROUP BY ALL"""
    ).df()
    n_unmatched, n_early, last_v = con.execute(
        """SELECT count(*) FILTER (WHERE time_click IS NULL),
           count(*) FILTER (WHERE time < time_click), max(time) FROM j"""
    ).fetchone() or (0, 0, None)
    last_c = con.execute("SELECT max(time) FROM c").fetchone()
    until = _until(observed_until, last_c[0] if last_c else None, last_v)
    con.close()
    return _finish(
        per_click, per_conv, lags, arm_days, until, int(n_unmatched), int(n_early), "duckdb"
    )


# -- Dask --------------------------------------------------------------------------------


def _dask(
    clicks: Source,
    conversions: Source,
    arm_days: pd.DataFrame | None,
    observed_until: Any,
    scheduler: str | None,
    workers: int,
) -> Aggregated:
    import dask.dataframe as dd

    from .cluster import dask_client

    def read(source: Source) -> Any:
        paths = _paths(source)
        if all(p.endswith(".csv") for p in paths):
            return dd.read_csv(paths, dtype=str)
        return dd.read_parquet(paths)

    memory = os.environ.get("ADBANDIT_DASK_MEMORY", "auto")  # per worker, e.g. "1GB"
    with dask_client(scheduler, workers, memory_limit=memory) as client:
        c = read(clicks).map_partitions(_clicks, meta=_clicks(_empty_clicks()))
        # Conversions are a few percent of clicks: gathered once, indexed by click_id and
        # sent to every worker, where each click partition joins against that one index
        # (built once per worker), so the click logs are never shuffled.
        v_local = _conversions(read(conversions).compute())
        [v_index] = client.scatter([_ConversionIndex(v_local)], broadcast=True)
        per_click = (
            c.assign(date=c["time"].dt.floor("D"), n=1)
            .groupby(KEY)[["n", "cost"]]
            .sum(split_out=1)
            .rename(columns={"n": "clicks"})
            .reset_index()
        )
        j = c[["click_id", "time", "campaign", "creative", "audience"]].map_partitions(
            _join_conversions,
            v_index,
            meta=_join_conversions(_empty_clicks(), _ConversionIndex(_empty_conversions())),
        )
        n_joined = j.shape[0]
        j = j[j["time"] >= j["time_click"]]
        j = j.assign(
            date=j["time_click"].dt.floor("D"),
            lag_days=((j["time"] - j["time_click"]) // pd.Timedelta(days=1)).astype("int64"),
            n=1,
        )
        per_conv = (
            j.groupby(KEY)[["n", "value"]]
            .sum(split_out=1)
            .rename(columns={"n": "conversions", "value": "revenue"})
            .reset_index()
        )
        lags = (
            j.groupby(["campaign", "date", "lag_days"])["n"]
            .sum(split_out=1)
            .rename("conversions")
            .reset_index()
        )
        per_click, per_conv, lags, n_joined, latest_click = dd.compute(
            per_click, per_conv, lags, n_joined, c["time"].max()
        )
    n_conv = len(v_local)
    latest_conv = v_local["time"].max() if n_conv else None
    n_matched = int(per_conv["conversions"].sum()) if len(per_conv) else 0
    until = _until(observed_until, latest_click, latest_conv)
    return _finish(
        per_click,
        per_conv,
        lags,
        arm_days,
        until,
        int(n_conv) - int(n_joined),
        int(n_joined) - n_matched,
        "dask",
    )


class _ConversionIndex:
    """Conversions grouped by click_id behind a unique index, so each click partition finds
    its conversions by hashing only its own ids (the index's hash table is built once per
    worker), not the whole conversion table again."""

    def __init__(self, conversions: pd.DataFrame) -> None:
        ordered = conversions.sort_values("click_id", kind="stable")
        ids, self.starts, self.counts = np.unique(
            ordered["click_id"].to_numpy(dtype=object), return_index=True, return_counts=True
        )
        self.index = pd.Index(ids)
        self.time = ordered["time"].to_numpy()
        self.value = ordered["value"].to_numpy(float)


def _join_conversions(part: pd.DataFrame, conversions: _ConversionIndex) -> pd.DataFrame:
    """One click partition joined to its conversions (every conversion of every click)."""
    pos = conversions.index.get_indexer(part["click_id"].to_numpy(dtype=object))
    rows = np.flatnonzero(pos >= 0)
    found = pos[rows]
    n = conversions.counts[found]
    left = np.repeat(rows, n)
    offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    right = np.repeat(conversions.starts[found], n) + offset
    out = part.iloc[left][["campaign", "creative", "audience"]].reset_index(drop=True)
    out["time_click"] = part["time"].to_numpy()[left]
    out["time"] = conversions.time[right]
    out["value"] = conversions.value[right]
    return out


def _empty_clicks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "click_id": pd.Series(dtype=str),
            "time": pd.Series(dtype="datetime64[ns]"),
            "creative": pd.Series(dtype=str),
            "audience": pd.Series(dtype=str),
            "campaign": pd.Series(dtype=str),
            "cost": pd.Series(dtype=float),
        }
    )


def _empty_conversions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "click_id": pd.Series(dtype=str),
            "time": pd.Series(dtype="datetime64[ns]"),
            "value": pd.Series(dtype=float),
        }
    )


def write_synthetic_logs(
    folder: str | Path,
    n_clicks: int,
    *,
    seed: int = 0,
    n_days: int = 10,
    n_arms: int = 12,
    conversion_rate: float = 0.05,
    mean_lag_days: float = 2.0,
    skew: float = 0.5,
    fmt: str = "parquet",
    chunk: int = 2_000_000,
) -> tuple[int, int]:
    """Write click and conversion logs partitioned by day (``clicks/day=YYYY-MM-DD/``,
    ``conversions/day=.../``, a conversion filed under the day it happened, so late ones
    land in later files) for tests and benchmarks; returns (clicks, conversions) written.

    ``skew`` is the share of clicks in campaign "big" (the rest spread over "small-*").
    Written ``chunk`` clicks at a time, so memory stays flat for any ``n_clicks``.
    """
    rng = np.random.default_rng(seed)
    root = Path(folder)
    start = np.datetime64("2026-03-01T00:00:00")
    written = [0, 0]
    part = 0
    for offset in range(0, n_clicks, chunk):
        n = min(chunk, n_clicks - offset)
        t = start + rng.uniform(0, n_days * 86400, n).astype("timedelta64[s]")
        arm = rng.integers(0, n_arms, n)
        big = rng.random(n) < skew
        campaign = np.where(big, "big", np.char.add("small-", (arm % 3).astype(str)))
        clicks = pd.DataFrame(
            {
                "click_id": np.char.add("k", np.arange(offset, offset + n).astype(str)),
                "time": t,
                "creative": np.char.add("cr", (arm % 4).astype(str)),
                "audience": np.char.add("au", (arm // 4).astype(str)),
                "campaign": campaign,
                "cost": rng.uniform(0.1, 2.0, n).round(4),
            }
        )
        hit = rng.random(n) < conversion_rate
        lag = rng.exponential(mean_lag_days * 86400, int(hit.sum())).astype("timedelta64[s]")
        conversions = pd.DataFrame(
            {
                "click_id": clicks["click_id"].to_numpy()[hit],
                "time": t[hit] + lag,
                "value": rng.gamma(2.0, 20.0, int(hit.sum())).round(2),
            }
        )
        for name, frame in (("clicks", clicks), ("conversions", conversions)):
            for day, rows in frame.groupby(frame["time"].dt.floor("D")):
                target = root / name / f"day={day:%Y-%m-%d}"
                target.mkdir(parents=True, exist_ok=True)
                if fmt == "csv":
                    rows.to_csv(target / f"part-{part:05d}.csv", index=False)
                else:
                    rows.to_parquet(target / f"part-{part:05d}.parquet", index=False)
        written[0] += n
        written[1] += len(conversions)
        part += 1
    return written[0], written[1]
