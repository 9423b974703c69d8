"""Errors raised by adbandit.

Every error derives from :class:`AdbanditError` and from the builtin it refines, so
``except ValueError`` keeps working for callers who do not know our classes. The
service maps these classes to HTTP status codes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AdbanditError",
    "AllocationError",
    "ConfigError",
    "InputProblem",
    "InvalidInputError",
    "InvalidStatsError",
    "StatsWarning",
]

#: How many problems an error message lists before it summarises the rest.
MAX_LISTED_PROBLEMS = 20


class AdbanditError(Exception):
    """Base class of every error adbandit raises on purpose."""


class ConfigError(AdbanditError, ValueError):
    """A setting is out of range or unknown."""


@dataclass(frozen=True)
class InputProblem:
    """One broken rule in one row of a table.

    ``row`` counts data rows from 1 (a CSV's header is not a row, so row 1 is the
    file's line 2); ``None`` means the problem concerns the whole table.
    """

    row: int | None
    column: str | None
    rule: str
    value: object = None

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "table"
        return f"{where}: {self.rule}"

    def to_dict(self) -> dict[str, object]:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        return {"row": self.row, "column": self.column, "rule": self.rule, "value": value}


class InvalidInputError(AdbanditError, ValueError):
    """A table handed to adbandit breaks its contract.

    ``problems`` holds every broken rule found (all of them, not only the first);
    the message lists the first :data:`MAX_LISTED_PROBLEMS`.
    """

    what = "input"

    def __init__(self, problems: list[InputProblem]) -> None:
        if not problems:
            raise ValueError("an InvalidInputError needs at least one problem")
        self.problems = list(problems)
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.problems)
        rows = {p.row for p in self.problems if p.row is not None}
        head = f"invalid {self.what}: {n} problem{'s' if n != 1 else ''}"
        if rows:
            head += f" in {len(rows)} row{'s' if len(rows) != 1 else ''}"
        lines = [head]
        lines += [f"  {p}" for p in self.problems[:MAX_LISTED_PROBLEMS]]
        if n > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {n - MAX_LISTED_PROBLEMS} more")
        return "\n".join(lines)


class InvalidStatsError(InvalidInputError):
    """The daily per-arm stats table breaks the data contract (DESIGN.md)."""

    what = "stats"


class AllocationError(AdbanditError, ValueError):
    """The allocation constraints cannot all hold; the message names the one that fails."""


class StatsWarning(UserWarning):
    """Something in the input was ignored (e.g. unknown columns); nothing was changed."""
