"""``adbandit serve``, ``adbandit keys`` and ``adbandit db``: the service's commands."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import optimizer

from . import workers
from .models import ROLES

__all__ = ["add_service_commands"]


def add_service_commands(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument(
        "--load",
        type=Path,
        metavar="STATS",
        help="before serving, upsert this stats file into --campaign and print an admin key",
    )
    p.add_argument(
        "--campaign",
        default=None,
        help="campaign for --load (default: the file's campaign column, else 'default')",
    )
    p.add_argument("--currency", default=None, help="currency for a new --load campaign, e.g. EUR")
    _db_arg(p)
    p.set_defaults(handler=_serve)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", metavar="ACTION", required=True
    )
    p = keys.add_parser("create", help="create a key and print it (shown only once)")
    p.add_argument("--role", required=True, choices=list(ROLES))
    p.add_argument("--name", default=None, help="who or what uses it (default: role-timestamp)")
    _db_arg(p)
    p.set_defaults(handler=_keys_create)
    p = keys.add_parser("list", help="list keys (never their secrets)")
    _db_arg(p)
    p.set_defaults(handler=_keys_list)
    p = keys.add_parser("revoke", help="revoke a key by id")
    p.add_argument("id", type=int)
    _db_arg(p)
    p.set_defaults(handler=_keys_revoke)

    db = sub.add_parser("db", help="the service database").add_subparsers(
        dest="db_command", metavar="ACTION", required=True
    )
    p = db.add_parser("upgrade", help="migrate the schema (keeps the data)")
    p.add_argument("--revision", default="head")
    _db_arg(p)
    p.set_defaults(handler=_db_upgrade)
    p = db.add_parser("current", help="print the schema revision")
    _db_arg(p)
    p.set_defaults(handler=_db_current)


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL (default $ADBANDIT_DATABASE_URL, else var/adbandit.db)",
    )


def _database(args: argparse.Namespace, *, migrate: bool = True) -> Any:
    from .db import Database
    from .settings import Settings

    if args.database_url:
        os.environ["ADBANDIT_DATABASE_URL"] = args.database_url  # also for uvicorn's workers
    db = Database(Settings().url)
    if migrate:
        db.upgrade()
    return db


def _keys_create(args: argparse.Namespace) -> int:
    from . import auth

    name = args.name or f"{args.role}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
    db = _database(args)
    with db.session(write=True) as session:
        row, key = auth.create_key(session, name, args.role)
    print(
        f"created {row.role} key {row.name!r} (id {row.id}); it is shown only now:", file=sys.stderr
    )
    print(key)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from . import auth

    db = _database(args)
    with db.session() as session:
        rows = auth.list_keys(session)
        print(f"{'id':>4}  {'name':<30} {'role':<11} {'prefix':<9} {'created':<20} revoked")
        for r in rows:
            revoked = f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else ""
            print(
                f"{r.id:>4}  {r.name:<30} {r.role:<11} {r.prefix:<9} "
                f"{r.created_at:%Y-%m-%d %H:%M:%S}  {revoked}"
            )
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from . import auth

    db = _database(args)
    with db.session(write=True) as session:
        row = auth.revoke_key(session, args.id)
        print(f"revoked key {row.name!r} (id {row.id})")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    db = _database(args, migrate=False)
    before = db.revision()
    db.upgrade(args.revision)
    print(f"{db.url}: {before or 'empty'} -> {db.revision()}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    db = _database(args, migrate=False)
    print(f"{db.url}: {db.revision() or 'empty'} (newest: {db.head()})")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    try:  # before loading anything or printing URLs that would not answer
        workers.check_address(args.host, args.port, args.workers)
    except (workers.PortInUseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    db = _database(args)
    base = f"http://{args.host}:{args.port}"
    if args.load:
        campaign_id, key = _load(db, args)
        print(
            f"\nadbandit serving on {base}\n"
            f"  review page     {base}/ui/#/campaigns/{campaign_id}  (sign in with the key below)\n"
            f"  API docs        {base}/docs\n"
            f"  health          {base}/healthz   {base}/readyz\n"
            f"  campaign        {base}/v1/campaigns/{campaign_id}\n"
            f"  admin API key   {key}\n"
            f"  try             curl -H 'Authorization: Bearer {key}' {base}/v1/campaigns\n",
            flush=True,
        )
    else:
        print(
            f"\nadbandit serving on {base}: review page {base}/ui/, API docs {base}/docs\n",
            flush=True,
        )
    db.dispose()
    options: dict[str, Any] = {
        "app": "service.app:create_app",
        "factory": True,
        "log_level": "info",
    }
    if args.workers > 1 and workers.balanced():
        return workers.serve_workers(args.host, args.port, args.workers, **options)
    uvicorn.run(host=args.host, port=args.port, workers=args.workers, **options)
    return 0


def _load(db: Any, args: argparse.Namespace) -> tuple[int, str]:
    """Upsert ``args.load`` into ``args.campaign`` (created if new) and make an admin key."""
    from sqlalchemy import select

    from . import auth, store
    from .models import Campaign

    frame = optimizer.read_stats_file(args.load)
    name = args.campaign
    if name is None:
        named = frame["campaign"].astype(str).str.strip() if "campaign" in frame else None
        found = sorted(set(named) - {""}) if named is not None else []
        name = found[0] if len(found) == 1 else "default"
    with db.session(write=True) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.name == name))
        if campaign is None:
            campaign = store.create_campaign(session, name, args.currency)
        result = store.ingest_stats(session, campaign, frame)
        _, key = auth.create_key(
            session, f"admin-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S-%f}", "admin"
        )
        campaign_id = campaign.id
    print(
        f"loaded {args.load}: {result.n_rows} rows into campaign {name!r} "
        f"({result.n_inserted} new, {result.n_replaced} restated)",
        file=sys.stderr,
    )
    return campaign_id, key
