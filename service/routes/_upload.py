"""Request body helpers shared by the routes that take uploads."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

import optimizer

__all__ = ["body_kind", "check_size", "read_file", "read_form", "unsupported", "upload_body"]


def upload_body(
    fields: dict[str, dict[str, Any]], required: list[str], json_model: str | None = None
) -> dict[str, Any]:
    """OpenAPI for a route that reads its body itself: multipart ``fields`` and, with
    ``json_model``, a JSON body of that component schema too."""
    content: dict[str, Any] = {}
    if json_model is not None:
        content["application/json"] = {"schema": {"$ref": f"#/components/schemas/{json_model}"}}
    content["multipart/form-data"] = {
        "schema": {"type": "object", "properties": fields, "required": required}
    }
    return {"requestBody": {"required": True, "content": content}}


def body_kind(request: Request, default: str = "application/json") -> str:
    """The body's media type (without parameters), once its size is known to be allowed."""
    check_size(request)
    return request.headers.get("content-type", default).split(";")[0].strip()


def check_size(request: Request) -> None:
    limit = request.app.state.settings.max_upload_mb * 1e6
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"upload is {int(length):,} bytes; the limit is {limit:,.0f}")


async def read_form(request: Request) -> FormData:
    try:
        return await request.form()
    except Exception as exc:  # malformed multipart body
        raise HTTPException(400, f"cannot read the multipart body: {exc}") from None


async def read_file(form: FormData, field: str) -> tuple[bytes, str]:
    item = form.get(field)
    if item is None:
        raise optimizer.InvalidInputError(
            [optimizer.InputProblem(None, field, f"multipart field {field!r} is missing")]
        )
    if isinstance(item, UploadFile):
        return await item.read(), item.filename or f"{field}.csv"
    return item.encode(), f"{field}.csv"


def unsupported(kind: str) -> Exception:
    return HTTPException(
        415, f"content type {kind!r}: send application/json or multipart/form-data"
    )
