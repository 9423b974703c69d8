"""Ad platform exports in and out: Meta, Google Ads, TikTok and VK presets, a user's YAML
mapping for anything else, the data-quality report, and the approved split written back
in the platform's layout.

Quickstart::

    from service import platforms

    result = platforms.import_export("report.csv")          # platform detected
    result.stats                                           # the stats contract
    platforms.quality_report(result.stats).table()          # what looks wrong, and its effect
    platforms.split_for_platform(split, result.platform)    # bytes to upload in bulk
"""

from .presets import FIELDS, PRESETS, REQUIRED, Preset, preset_from_mapping
from .quality import QUALITY_COLUMNS, QualityReport, quality_report
from .read import (
    ImportResult,
    InvalidExportError,
    UnknownLayoutError,
    import_export,
    read_mapping,
)
from .write import render_report, split_for_platform

__all__ = [
    "FIELDS",
    "PRESETS",
    "QUALITY_COLUMNS",
    "REQUIRED",
    "ImportResult",
    "InvalidExportError",
    "Preset",
    "QualityReport",
    "UnknownLayoutError",
    "import_export",
    "preset_from_mapping",
    "quality_report",
    "read_mapping",
    "render_report",
    "split_for_platform",
]
