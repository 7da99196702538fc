"""Keys for the operators' JSON API: created (and shown) once, stored as a SHA-256 hash,
checked on every request, revoked by id.

A key is `cc_` and 43 URL-safe characters (256 random bits). Only its hash is stored, so a
copy of the database gives no working key. A presented key is looked up by its hash, which
reveals nothing about how close a guess came (no byte-by-byte comparison of secrets).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from chatcenter.errors import BadInput
from chatcenter.actions import NotFound
from chatcenter.models import ApiKey, ApiKeySeller, Seller, utcnow
from chatcenter.scope import Scope

PREFIX = "cc_"
KEY_PATTERN = re.compile(r"cc_[A-Za-z0-9_-]{43}")
NAME_MAX = 100
# last_used_at is for humans ("is this key still in use?"): a minute's precision is
# plenty, and it spares the database a write on every request.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    id: int
    name: str
    key: str  # the only time the key exists outside its holder's hands


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def clean_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise BadInput("NAME", f"must be 1 to {NAME_MAX} printable characters")
    return name


def create(session: Session, name: str, *, sellers: list[int] | None = None, read_only: bool = False) -> CreatedKey:
    """A new key: for every seller (`sellers` None) or only those listed; read-only or not."""
    name = clean_name(name)
    if sellers is not None:
        missing = sorted(set(sellers) - set(session.scalars(select(Seller.id).where(Seller.id.in_(sellers)))))
        if missing:
            raise NotFound(f"seller {missing[0]} does not exist (see `flask sellers list`)")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=hash_key(key), all_sellers=sellers is None, read_only=read_only)
    session.add(row)
    session.flush()
    session.add_all(ApiKeySeller(api_key_id=row.id, seller_id=seller_id) for seller_id in sorted(set(sellers or ())))
    return CreatedKey(row.id, row.name, key)


class KeyRefused(Exception):
    """The presented key opens nothing; the message says why, never what was presented."""


def verify(session: Session, presented: str):
    """The live key for `presented` (its id, revocation and last use; a plain row, as this
    runs on every API request); KeyRefused if it is malformed, unknown or revoked."""
    if not KEY_PATTERN.fullmatch(presented):
        raise KeyRefused("is not an API key of this service (they look like cc_...)")
    digest = hash_key(presented)
    keys = ApiKey.__table__.c  # table columns through the Core: no ORM execution path per request
    row = session.connection().execute(select(keys.id, keys.key_hash, keys.revoked_at, keys.last_used_at,
                                              keys.all_sellers, keys.read_only)
                                       .where(keys.key_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise KeyRefused("is not a known API key")
    if row.revoked_at is not None:
        raise KeyRefused("was revoked; ask for a new one (flask api-keys create NAME)")
    return row


def scope_of(session: Session, row) -> Scope:
    """What the key (a row from `verify`) may see and do; its sellers are read only for a key
    limited to some (one indexed read), never for an unrestricted one."""
    granted = None if row.all_sellers else frozenset(_sellers_of(session, row.id))
    return Scope(granted, read_only=row.read_only)


def _sellers_of(session: Session, key_id: int) -> list[int]:
    grants = ApiKeySeller.__table__.c
    return list(session.connection().execute(select(grants.seller_id).where(grants.api_key_id == key_id)).scalars())


def touch_due(row, now=None) -> bool:
    """Whether the key's last use is older than TOUCH_EVERY (or unrecorded): only then
    does a request need a write transaction."""
    return row.last_used_at is None or (now or utcnow()) - row.last_used_at >= TOUCH_EVERY


def touch(session: Session, row) -> None:
    """Record that the key was used, at most once per TOUCH_EVERY (a conditional update,
    so concurrent requests of one key write once)."""
    now = utcnow()
    if not touch_due(row, now):
        return
    session.execute(update(ApiKey).where(
        ApiKey.id == row.id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY),
    ).values(last_used_at=now))


def revoke(session: Session, key_id: int) -> tuple[ApiKey, bool]:
    """Revoke a key; return it and whether it was live until now."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist")
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = utcnow()
    return row, True


def key_view(row: ApiKey, sellers: list[int] | None) -> dict:
    return {"id": row.id, "name": row.name, "created_at": row.created_at.isoformat(),
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "sellers": sellers, "read_only": row.read_only}


def list_keys(session: Session) -> list[dict]:
    """Every key, with its sellers (None: all of them) and whether it is read-only."""
    return [key_view(row, None if row.all_sellers else sorted(_sellers_of(session, row.id)))
            for row in session.scalars(select(ApiKey).order_by(ApiKey.id))]
