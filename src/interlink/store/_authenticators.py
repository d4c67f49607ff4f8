"""Checking ``keyid:secret`` pairs fast: a short-lived cache in front of the database.

A verified key is remembered with its secret *hash*, its role (detached, with the user
loaded) and the time it was fetched. For ``cache_seconds`` after that, checking the same key
is a dict lookup plus one SHA-256 in the event loop: no thread hop, no I/O. After that the
key is read again, so a revoked or expired key stops working within ``cache_seconds``.
Unknown and unusable keys are not cached: a key created a moment ago works at once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from interlink.credentials import check_key_secret
from interlink.store._database import Database
from interlink.store._models import Key, Role, User

__all__ = ["KeyAuthenticator", "MemoryKeys", "Authenticator"]


class Authenticator(Protocol):
    async def authenticate_key(self, key_id: str, secret: str) -> Any | None: ...

    async def authenticate_user_key(
        self, username: str, key_id: str, secret: str
    ) -> Any | None: ...


@dataclass(frozen=True, slots=True)
class _Verified:
    secret_hash: str
    role: Role
    username: str
    expires_at: dt.datetime | None
    fetched_at: float  # the authenticator's clock (monotonic)

_KEY_WITH_ROLE = (
    joinedload(Key.role).joinedload(Role.user).joinedload(User.default_role, innerjoin=False)
)


class KeyAuthenticator:
    """Turns a key id and secret into the key's Role, or None."""

    def __init__(
        self,
        database: Database,
        cache_seconds: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self._clock = clock  # monotonic seconds; replaceable so tests need not sleep
        self._cache: OrderedDict[str, _Verified] = OrderedDict()

    async def authenticate_key(self, key_id: str, secret: str) -> Role | None:
        entry = await self._entry(key_id)
        if entry is None or not check_key_secret(secret, entry.secret_hash):
            return None
        return entry.role

    async def authenticate_user_key(self, username: str, key_id: str, secret: str) -> Role | None:
        """The Basic form ``-u user:keyid:secret``: the key must belong to one of user's roles."""
        entry = await self._entry(key_id)
        if entry is None or entry.username != username:
            return None
        if not check_key_secret(secret, entry.secret_hash):
            return None
        return entry.role

    def forget(self, key_id: str | None = None) -> None:
        """Drop one cached key (or all), e.g. right after revoking it in this process."""
        if key_id is None:
            self._cache.clear()
        else:
            self._cache.pop(key_id, None)

    async def _entry(self, key_id: str) -> _Verified | None:
        now = self._clock()
        entry = self._cache.get(key_id)
        if entry is not None and now - entry.fetched_at < self.cache_seconds:
            if entry.expires_at is None or dt.datetime.now(dt.UTC) < entry.expires_at:
                return entry
            self._cache.pop(key_id, None)
            return None
        entry = await anyio.to_thread.run_sync(self._load, key_id)
        if entry is None:
            self._cache.pop(key_id, None)
            return None
        self._cache[key_id] = entry
        self._cache.move_to_end(key_id)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return entry

    def _load(self, key_id: str) -> _Verified | None:
        """Runs in a worker thread: one SELECT of key + role + user (eager joins)."""
        fetched_at = self._clock()
        with self.database.session() as session:
            # One query: key, its role, the role's user and the user's default role.
            query = select(Key).where(Key.key_id == key_id).options(_KEY_WITH_ROLE)
            key = session.scalar(query)
            if key is None or not key.usable_at(dt.datetime.now(dt.UTC)):
                return None
            assert key.secret_hash is not None
            role = key.role
            username = role.user.username
        return _Verified(key.secret_hash, role, username, key.expires_at, fetched_at)


class MemoryKeys:
    """The same interface over a dict ``{key_id: (secret, role)}``: no database, for tests and
    benchmarks. A role's user is found as ``role.user.username`` when there is one."""

    def __init__(self, keys: Mapping[str, tuple[str | bytes, Any]]) -> None:
        from interlink.credentials import hash_key_secret

        self._keys: dict[str, tuple[str, Any]] = {}
        for key_id, (secret, role) in keys.items():
            text = secret.decode("ascii") if isinstance(secret, bytes) else secret
            self._keys[key_id] = (hash_key_secret(text), role)

    async def authenticate_key(self, key_id: str, secret: str) -> Any | None:
        found = self._keys.get(key_id)
        if found is None or not check_key_secret(secret, found[0]):
            return None
        return found[1]

    async def authenticate_user_key(self, username: str, key_id: str, secret: str) -> Any | None:
        role = await self.authenticate_key(key_id, secret)
        user = getattr(role, "user", None)
        if role is None or getattr(user, "username", None) != username:
            return None
        return role
