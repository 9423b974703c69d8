"""Read an ad platform's report export, as it comes, into the stats table.

Handled: UTF-8 with or without BOM and UTF-16 (with BOM, or little-endian without);
comma, semicolon or tab separators; title lines above the header and "Total" rows
below it; decimal commas, thousands separators, currency symbols and "--" for an
empty metric (read as 0: the platform shows it where nothing happened); the
platform's date formats; headers in the platform's languages. Anything else is an
error that names the line and the rule, and nothing is imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import optimizer

from .presets import PRESETS, REQUIRED, Preset, normalise

__all__ = ["ImportResult", "InvalidExportError", "UnknownLayoutError", "import_export"]

_SEPARATORS = (",", ";", "\t")
_EMPTY = {"", "--", "—", "–", "-", "n/a", "нет данных"}
_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "₽": "RUB", "¥": "JPY", "руб": "RUB", "руб.": "RUB"}
_CURRENCY_IN_HEADER = re.compile(r"[,(]\s*([A-Z]{3}|[€$£₽¥]|руб\.?)\s*\)?\s*$")
_MONEY_JUNK = re.compile(r"[€$£₽¥]|руб\.?|[A-Z]{3}|\s|\u00a0|\u202f")


class InvalidExportError(optimizer.InvalidInputError):
    """A platform export that cannot be read as stats; nothing was imported."""

    what = "export"


class UnknownLayoutError(InvalidExportError):
    """No header of a known layout was found: the file is some other kind of export."""


@dataclass(frozen=True)
class ImportResult:
    """The stats of an export and how they were read.

    ``stats`` follows the data contract (validated). ``columns`` maps each stats
    field to the export's header it came from; ``lines`` gives each stats row's
    line in the file; ``notes`` say what was dropped or merged and why; ``n_duplicates``
    counts the identical repeated days that were merged.
    """

    stats: pd.DataFrame
    platform: str
    title: str
    currency: str | None
    columns: dict[str, str]
    lines: list[int]
    notes: list[str] = field(default_factory=list)
    n_duplicates: int = 0


def import_export(
    source: bytes | str | Path,
    *,
    platform: str = "auto",
    preset: Preset | None = None,
    conversions: str | None = None,
    revenue: str | None = None,
    name: str | None = None,
) -> ImportResult:
    """Read one report export into the stats table.

    Parameters
    ----------
    source : bytes or path
        The file as exported.
    platform : {"auto", "meta", "google", "tiktok", "vk"}
        Which layout; "auto" picks the preset whose columns the header holds.
    preset : Preset, optional
        A user's mapping (see :func:`preset_from_mapping`); overrides ``platform``.
    conversions, revenue : str, optional
        The export's column to count as conversions (revenue) when it has several,
        by header name.

    Raises
    ------
    InvalidExportError, InvalidStatsError
    """
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidExportError(
                [optimizer.InputProblem(None, None, f"cannot read {path}: {exc.strerror}")]
            ) from None
    else:
        data = source
    name = name or "export"
    text = _decode(data, name)
    lines = text.splitlines()
    candidates = [preset] if preset is not None else _candidates(platform)
    head_at, sep = _find_header(lines, candidates, name)
    rows = list(csv.reader(lines[head_at:], delimiter=sep))
    header, body = rows[0], rows[1:]
    chosen, columns = _choose(header, candidates, platform, conversions, revenue, name)
    return _convert(chosen, header, body, head_at, sep, columns, name)


def _candidates(platform: str) -> list[Preset]:
    if platform == "auto":
        return list(PRESETS.values())
    if platform not in PRESETS:
        raise optimizer.ConfigError(
            f"platform ({platform!r}) must be auto or one of {', '.join(PRESETS)}"
        )
    return [PRESETS[platform]]


def _decode(data: bytes, name: str) -> str:
    if not data.strip():
        raise InvalidExportError([optimizer.InputProblem(None, None, f"{name} is empty")])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif len(data) > 3 and data[1:200:2].count(0) > 0.4 * len(data[1:200:2]):
        encoding = "utf-16-le"  # UTF-16 without a byte order mark
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidExportError(
            [
                optimizer.InputProblem(
                    None,
                    None,
                    f"{name}: line {line} is not {encoding.upper()} text (byte "
                    f"{data[exc.start : exc.start + 1]!r}); export as UTF-8 or UTF-16",
                )
            ]
        ) from None


def _find_header(lines: list[str], candidates: list[Preset], name: str) -> tuple[int, str]:
    """The header is the line (within the first 30) and separator whose cells name the
    most known columns; title lines above it are skipped."""
    known = {a for p in candidates for f in p.columns for a in p.aliases(f)}
    best = (0, 0, ",")
    for i, line in enumerate(lines[:30]):
        for sep in _SEPARATORS:
            if sep not in line:
                continue
            cells = next(csv.reader([line], delimiter=sep))
            score = sum(normalise(c) in known for c in cells)
            if score > best[0]:
                best = (score, i, sep)
    if best[0] < 3:
        if len(candidates) == 1:
            wanted = ", ".join(repr(c[0]) for c in candidates[0].columns.values())
            looked = f"{candidates[0].title} columns such as {wanted}"
        else:
            looked = ", ".join(p.title for p in candidates) + " columns; for another layout "
            looked += "pass a --mapping"
        raise UnknownLayoutError(
            [
                optimizer.InputProblem(
                    None, None, f"{name}: no header row found in the first 30 lines ({looked})"
                )
            ]
        )
    return best[1], best[2]


def _choose(
    header: list[str],
    candidates: list[Preset],
    platform: str,
    conversions: str | None,
    revenue: str | None,
    name: str,
) -> tuple[Preset, dict[str, int]]:
    names = [normalise(h) for h in header]
    scored = []
    for preset in candidates:
        found: dict[str, int] = {}
        for f in preset.columns:
            for alias in preset.aliases(f):
                if alias in names:
                    found[f] = names.index(alias)
                    break
        missing = [f for f in REQUIRED if f not in found]
        scored.append((len(found) - 10 * len(missing), preset, found, missing))
    scored.sort(key=lambda s: -s[0])
    score, preset, found, missing = scored[0]
    for wanted, f in ((conversions, "conversions"), (revenue, "revenue")):
        if wanted is None:
            continue
        if normalise(wanted) not in names:
            options = ", ".join(repr(h) for h in header if h.strip())
            raise InvalidExportError(
                [optimizer.InputProblem(None, f, f"{name} has no column {wanted!r} ({options})")]
            )
        found[f] = names.index(normalise(wanted))
        missing = [m for m in missing if m != f]
    if missing:
        expected = "; ".join(
            f"{f}: one of {', '.join(repr(a) for a in preset.columns[f])}" for f in missing
        )
        what = (
            f"is not a {preset.title} export"
            if platform != "auto" or len(candidates) == 1
            else f"matches no platform (nearest: {preset.title})"
        )
        raise InvalidExportError(
            [optimizer.InputProblem(None, missing[0], f"{name} {what}: missing {expected}")]
        )
    if len(scored) > 1 and scored[1][0] == score and not scored[1][3]:
        raise InvalidExportError(
            [
                optimizer.InputProblem(
                    None,
                    None,
                    f"{name} fits both {preset.title} and {scored[1][1].title}: "
                    "choose one with --platform",
                )
            ]
        )
    return preset, found


def _convert(
    preset: Preset,
    header: list[str],
    body: list[list[str]],
    head_at: int,
    sep: str,
    columns: dict[str, int],
    name: str,
) -> ImportResult:
    problems: list[optimizer.InputProblem] = []
    notes: list[str] = []
    kept: list[list[str]] = []
    line_of: list[int] = []
    n_totals = 0
    for offset, row in enumerate(body, start=1):
        line = head_at + 1 + offset
        if not any(c.strip() for c in row):
            continue
        first = next((c.strip().lower() for c in row if c.strip()), "")
        if first.startswith(preset.totals):
            n_totals += 1
            continue
        if len(row) != len(header):
            problems.append(
                optimizer.InputProblem(
                    None,
                    None,
                    f"line {line}: {len(row)} fields where the header has {len(header)}",
                )
            )
            continue
        kept.append(row)
        line_of.append(line)
    if n_totals:
        notes.append(f"dropped {n_totals} total row(s)")
    if not kept and not problems:
        raise InvalidExportError(
            [optimizer.InputProblem(None, None, f"{name} has no data rows (only totals?)")]
        )
    if problems:
        raise InvalidExportError(problems)

    def cells(f: str) -> list[str]:
        return [r[columns[f]].strip() for r in kept]

    decimal_comma = preset.decimal_comma or sep == ";" or _looks_decimal_comma(kept, columns)
    out: dict[str, Any] = {}
    out["date"] = _dates(cells("date"), preset, line_of, problems)
    if "date" in columns and preset.name == "meta":
        _one_day_rows(header, kept, columns, line_of, problems)
    for f in ("creative", "audience"):
        out[f] = cells(f)
    out["campaign"] = cells("campaign") if "campaign" in columns else ["default"] * len(kept)
    for f in ("impressions", "clicks", "spend", "conversions", "revenue"):
        if f in columns:
            out[f] = _numbers(cells(f), f, decimal_comma, line_of, problems)
        else:
            out[f] = [0.0] * len(kept)
    currency = _currency(header, kept, columns, line_of, problems)
    _mixed_results(header, kept, columns, problems)
    if problems:
        raise InvalidExportError(problems)
    frame = pd.DataFrame(out)
    for f in ("impressions", "clicks"):
        whole = frame[f].to_numpy(float)
        bad = np.flatnonzero(whole != np.round(whole))
        problems += [
            optimizer.InputProblem(
                int(i) + 1, f, f"line {line_of[i]}: {f} ({whole[i]:g}) is not a whole number"
            )
            for i in bad
        ]
    if problems:
        raise InvalidExportError(problems)
    frame, line_of, merged = _duplicates(frame, line_of, problems)
    if problems:
        raise InvalidExportError(problems)
    if merged:
        notes.append(f"merged {merged} duplicated day(s) that repeated the same figures")
    frame["impressions"] = frame["impressions"].astype("int64")
    frame["clicks"] = frame["clicks"].astype("int64")
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    stats = optimizer.validate_stats(frame)
    used = {f: header[i] for f, i in columns.items()}
    return ImportResult(stats, preset.name, preset.title, currency, used, line_of, notes, merged)


def _looks_decimal_comma(rows: list[list[str]], columns: dict[str, int]) -> bool:
    """A comma followed by other than three digits ('12,5') can only be a decimal mark."""
    pattern = re.compile(r",\d{1,2}$|,\d{4,}$")
    for f in ("spend", "revenue", "conversions"):
        if f in columns and any(pattern.search(r[columns[f]].strip()) for r in rows):
            return True
    return False


def _numbers(
    values: list[str],
    f: str,
    decimal_comma: bool,
    line_of: list[int],
    problems: list[optimizer.InputProblem],
) -> list[float]:
    out = []
    for i, raw in enumerate(values):
        text = raw.strip().lower()
        if text in _EMPTY:
            out.append(0.0)
            continue
        text = _MONEY_JUNK.sub("", raw.strip())
        if decimal_comma:
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
        try:
            value = float(text)
        except ValueError:
            problems.append(
                optimizer.InputProblem(
                    i + 1, f, f"line {line_of[i]}: {f} ({raw!r}) is not a number", raw
                )
            )
            out.append(0.0)
            continue
        if not np.isfinite(value) or value < 0:
            problems.append(
                optimizer.InputProblem(
                    i + 1, f, f"line {line_of[i]}: {f} ({raw!r}) must be >= 0", raw
                )
            )
        out.append(value)
    return out


def _dates(
    values: list[str], preset: Preset, line_of: list[int], problems: list[optimizer.InputProblem]
) -> pd.Series:
    """The first of the preset's formats that reads every date; else each bad one named."""
    series = pd.Series(values, dtype=object)
    for fmt in preset.date_formats:
        parsed = pd.to_datetime(series, format=fmt, errors="coerce")
        if parsed.notna().all():
            return parsed
    best = max(
        (pd.to_datetime(series, format=fmt, errors="coerce") for fmt in preset.date_formats),
        key=lambda p: int(p.notna().sum()),
    )
    like = " or ".join(dt.date(2026, 11, 27).strftime(f) for f in preset.date_formats)
    for i in np.flatnonzero(best.isna().to_numpy()):
        problems.append(
            optimizer.InputProblem(
                int(i) + 1,
                "date",
                f"line {line_of[i]}: date ({values[i]!r}) is not a {preset.title} date "
                f"(like {like})",
                values[i],
            )
        )
    return best


def _one_day_rows(
    header: list[str],
    rows: list[list[str]],
    columns: dict[str, int],
    line_of: list[int],
    problems: list[optimizer.InputProblem],
) -> None:
    names = [normalise(h) for h in header]
    if "reporting starts" in names and "reporting ends" in names:
        start, end = names.index("reporting starts"), names.index("reporting ends")
        for i, r in enumerate(rows):
            if r[start].strip() != r[end].strip():
                problems.append(
                    optimizer.InputProblem(
                        i + 1,
                        "date",
                        f"line {line_of[i]}: covers {r[start]} to {r[end]}, not one day; "
                        "export with the breakdown Time > Day",
                    )
                )
                return


def _currency(
    header: list[str],
    rows: list[list[str]],
    columns: dict[str, int],
    line_of: list[int],
    problems: list[optimizer.InputProblem],
) -> str | None:
    found: dict[str, int] = {}
    if "currency" in columns:
        for i, r in enumerate(rows):
            code = r[columns["currency"]].strip().upper()
            if code:
                found.setdefault(_SYMBOLS.get(code.lower(), code), line_of[i])
    for f in ("spend", "revenue"):
        if f in columns:
            m = _CURRENCY_IN_HEADER.search(header[columns[f]])
            if m:
                code = m.group(1)
                found.setdefault(_SYMBOLS.get(code.lower(), _SYMBOLS.get(code, code)), 0)
    if len(found) > 1:
        problems.append(
            optimizer.InputProblem(
                None,
                "currency",
                f"the export mixes currencies ({', '.join(sorted(found))}); a campaign has "
                "one currency: export each account separately",
            )
        )
        return None
    return next(iter(found), None)


def _mixed_results(
    header: list[str],
    rows: list[list[str]],
    columns: dict[str, int],
    problems: list[optimizer.InputProblem],
) -> None:
    """Meta's 'Results' counts a different action per ad set ('Result indicator')."""
    names = [normalise(h) for h in header]
    if normalise(header[columns["conversions"]]) != "results":
        return
    for indicator in ("result indicator", "result type"):
        if indicator in names:
            kinds = sorted({r[names.index(indicator)].strip() for r in rows} - {""})
            if len(kinds) > 1:
                problems.append(
                    optimizer.InputProblem(
                        None,
                        "conversions",
                        f"'Results' counts different actions ({', '.join(kinds[:4])}); "
                        "name the one to use, e.g. --conversions Purchases",
                    )
                )


def _duplicates(
    frame: pd.DataFrame, line_of: list[int], problems: list[optimizer.InputProblem]
) -> tuple[pd.DataFrame, list[int], int]:
    key = ["campaign", "date", "creative", "audience"]
    repeated = frame.duplicated(key, keep=False)
    if not repeated.any():
        return frame, line_of, 0
    exact = frame.duplicated(keep="first")
    for _, group in frame[repeated].groupby(key, sort=False):
        if len(group.drop_duplicates()) > 1:
            lines = ", ".join(str(line_of[i]) for i in group.index)
            c, d, cr, a = (group.iloc[0][k] for k in key)
            problems.append(
                optimizer.InputProblem(
                    int(group.index[1]) + 1,
                    "date",
                    f"lines {lines}: {d:%Y-%m-%d} of ({cr}, {a}) appears with different figures",
                )
            )
    keep = ~exact.to_numpy()
    return (
        frame[keep].reset_index(drop=True),
        [line for line, k in zip(line_of, keep, strict=True) if k],
        int(exact.sum()),
    )


def read_mapping(path: str | Path) -> Mapping[str, Any]:
    """Parse a YAML mapping file (see :func:`preset_from_mapping`)."""
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise optimizer.ConfigError(f"cannot read mapping {path}: {exc}") from None
    if not isinstance(values, Mapping):
        raise optimizer.ConfigError(f"mapping {path}: expected a YAML mapping at the top")
    return values
