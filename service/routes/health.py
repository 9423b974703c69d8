"""Liveness and readiness; no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ..db import Database
from ..deps import database
from ..schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="The process is up")
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=HealthOut,
    summary="The database answers",
    responses={503: {"model": HealthOut, "description": "The database does not answer"}},
)
def readyz(db: Database = Depends(database)) -> HealthOut | JSONResponse:  # noqa: B008
    if not db.ping():
        return JSONResponse(
            HealthOut(status="unavailable", database=db.dialect).model_dump(), status_code=503
        )
    return HealthOut(status="ok", database=db.dialect, revision=db.revision())
