"""Column layouts of the ad platforms' report exports, one :class:`Preset` each.

Each field lists the header names the platform uses for it (any case; spaces,
dots and a trailing "(EUR)"-style currency are ignored when matching). Where the
layouts come from:

- Meta Ads Manager: Ads Manager > Reports > Export table data (.csv), broken down
  by Time > Day; columns named as in the Meta Business Help Center's "About
  exporting Ads Manager data" and the metric glossary (Amount spent, Link clicks,
  Results, Purchases conversion value, Reporting starts / ends).
- Google Ads: Reports > Download > .csv ("Excel-compatible CSV" is UTF-16LE, tab
  separated) of an Ad report segmented by Day: a title line and a date-range line
  above the header and "Total: ..." rows below; metric names as in the Google Ads
  Help "Reporting columns" pages (Impr., Cost, Conversions, Conv. value).
- TikTok Ads Manager: Reporting > Custom report by Day > Export (.csv); metric names
  as in TikTok Business Help Center's "Metrics glossary" (Cost, Clicks (destination),
  Conversions, Total complete payment value / Purchase value).
- VK Ads (ads.vk.com): Statistics > Download report (.csv, ';' separated, decimal
  commas, dd.mm.yyyy dates), headers in the interface language: Russian or English.
- X Ads: Ads Manager > Campaigns > Export data, daily breakdown; metric names as in the
  X Business help "Campaign metrics" (Impressions, Link clicks, Spend, Conversions,
  Sale amount), ``Time period`` dates as YYYY-MM-DD or MM/DD/YYYY.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FIELDS", "PRESETS", "REQUIRED", "Preset", "normalise", "preset_from_mapping"]

#: the stats fields an export must provide (campaign and revenue are optional)
REQUIRED = ("date", "creative", "audience", "impressions", "clicks", "spend", "conversions")
FIELDS = ("date", "campaign", "creative", "audience", "impressions", "clicks", "spend",
          "conversions", "revenue", "currency")  # fmt: skip

_CURRENCY_SUFFIX = re.compile(r"\s*[,(]\s*([A-Z]{3}|[€$£₽¥]|руб\.?)\s*\)?\s*$")


def normalise(header: str) -> str:
    """'Amount spent (EUR)' -> 'amount spent'; case, dots, repeated spaces ignored."""
    text = _CURRENCY_SUFFIX.sub("", str(header).strip().lstrip("\ufeff"))
    text = text.lower().replace(".", "").replace("_", " ")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Preset:
    """How one platform names and formats its report columns.

    ``columns`` maps a stats field to header names in order of preference (for
    ``conversions`` and ``revenue`` the first one present is used unless the user
    names another). ``totals`` are first-cell prefixes of summary rows to drop.
    """

    name: str
    title: str
    columns: Mapping[str, tuple[str, ...]]
    date_formats: tuple[str, ...]
    totals: tuple[str, ...] = ("total", "итого", "всего")
    decimal_comma: bool = False
    export_columns: Mapping[str, str] = field(default_factory=dict)
    export_encoding: str = "utf-8"
    export_separator: str = ","
    doc: str = ""

    def aliases(self, name: str) -> tuple[str, ...]:
        return tuple(normalise(a) for a in self.columns.get(name, ()))


META = Preset(
    name="meta",
    title="Meta Ads Manager",
    columns={
        "date": ("Day", "Reporting starts"),
        "campaign": ("Campaign name",),
        "audience": ("Ad set name",),
        "creative": ("Ad name",),
        "impressions": ("Impressions",),
        "clicks": ("Link clicks", "Clicks (all)"),
        "spend": ("Amount spent",),
        "conversions": ("Results", "Purchases", "Website purchases", "Leads", "Adds to cart"),
        "revenue": (
            "Purchases conversion value",
            "Website purchases conversion value",
            "Purchase conversion value",
        ),
        "currency": ("Currency",),
    },
    date_formats=("%Y-%m-%d",),
    export_columns={
        "campaign": "Campaign Name",
        "audience": "Ad Set Name",
        "creative": "Ad Name",
        "budget": "Ad Set Daily Budget",
    },
    doc="Ads Manager > Reports > Export table data, breakdown Time > Day",
)

GOOGLE = Preset(
    name="google",
    title="Google Ads",
    columns={
        "date": ("Day", "Date"),
        "campaign": ("Campaign",),
        "audience": ("Ad group",),
        "creative": ("Ad", "Ad name", "Ad ID", "Headline 1"),
        "impressions": ("Impr.", "Impressions"),
        "clicks": ("Clicks",),
        "spend": ("Cost",),
        "conversions": ("Conversions", "All conv."),
        "revenue": ("Conv. value", "All conv. value"),
        "currency": ("Currency code", "Currency"),
    },
    date_formats=("%Y-%m-%d", "%b %d, %Y", "%a, %b %d, %Y", "%B %d, %Y"),
    export_columns={
        "campaign": "Campaign",
        "audience": "Ad group",
        "creative": "Ad",
        "budget": "Budget",
    },
    export_encoding="utf-16",
    export_separator="\t",
    doc="Reports > Download > CSV (UTF-16, tab separated), Ad report by Day",
)

TIKTOK = Preset(
    name="tiktok",
    title="TikTok Ads Manager",
    columns={
        "date": ("By Day", "Date", "Stat time day"),
        "campaign": ("Campaign name",),
        "audience": ("Ad group name",),
        "creative": ("Ad name",),
        "impressions": ("Impression", "Impressions"),
        "clicks": ("Clicks (destination)", "Clicks"),
        "spend": ("Cost", "Total cost"),
        "conversions": ("Conversions", "Complete payment", "Purchases"),
        "revenue": ("Total complete payment value", "Purchase value", "Total purchase value"),
        "currency": ("Currency",),
    },
    date_formats=("%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S"),
    export_columns={
        "campaign": "Campaign name",
        "audience": "Ad group name",
        "creative": "Ad name",
        "budget": "Budget",
    },
    doc="Reporting > Custom report by Day > Export",
)

VK = Preset(
    name="vk",
    title="VK Ads",
    columns={
        "date": ("Дата", "Date"),
        "campaign": ("Кампания", "Campaign"),
        "audience": ("Группа объявлений", "Группа", "Ad group"),
        "creative": ("Объявление", "Ad"),
        "impressions": ("Показы", "Impressions", "Shows"),
        "clicks": ("Клики", "Clicks"),
        "spend": ("Потрачено", "Расход", "Spent", "Spent, total"),
        "conversions": ("Конверсии", "Результаты", "Результат", "Conversions", "Results"),
        "revenue": ("Доход", "Ценность конверсий", "Revenue", "Conversion value"),
        "currency": ("Валюта", "Currency"),
    },
    date_formats=("%d.%m.%Y", "%Y-%m-%d"),
    decimal_comma=True,
    export_columns={
        "campaign": "Кампания",
        "audience": "Группа объявлений",
        "creative": "Объявление",
        "budget": "Дневной бюджет",
    },
    export_separator=";",
    doc="Статистика > Выгрузить отчёт (CSV; ';', decimal comma, dd.mm.yyyy)",
)

X = Preset(
    name="x",
    title="X Ads",
    columns={
        "date": ("Time period", "Date", "Day"),
        "campaign": ("Campaign name",),
        "audience": ("Ad Group name", "Ad group name", "Line item name"),
        "creative": ("Ad name", "Tweet name", "Creative name"),
        "impressions": ("Impressions",),
        "clicks": ("Link clicks", "Clicks"),
        "spend": ("Spend", "Billed charge"),
        "conversions": ("Conversions", "Purchases", "Site visits conversions"),
        "revenue": ("Sale amount", "Conversion value", "Purchase value"),
        "currency": ("Currency",),
    },
    date_formats=("%Y-%m-%d", "%m/%d/%Y"),
    export_columns={
        "campaign": "Campaign name",
        "audience": "Ad Group name",
        "creative": "Ad name",
        "budget": "Daily budget",
    },
    doc="Ads Manager > Campaigns > Export (CSV), broken down by day",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (META, GOOGLE, TIKTOK, VK, X)}


def preset_from_mapping(values: Mapping[str, Any], name: str = "custom") -> Preset:
    """A preset from a user's mapping (parsed YAML): ``columns: {field: header or [headers]}``,
    optional ``date_format`` (or ``date_formats``), ``decimal_comma``, ``title``."""
    from optimizer import ConfigError

    columns = values.get("columns")
    if not isinstance(columns, Mapping):
        raise ConfigError("mapping: 'columns' must map stats fields to header names")
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"mapping: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}"
        )
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise ConfigError(f"mapping: no header given for {', '.join(missing)}")
    formats = values.get("date_formats") or [values.get("date_format", "%Y-%m-%d")]
    return Preset(
        name=name,
        title=str(values.get("title", "custom mapping")),
        columns={
            k: (v,) if isinstance(v, str) else tuple(str(x) for x in v) for k, v in columns.items()
        },
        date_formats=tuple(str(f) for f in formats),
        decimal_comma=bool(values.get("decimal_comma", False)),
    )
