"""The review page: hand-written HTML, CSS and JavaScript (SVG charts, no libraries, no
CDN, no build step) served by the API's own app under ``/ui/``.

The page is a client of the public HTTP API and nothing else: it signs in with an API
key (kept in the tab's sessionStorage), sends it as ``Authorization: Bearer`` and
shows only what the key's role may do. Routes live in the URL fragment
(``/ui/#/campaigns/3``), so the server has one HTML file to serve.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["HEADERS", "STATIC", "mount"]

STATIC = Path(__file__).parent / "static"

#: revalidate on every load: a deploy must not leave old scripts in browsers; scripts,
#: styles and calls from this origin only (the page decides on money: no framing, and
#: links out to the MLflow UI carry no referrer)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _Static(StaticFiles):
    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response


def mount(app: FastAPI) -> None:
    """Serve the page at ``/ui/`` (and send ``/`` there)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @router.get("/ui")
    @router.get("/ui/")
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    app.include_router(router)
    app.mount("/ui/static", _Static(directory=STATIC), name="ui-static")
