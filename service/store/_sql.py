"""Dialect-aware upsert and small helpers shared by the store modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, tuple_
from sqlalchemy.orm import Session

_CHUNK = 1000  # rows per INSERT statement


def _upsert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE on SQLite and PostgreSQL; delete-then-insert
    on other databases. Runs in the caller's transaction."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        insert = None
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        if insert is None:
            keys = [tuple(r[k] for k in key) for r in chunk]
            cols = [table.c[k] for k in key]
            session.execute(delete(table).where(tuple_(*cols).in_(keys)))
            session.execute(table.insert(), chunk)
            continue
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in update}
        )
        session.execute(stmt, chunk)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()
