"""Engine, sessions and schema migrations.

SQLite (the default) runs in WAL mode with foreign keys on; a transaction that has
not committed when the process dies leaves no trace, which is what makes an ingest
all-or-nothing even under ``kill -9``. Any other SQLAlchemy URL (PostgreSQL) works
the same way.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "alembic_config", "make_engine"]

MIGRATIONS = Path(__file__).with_name("migrations")
#: How long a SQLite writer waits for another process's write to finish.
WRITE_WAIT_SECONDS = 30.0


def make_engine(url: str, *, immediate: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and safe pragmas.

    ``immediate`` (SQLite only) starts every transaction with ``BEGIN IMMEDIATE``: a
    writer then waits its turn for the file lock up front instead of failing with
    "database is locked" when it upgrades a read transaction midway.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # Writers (immediate) wait for the file lock in _begin below; SQLite's own busy
    # handler sleeps up to 100 ms between tries, which starved writers in other processes.
    timeout = 0.01 if immediate else 30.0
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout})

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if not immediate:
            connection.exec_driver_sql("BEGIN")
            return
        deadline = time.monotonic() + WRITE_WAIT_SECONDS
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.002)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (above)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crashed process (not a power cut); FULL would
        # fsync every commit for little gain on a laptop.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


class Database:
    """The engines and session factories for one database URL.

    SQLite gets a second engine for writes (``BEGIN IMMEDIATE``); elsewhere reads
    and writes share one engine.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        # SQLite has one writer at a time; queueing writers on a lock in-process beats
        # letting them poll the file lock (its busy handler sleeps up to 100 ms a try).
        self._write_lock = threading.Lock()
        self.engine = make_engine(url)
        self.write_engine = (
            make_engine(url, immediate=True)
            if self.engine.dialect.name == "sqlite"
            else self.engine
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        if not write:
            with self._sessions() as session, session.begin():
                yield session
            return
        lock = self._write_lock if self.dialect == "sqlite" else contextlib.nullcontext()
        with lock, self._write_sessions() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (Alembic); existing data is kept."""
        cfg = alembic_config(self.engine)
        with self.write_engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None when empty)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head(self) -> str:
        head = ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()
        assert head is not None
        return head

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not ready"
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()
        self.write_engine.dispose()
