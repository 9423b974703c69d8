"""Service fixtures: a real database per test (a SQLite file, or a fresh PostgreSQL
database on the loopback server), the app over it, and one API key per role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from service.app import create_app
from service.auth import create_key
from service.db import Database
from service.models import ROLES
from service.settings import Settings

#: The project's machines (and CI's) run PostgreSQL here with trust auth (ENVIRONMENT.md).
POSTGRES_URL = os.environ.get(
    "ADBANDIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def _postgres_admin() -> object | None:
    import psycopg

    url = make_url(POSTGRES_URL)
    try:
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            dbname=url.database,
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError:
        return None


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on the backend named by the test's ``backend`` param
    (SQLite when the test is not parametrised)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'adbandit.db'}"
        return
    admin = _postgres_admin()
    if admin is None:
        pytest.skip(f"no PostgreSQL answers at {POSTGRES_URL}: PostgreSQL contract tests skipped")
    name = f"adbandit_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def keys(db: Database) -> dict[str, str]:
    """role -> a fresh API key of that role (key names are ``<role>-key``)."""
    out = {}
    with db.session(write=True) as session:
        for role in ROLES:
            out[role] = create_key(session, f"{role}-key", role)[1]
    return out


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client(db: Database, keys: dict[str, str]) -> Iterator[TestClient]:
    """The app over ``db`` (MLflow tracking off: the tracking tests turn it on)."""
    app = create_app(Settings(database_url=db.url, tracking=False))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
