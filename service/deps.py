"""FastAPI dependencies: the database and the caller's API key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .auth import Principal, authenticate, hash_key
from .db import Database

__all__ = ["KeyCache", "database", "require"]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `adbandit keys create --role ...`: `Authorization: Bearer <key>`",
)


class KeyCache:
    """Remembers authenticated keys for ``ttl`` seconds so a busy client costs one lookup,
    not one per request. A revoked key stops working within ``ttl``."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, digest: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or entry[1] < time.monotonic():
                return None
            return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (principal, time.monotonic() + self.ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def require(role: str) -> Callable[..., Principal]:
    """A dependency that authenticates the bearer key and checks it has at least ``role``."""

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        key = credentials.credentials if credentials else None
        cache: KeyCache = request.app.state.key_cache
        principal = cache.get(hash_key(key)) if key else None
        if principal is None:
            with database(request).session() as session:
                principal = authenticate(session, key)
            assert key is not None  # authenticate refuses a missing key
            cache.put(hash_key(key), principal)
        principal.require(role)
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency
