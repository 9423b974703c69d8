"""Property-based fuzz of the OpenAPI schema (schemathesis): whatever a client sends,
valid or not, the answer is never a 5xx and always matches the documented schema."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.auth import create_key
from service.db import Database
from service.settings import Settings
from tests.service.test_api import stats_rows

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
HEADERS: dict[str, str] = {}

# schemathesis reads the schema when this module is imported, so the app exists from
# then on; the fixture below starts it (its lifespan opens the database) before any case.
FOLDER = Path(tempfile.mkdtemp(prefix="adbandit-fuzz-"))
APP = create_app(
    Settings(
        database_url=f"sqlite:///{FOLDER / 'adbandit.db'}",
        tracking=False,
        tracking_uri=f"sqlite:///{FOLDER / 'mlflow.db'}",
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _running_app() -> Iterator[None]:
    """One campaign with stats, a recommendation and an admin key, so the fuzz reaches past
    auth into every route."""
    db = Database(f"sqlite:///{FOLDER / 'adbandit.db'}")
    db.upgrade()
    with db.session(write=True) as session:
        HEADERS["Authorization"] = f"Bearer {create_key(session, 'fuzz', 'admin')[1]}"
    db.dispose()
    with TestClient(APP) as client:
        cid = client.post("/v1/campaigns", json={"name": "fuzz"}, headers=HEADERS).json()["id"]
        client.post(f"/v1/campaigns/{cid}/stats", json={"rows": stats_rows()}, headers=HEADERS)
        client.post(f"/v1/campaigns/{cid}/recommendations", json={"budget": 100}, headers=HEADERS)
        yield
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(
    # CI: the same 30 cases per route every run; FUZZ_EXAMPLES=500 searches wider and fresh.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "30")),
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_responses_match_the_schema(case: schemathesis.Case) -> None:
    if case.path == "/v1/keys/{key_id}" and case.method == "DELETE":
        case.path_parameters = {**(case.path_parameters or {}), "key_id": 10**6}  # keep our key
    case.call_and_validate(headers={**(case.headers or {}), **HEADERS}, checks=CHECKS)
