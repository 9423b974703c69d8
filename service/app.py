"""The FastAPI app: ``create_app(settings)`` builds it; ``adbandit serve`` runs it.

Every error leaves as JSON ``{"detail": ..., "problems": [{row, field, rule, value}]}``
with one status per kind (see :data:`STATUS`); nothing leaks a stack trace.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import threadpoolctl
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import optimizer
from experiments import list_experiments

from . import web
from .db import Database
from .deps import KeyCache
from .engine import StatsCache
from .errors import ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from .routes import abtests, analytics, campaigns, experiments, health, keys, recommendations
from .schemas import EventsBatch, StatsBatch
from .settings import Settings
from .tracking_worker import RecommendationLogger

__all__ = ["STATUS", "create_app"]

log = logging.getLogger("adbandit.service")

#: error class -> HTTP status; the first match wins
STATUS: list[tuple[type[Exception], int]] = [
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (optimizer.AdbanditError, 422),
]

DESCRIPTION = """\
Budget recommendations for ad campaigns: stats in, a Thompson-sampling budget split
across creatives x audiences out, with a reason per arm, reviewed by people.

**Auth**: every route except `/healthz` and `/readyz` needs
`Authorization: Bearer <key>` (create one with `adbandit keys create --role ...`).
Roles, each including the ones before: `viewer` reads, `specialist` approves /
rejects / edits, `automation` ingests and asks for recommendations, `admin`
manages keys. A missing or bad key is 401, a role that may not is 403.

**Errors** are JSON `{"detail", "problems": [{"row", "field", "rule", "value"}]}`:
422 for bad input (rows count from 1), 404 unknown id, 409 conflicting write.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is migrated on start when ``settings.auto_migrate``."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests are the parallelism here: BLAS/OpenMP pools of their own would
        # oversubscribe the cores (and OpenBLAS threads spin while they wait).
        limits = threadpoolctl.threadpool_limits(1)
        db = Database(settings.url)
        if settings.auto_migrate:
            db.upgrade()
        app.state.db = db
        app.state.tracker = None
        if settings.tracking:
            app.state.tracker = RecommendationLogger(
                settings.url, settings.tracking_uri, settings.tracking_queue
            )
            app.state.tracker.start()
            # The first read of the tracking store costs about a second (imports, engine,
            # schema check); pay it now, not in the first compare page someone opens.
            threading.Thread(
                target=_warm_tracking, args=(settings.tracking_uri,), daemon=True
            ).start()
        try:
            yield
        finally:
            if app.state.tracker is not None:
                app.state.tracker.close()
            db.dispose()
            limits.restore_original_limits()

    app = FastAPI(
        title="adbandit",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.key_cache = KeyCache()
    app.state.stats_cache = StatsCache()
    app.state.compute_slots = threading.BoundedSemaphore(settings.compute_slots)
    for module in (health, campaigns, analytics, recommendations, abtests, experiments, keys):
        app.include_router(module.router)
    app.include_router(keys.me_router)
    web.mount(app)
    _error_handlers(app)
    _document_bodies(app)
    return app


def _warm_tracking(uri: str | None) -> None:
    try:
        list_experiments(uri)
    except Exception as exc:  # the experiments routes answer 503 and say why
        log.info("tracking store not readable at start-up: %s", exc)


def _document_bodies(app: FastAPI) -> None:
    """Routes that take JSON or a multipart upload read the body themselves; put the JSON
    bodies' schemas in the OpenAPI components their ``$ref`` points at."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (StatsBatch, EventsBatch):
                js = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in js.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components[model.__name__] = js
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("adbandit")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def error_body(detail: str, problems: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "problems": problems or []}


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(optimizer.AdbanditError)
    async def adbandit_error(_request: Request, exc: optimizer.AdbanditError) -> JSONResponse:
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
        problems: list[dict[str, Any]] = []
        detail = str(exc)
        if isinstance(exc, optimizer.InvalidInputError):
            problems = [
                {"row": p.row, "field": p.column, "rule": p.rule, "value": p.to_dict()["value"]}
                for p in exc.problems
            ]
            detail = detail.splitlines()[0]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(detail, problems), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(error) for error in exc.errors()]
        n = len(problems)
        return JSONResponse(
            error_body(f"invalid request: {n} problem{'s' if n != 1 else ''}", problems),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.error("incident %s: %s", incident, exc, exc_info=exc)
        return JSONResponse(
            error_body(f"internal error; the server log has incident {incident}"),
            status_code=500,
        )


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """A pydantic error as {row, field, rule}: ('body', 'rows', 2, 'clicks') is row 3, clicks."""
    loc = [part for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    row = None
    for i, part in enumerate(loc):
        if isinstance(part, int) and i > 0:
            row = part + 1
    names = [str(part) for part in loc if not isinstance(part, int)]
    value = error.get("input")
    if not isinstance(value, str | int | float | bool) or value is None:
        value = None
    return {
        "row": row,
        "field": names[-1] if names else None,
        "rule": str(error.get("msg", "invalid")),
        "value": value,
    }
