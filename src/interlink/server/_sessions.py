"""Login sessions for site pages: a random token in an HttpOnly cookie, its SHA-256 in the
database.

Server-side (table ``interlink_sessions``) rather than a signed cookie, so that several worker
processes on one PostgreSQL share them with no shared signing secret to distribute, and a
logout ends the session everywhere. Like keys, a verified session is cached for
``cache_seconds`` (2 s): a logout reaches other processes within that window; the process that
served it forgets it at once.

A session call runs as the user's default role (the seed: "the Role will be the user's
default Role").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy import delete, select

if TYPE_CHECKING:
    from interlink.store import Database, Role

__all__ = ["SessionStore", "SESSION_COOKIE", "LOGIN_CSRF_COOKIE", "session_cookie"]

SESSION_COOKIE = "interlink_session"
LOGIN_CSRF_COOKIE = "interlink_login_csrf"


def _hash(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def cookie_value(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    """One cookie from the raw headers (no full parse: called on the API path)."""
    prefix = name.encode() + b"="
    for header, value in headers:
        if header == b"cookie":
            for part in value.split(b";"):
                part = part.strip()
                if part.startswith(prefix):
                    return part[len(prefix):].decode("latin-1") or None
    return None


def session_cookie(headers: list[tuple[bytes, bytes]]) -> str | None:
    return cookie_value(headers, SESSION_COOKIE)


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
        self._cache: OrderedDict[str, tuple[Role, dt.datetime, float]] = OrderedDict()

    def create(self, user_id: int) -> str:
        """A new session for the user; returns the token for the cookie (kept only hashed)."""
        from interlink.store import LoginSession, utcnow

        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.database.session() as session:
            session.add(LoginSession(token_hash=_hash(token), user_id=user_id, created_at=now,
                                     expires_at=now + self.lifetime))
        return token

    def end(self, token: str) -> None:
        from interlink.store import LoginSession

        self._cache.pop(_hash(token), None)
        with self.database.session() as session:
            session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(token)))

    def end_all(self, user_id: int) -> None:
        """Log a user out everywhere (e.g. after a password change)."""
        from interlink.store import LoginSession

        self._cache.clear()
        with self.database.session() as session:
            session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))

    async def role_for(self, token: str) -> Role | None:
        """The user's default role for a live session token, else None."""
        token_hash = _hash(token)
        now = self._clock()
        cached = self._cache.get(token_hash)
        if cached is not None and now - cached[2] < self.cache_seconds:
            if dt.datetime.now(dt.UTC) < cached[1]:
                return cached[0]
        found = await anyio.to_thread.run_sync(self._load, token_hash)
        if found is None:
            self._cache.pop(token_hash, None)
            return None
        self._cache[token_hash] = (*found, now)
        self._cache.move_to_end(token_hash)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return found[0]

    def _load(self, token_hash: str) -> tuple[Any, dt.datetime] | None:
        from interlink.store import LoginSession, utcnow

        with self.database.session() as session:
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
