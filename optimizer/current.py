"""The current split: what each arm spends now, and per-arm limits.

========== ====== ================================================
column     type   rule
========== ====== ================================================
creative   str    non-empty
audience   str    non-empty
budget     float  >= 0, finite: the arm's current spend per period
min_budget float  optional, >= 0: the arm may not get less
max_budget float  optional, >= min_budget: the arm may not get more
locked     bool   optional (true/false, yes/no, 1/0): keep ``budget`` exactly
========== ====== ================================================

When a current split is given, its arms are the arms of the recommendation: an arm
that is in the stats but not here is treated as retired, and an arm that is here
but not in the stats is new (its prior comes from its creative and audience).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputProblem, InvalidInputError

__all__ = ["InvalidCurrentError", "load_current"]

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}


class InvalidCurrentError(InvalidInputError):
    """The current split table breaks its contract."""

    what = "current split"


def load_current(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Load and validate a current split from a DataFrame or a CSV file.

    Returns columns ``creative, audience, budget, min_budget, max_budget, locked``
    (``max_budget`` is ``inf`` where not set).
    """
    if isinstance(source, pd.DataFrame):
        frame = source.astype(object)
    else:
        path = Path(source)
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InvalidCurrentError(
                [InputProblem(None, None, f"cannot read {path}: {msg}")]
            ) from None
    frame = frame.set_axis([str(c).strip() for c in frame.columns], axis=1)
    missing = [c for c in ("creative", "audience", "budget") if c not in frame]
    if missing:
        raise InvalidCurrentError(
            [InputProblem(None, c, f"required column {c!r} is missing") for c in missing]
        )
    problems: list[InputProblem] = []
    rows = []
    seen: dict[tuple[str, str], int] = {}
    for i, record in enumerate(frame.to_dict("records"), start=1):
        arm = []
        for col in ("creative", "audience"):
            text = "" if _blank(record[col]) else str(record[col]).strip()
            if not text:
                problems.append(InputProblem(i, col, f"{col} is empty"))
            arm.append(text)
        numbers: dict[str, float | None] = {}
        for col, required in (("budget", True), ("min_budget", False), ("max_budget", False)):
            raw = record.get(col)
            if _blank(raw):
                if required:
                    problems.append(InputProblem(i, col, f"{col} is missing"))
                numbers[col] = None
                continue
            value: float | None
            try:
                value = float(str(raw).strip()) if isinstance(raw, str) else float(raw)
            except (TypeError, ValueError):
                problems.append(InputProblem(i, col, f"{col} ({raw!r}) is not a number", raw))
                numbers[col] = None
                continue
            if not np.isfinite(value) or value < 0:
                problems.append(
                    InputProblem(i, col, f"{col} ({value}) must be >= 0 and finite", value)
                )
                value = None
            numbers[col] = value
        lo, hi = numbers["min_budget"], numbers["max_budget"]
        if lo is not None and hi is not None and lo > hi:
            problems.append(
                InputProblem(i, "max_budget", f"max_budget ({hi}) < min_budget ({lo})", hi)
            )
        raw_locked = record.get("locked", "")
        locked_text = "" if _blank(raw_locked) else str(raw_locked).strip().lower()
        if locked_text not in _TRUE | _FALSE:
            problems.append(
                InputProblem(
                    i, "locked", f"locked ({raw_locked!r}) must be true or false", raw_locked
                )
            )
        key = (arm[0], arm[1])
        if all(arm) and key in seen:
            problems.append(
                InputProblem(i, "creative", f"arm ({arm[0]}, {arm[1]}) repeats row {seen[key]}")
            )
        seen.setdefault(key, i)
        rows.append(
            {
                "creative": arm[0],
                "audience": arm[1],
                "budget": numbers["budget"] or 0.0,
                "min_budget": lo or 0.0,
                "max_budget": np.inf if hi is None else hi,
                "locked": locked_text in _TRUE,
            }
        )
    if not rows:
        problems.append(InputProblem(None, None, "the current split has no rows"))
    if problems:
        raise InvalidCurrentError(problems)
    return pd.DataFrame(rows)


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""
