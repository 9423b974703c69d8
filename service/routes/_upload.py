"""Request body helpers shared by the routes that take uploads."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

import optimizer

__all__ = ["check_size", "read_file", "read_form", "unsupported"]


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
