"""One module per resource; each exposes ``router``."""

from __future__ import annotations

import math
from typing import Any

from ..schemas import ErrorOut

_WHY = {
    400: "The body is not valid JSON or multipart",
    401: "Missing, unknown or revoked API key",
    403: "The key's role may not do this",
    404: "No such id",
    409: "Conflicts with what is stored",
    413: "Upload too large",
    415: "Unsupported content type",
    422: "Invalid input: each problem names the row, field and rule",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can return."""
    return {code: {"model": ErrorOut, "description": _WHY[code]} for code in codes}


READ = errors(401, 403, 404, 422)
WRITE = errors(400, 401, 403, 404, 409, 422)


def json_value(value: Any) -> Any:
    """A numpy scalar as a plain Python value; NaN and infinities as None (JSON null)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
