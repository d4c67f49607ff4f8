"""Login sessions for site pages: a random token in an HttpOnly cookie, its SHA-256 in the
database (table ``interlink_sessions``).

Server-side rather than a signed cookie, so that several worker processes on one PostgreSQL
share them with no shared signing secret to distribute, and a logout ends the session
everywhere. Like keys, a verified session is cached for ``cache_seconds`` (2 s): a logout
reaches other processes within that window; the process that served it forgets it at once.

A session call runs as the user's default role.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import cast

import anyio.to_thread
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from interlink import identity
from interlink.store._cache import RecentCache
from interlink.store._database import Database, outages_as_unavailable
from interlink.store._models import LoginSession, Role, User, utcnow

__all__ = ["SessionStore", "end_sessions"]


def _hash(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def end_sessions(session: Session, user: User) -> int:
    """End every login session of ``user`` (logged out everywhere); how many there were."""
    # A DELETE's result is a CursorResult (it has rowcount); execute() is typed for any statement.
    statement = delete(LoginSession).where(LoginSession.user_id == user.id)
    result = cast("CursorResult[()]", session.execute(statement))
    return int(result.rowcount or 0)


class SessionStore:
    def __init__(
        self,
        database: Database,
        lifetime: dt.timedelta = dt.timedelta(days=14),
        cache_seconds: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.lifetime = lifetime
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._cache: RecentCache[tuple[Role, dt.datetime]] = RecentCache(cache_seconds, max_entries, clock)

    def create(self, user: identity.User | int) -> str:
        """A new session for the user; returns the token for the cookie (kept only hashed)."""
        if isinstance(user, int):
            user_id = user
        elif isinstance(user, User):
            user_id = user.id
        else:
            raise TypeError(f"a login session is for a user of the store (interlink.store.User), "
                            f"not {user!r}")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with outages_as_unavailable(), self.database.session() as session:
            session.add(LoginSession(token_hash=_hash(token), user_id=user_id, created_at=now,
                                     expires_at=now + self.lifetime))
        return token

    def end(self, token: str) -> None:
        self._cache.pop(_hash(token))
        with outages_as_unavailable(), self.database.session() as session:
            session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(token)))

    def end_all(self, user: User) -> None:
        """Log a user out everywhere (e.g. after a password change)."""
        self._cache.clear()
        with self.database.session() as session:
            end_sessions(session, user)

    async def role_for(self, token: str) -> Role | None:
        """The user's default role for a live session token, else None."""
        token_hash = _hash(token)
        cached = self._cache.get(token_hash)
        if cached is not None and dt.datetime.now(dt.UTC) < cached[1]:
            return cached[0]
        found = await anyio.to_thread.run_sync(self._load, token_hash)
        if found is None:
            self._cache.pop(token_hash)
            return None
        self._cache.put(token_hash, found)
        return found[0]

    def _load(self, token_hash: str) -> tuple[Role, dt.datetime] | None:
        with outages_as_unavailable(), self.database.session() as session:
            row = session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash))
            if row is None:
                return None
            if row.expires_at <= utcnow():
                session.delete(row)
                return None
            role = row.user.default_role
            if role is None:
                return None
            return role, row.expires_at
