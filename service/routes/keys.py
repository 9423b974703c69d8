"""API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from .. import auth
from ..auth import Principal
from ..db import Database
from ..deps import database, require
from ..models import ROLES, ApiKey
from ..schemas import KeyIn, KeyOut, MeOut, NewKeyOut
from . import READ, WRITE

router = APIRouter(prefix="/v1/keys", tags=["keys"])
me_router = APIRouter(tags=["keys"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Db = Annotated[Database, Depends(database)]


def _out(row: ApiKey) -> KeyOut:
    return KeyOut.model_validate(row, from_attributes=True)


@router.post("", response_model=NewKeyOut, status_code=201, responses=WRITE)
def create_key(body: KeyIn, _admin: Admin, db: Db) -> NewKeyOut:
    """Create a key; the secret is in the answer and nowhere else."""
    with db.session(write=True) as session:
        row, key = auth.create_key(session, body.name, body.role)
        return NewKeyOut(**_out(row).model_dump(), key=key)


@router.get("", response_model=list[KeyOut], responses=READ)
def list_keys(_admin: Admin, db: Db) -> list[KeyOut]:
    with db.session() as session:
        return [_out(row) for row in auth.list_keys(session)]


@router.delete("/{key_id}", response_model=KeyOut, responses=WRITE)
def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], _admin: Admin, db: Db, request: Request
) -> KeyOut:
    """Revoke a key; it stops working at once on this server (within 5 s on others)."""
    with db.session(write=True) as session:
        row = auth.revoke_key(session, key_id)
        out = _out(row)
    request.app.state.key_cache.clear()
    return out


@me_router.get("/v1/me", response_model=MeOut, responses=READ)
def me(who: Viewer) -> MeOut:
    """The calling key's name and role: what the review page signs in with."""
    return MeOut(name=who.name, role=who.role, roles=list(ROLES))
