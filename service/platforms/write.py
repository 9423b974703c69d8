"""Write in a platform's layout: stats as the platform's report (the import's round trip)
and an approved split as the platform's bulk-edit columns."""

from __future__ import annotations

import csv
import io

import pandas as pd

from .presets import PRESETS, Preset

__all__ = ["render_report", "split_for_platform"]


def _number(value: float, preset: Preset, decimals: int = 2) -> str:
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if preset.decimal_comma else text


def _encode(rows: list[list[str]], preset: Preset, title: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    for line in title or []:
        buffer.write(line + "\r\n")
    csv.writer(buffer, delimiter=preset.export_separator, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(preset.export_encoding)


def render_report(stats: pd.DataFrame, platform: str, currency: str = "EUR") -> bytes:
    """Validated stats as the platform's day-by-day report export (header names, date
    format, separator, encoding, Google's title lines and totals rows, VK's decimal
    commas and "Итого" row)."""
    preset = PRESETS[platform]
    fields = ["date", "campaign", "audience", "creative", "impressions", "clicks", "spend",
              "conversions", "revenue"]  # fmt: skip
    header = [preset.columns[f][0] for f in fields]
    if platform in ("meta", "tiktok", "google"):
        header.append(preset.columns["currency"][0])
    rows = [header]
    for r in stats.itertuples():
        row = [
            r.date.strftime(preset.date_formats[0]),
            str(r.campaign),
            str(r.audience),
            str(r.creative),
            str(int(r.impressions)),
            str(int(r.clicks)),
            _number(float(r.spend), preset),
            _number(float(r.conversions), preset, 6).rstrip("0").rstrip(".,") or "0",
            _number(float(r.revenue), preset),
        ]
        if platform in ("meta", "tiktok", "google"):
            row.append(currency)
        rows.append(row)
    title = None
    if platform == "google":
        first, last = stats["date"].min(), stats["date"].max()
        title = ["Ad report", f"{first:%B %-d, %Y} - {last:%B %-d, %Y}"]
        total = ["Total: Account", "--", "--", "--", str(int(stats["impressions"].sum())),
                 str(int(stats["clicks"].sum())), _number(float(stats["spend"].sum()), preset),
                 "--", "--", currency]  # fmt: skip
        rows.append(total)
    if platform == "vk":
        rows.append(["Итого", "", "", "", str(int(stats["impressions"].sum())),
                     str(int(stats["clicks"].sum())), _number(float(stats["spend"].sum()), preset),
                     "", ""])  # fmt: skip
    return _encode(rows, preset, title)


def split_for_platform(
    split: pd.DataFrame, platform: str | None, campaign: str = ""
) -> tuple[bytes, str]:
    """An approved split (creative, audience, budget) in the platform's bulk-edit columns,
    with its media type; our own CSV layout when the platform is unknown.

    Budgets are per arm (ad x ad set); platforms that budget per ad set or campaign take
    the sum of their arms, which the file carries in one row per arm for review.
    """
    if platform is None or platform not in PRESETS:
        buffer = io.StringIO()
        split[["creative", "audience", "budget"]].to_csv(buffer, index=False)
        return buffer.getvalue().encode(), "text/csv"
    preset = PRESETS[platform]
    names = preset.export_columns
    rows = [[names["campaign"], names["audience"], names["creative"], names["budget"]]]
    for r in split.itertuples():
        rows.append([campaign, str(r.audience), str(r.creative), _number(float(r.budget), preset)])
    return _encode(rows, preset), "text/csv"
