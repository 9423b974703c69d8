"""API keys and roles.

A key looks like ``adb_<8 hex prefix>_<43 url-safe chars>`` (256 random bits); only
its SHA-256 is stored. A slow password hash (bcrypt, argon2) protects guessable
secrets; these are random and long, so one fast hash is as safe and keeps every
request cheap.

Roles are ordered: ``viewer`` reads; ``specialist`` also decides (approve, reject,
edit); ``automation`` also ingests and asks for recommendations; ``admin`` also
manages keys.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from .models import ROLES, ApiKey, utcnow

__all__ = ["Principal", "authenticate", "create_key", "hash_key", "list_keys", "revoke_key"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name (recorded on decisions) and role."""

    name: str
    role: str

    def require(self, role: str) -> None:
        """Raise ForbiddenError unless this role is at least ``role``."""
        if ROLES.index(self.role) < ROLES.index(role):
            raise ForbiddenError(f"key {self.name!r} has role {self.role!r}; this needs {role!r}")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, role: str) -> tuple[ApiKey, str]:
    """Store a new key and return it with its secret, which is shown only this once."""
    name = name.strip()
    if role not in ROLES:
        raise ValueError(f"role ({role!r}) must be one of {', '.join(ROLES)}")
    if not name or len(name) > 200:
        raise ValueError("key name must be 1 to 200 characters")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise ConflictError(f"a key named {name!r} already exists")
    prefix = secrets.token_hex(4)
    key = f"adb_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(name=name, role=role, prefix=prefix, key_hash=hash_key(key), created_at=utcnow())
    session.add(row)
    session.flush()
    return row, key


def authenticate(session: Session, key: str | None) -> Principal:
    """The principal behind ``key``; UnauthorizedError when missing, unknown or revoked."""
    if not key:
        raise UnauthorizedError("missing API key: send 'Authorization: Bearer <key>'")
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None:
        raise UnauthorizedError("unknown API key")
    if row.revoked_at is not None:
        raise UnauthorizedError(f"API key {row.name!r} was revoked")
    return Principal(row.name, row.role)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
