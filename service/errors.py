"""Errors the service raises on purpose; service.app maps each to one HTTP status."""

from __future__ import annotations

from optimizer import AdbanditError, InvalidInputError

__all__ = [
    "ConflictError",
    "ForbiddenError",
    "InvalidSplitError",
    "NotFoundError",
    "UnauthorizedError",
]


class NotFoundError(AdbanditError, LookupError):
    """An id that names nothing (HTTP 404)."""


class ConflictError(AdbanditError):
    """A write that clashes with what is stored, e.g. a taken name or a decided recommendation
    (HTTP 409)."""


class UnauthorizedError(AdbanditError):
    """No API key, or one that is unknown or revoked (HTTP 401)."""


class ForbiddenError(AdbanditError):
    """A valid key whose role may not do this (HTTP 403)."""


class InvalidSplitError(InvalidInputError):
    """An edited split that breaks the budget total or an arm's bounds (HTTP 422)."""

    what = "split"
