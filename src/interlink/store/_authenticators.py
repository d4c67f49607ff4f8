"""Checking ``keyid:secret`` pairs fast: a short-lived cache in front of the database.

A verified key is remembered with its secret *hash*, its role (detached, with the user
loaded) and the time it was fetched. For ``cache_seconds`` after that, checking the same key
is a dict lookup plus one SHA-256 in the event loop: no thread hop, no I/O. After that the
key is read again, so a revoked or expired key stops working within ``cache_seconds``.
Unknown and unusable keys are not cached: a key created a moment ago works at once.

Key lifecycle: a rotated key accepts its previous secret until
``previous_secret_expires_at``; a key with ``allowed_networks`` answers Forbidden to a client
address outside them; ``last_used_at`` is kept in memory per call and written in one batch at
most every ``last_used_flush_seconds`` (on a cache reload, or ``flush_last_used()``), never a
write per call. User passwords (the API-calls specification's "User's Default Role") are checked by
``authenticate_password`` with argon2id, at the same cost whether or not the user exists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import anyio.to_thread
from sqlalchemy import Table, select, update
from sqlalchemy.orm import joinedload

from interlink import identity
from interlink.credentials import check_key_secret
from interlink.errors import Forbidden
from interlink.store._cache import RecentCache
from interlink.store._database import Database, outages_as_unavailable
from interlink.store._models import Key, Role, User

logger = logging.getLogger("interlink.store")

__all__ = ["KeyAuthenticator", "MemoryKeys"]


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class _Verified:
    secret_hash: str
    role: Role
    username: str
    expires_at: dt.datetime | None
    fetched_at: float  # the authenticator's clock (monotonic)
    previous_hash: str | None = None
    previous_expires_at: dt.datetime | None = None
    networks: tuple[_Network, ...] | None = None  # None = any address

    def check(self, secret: str) -> bool:
        if check_key_secret(secret, self.secret_hash):
            return True
        if self.previous_hash is None or self.previous_expires_at is None:
            return False
        if dt.datetime.now(dt.UTC) >= self.previous_expires_at:
            return False
        return check_key_secret(secret, self.previous_hash)

    def allows(self, client: str | None) -> bool:
        if self.networks is None:
            return True
        if client is None:
            return False
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

@dataclass(slots=True)
class _Loading:
    done: anyio.Event
    entry: _Verified | None = None
    error: BaseException | None = None


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
        last_used_flush_seconds: float = 60.0,
    ) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self.last_used_flush_seconds = last_used_flush_seconds
        self._clock = clock  # monotonic seconds; replaceable so tests need not sleep
        self._cache: RecentCache[_Verified] = RecentCache(cache_seconds, max_entries, clock)
        # key_id -> wall-clock time of its latest successful use, not yet written.
        self._used: dict[str, float] = {}
        self._last_flush = clock()
        self._flush_lock = threading.Lock()
        # key_id -> the read of that key in progress: calls that find the key stale meanwhile
        # wait for it instead of each starting a read of their own (a burst every cache_seconds).
        self._loading: dict[str, _Loading] = {}
        # key_id of the background re-reads started ahead of an entry's stale time, and their tasks.
        self._renewing: set[str] = set()
        self._renewals: set[asyncio.Task[None]] = set()

    async def authenticate_key(self, key_id: str, secret: str, *, client: str | None = None) -> Role | None:
        # The hot path of every keyed call: a cache hit costs no coroutine of its own.
        entry, renew = self._cache.get_renewing(key_id)
        if entry is None or entry.expires_at is not None:
            entry = await self._entry(key_id)
        elif renew and key_id not in self._renewing:
            self._renew_ahead(key_id)
        return self._accept(entry, key_id, secret, client)

    def _renew_ahead(self, key_id: str) -> None:
        """Read the key again in the background while its entry is still fresh. Without this,
        every call for a busy key waits for the one read each time its entry goes stale (under
        load, hundreds of calls every ``cache_seconds``). An entry is still never used past
        ``cache_seconds`` after its read, so a revocation reaches this process as fast as before."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): the stale entry is read again on demand
            return
        self._renewing.add(key_id)
        task = loop.create_task(self._renew(key_id))
        self._renewals.add(task)
        task.add_done_callback(self._renewals.discard)

    async def _renew(self, key_id: str) -> None:
        try:
            entry = await self._load_once(key_id)
        except Exception as error:  # noqa: BLE001 - the next read on demand raises it to a caller
            logger.debug("reading key %s ahead of time failed: %s", key_id, error)
            return
        finally:
            self._renewing.discard(key_id)
        if entry is None:
            self._cache.pop(key_id)  # revoked or gone: the next call reads it and is refused
        else:
            self._cache.put(key_id, entry, entry.fetched_at)

    async def authenticate_user_key(
        self, username: str, key_id: str, secret: str, *, client: str | None = None
    ) -> Role | None:
        """The Basic form ``-u user:keyid:secret``: the key must belong to one of user's roles."""
        entry = await self._entry(key_id)
        if entry is None or entry.username != username:
            return None
        return self._accept(entry, key_id, secret, client)

    def _accept(self, entry: _Verified | None, key_id: str, secret: str, client: str | None) -> Role | None:
        if entry is None or not entry.check(secret):
            return None
        if entry.networks is not None and not entry.allows(client):
            raise Forbidden(f"key {key_id} may not be used from {client or 'an unknown address'}")
        self._used[key_id] = time.time()
        return entry.role

    async def authenticate_password(self, username: str, password: str) -> Role | None:
        """The user's default role for ``username:password`` (Basic or the login page), or None.

        argon2id runs in a worker thread; an unknown user costs a dummy verification.
        """
        return await anyio.to_thread.run_sync(self.check_password, username, password)

    def check_password(self, username: str, password: str) -> Role | None:
        from interlink.store._passwords import verify_password  # looked up per call: tests wrap it

        with outages_as_unavailable(), self.database.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            stored = user.password_hash if user is not None else None
            role = user.default_role if user is not None else None
        if not verify_password(password, stored) or role is None:
            return None
        return role

    def flush_last_used(self) -> int:
        """Write the pending last-used times (one UPDATE per key, one transaction); how many."""
        with self._flush_lock:
            pending, self._used = self._used, {}
            self._last_flush = self._clock()
        if not pending:
            return 0
        rows = [
            {"k": key_id, "t": dt.datetime.fromtimestamp(when, dt.UTC)} for key_id, when in pending.items()
        ]
        from sqlalchemy import bindparam

        keys = cast(Table, Key.__table__)  # declarative types it as any FromClause
        statement = (
            update(keys)
            .where(keys.c.key_id == bindparam("k"))
            .values(last_used_at=bindparam("t"))
        )
        with self.database.engine.begin() as connection:
            connection.execute(statement, rows)
        return len(rows)

    def forget(self, key_id: str | None = None) -> None:
        """Drop one cached key (or all), e.g. right after revoking it in this process."""
        if key_id is None:
            self._cache.clear()
        else:
            self._cache.pop(key_id)

    async def _entry(self, key_id: str) -> _Verified | None:
        entry = self._cache.get(key_id)
        if entry is not None:
            if entry.expires_at is None or dt.datetime.now(dt.UTC) < entry.expires_at:
                return entry
            self._cache.pop(key_id)
            return None
        entry = await self._load_once(key_id)
        if entry is None:
            self._cache.pop(key_id)
            return None
        self._cache.put(key_id, entry, entry.fetched_at)
        return entry

    async def _load_once(self, key_id: str) -> _Verified | None:
        """``_load(key_id)`` in a worker thread, one read per key at a time."""
        loading = self._loading.get(key_id)
        if loading is not None:
            await loading.done.wait()
            if loading.error is not None:
                raise loading.error
            return loading.entry
        loading = self._loading[key_id] = _Loading(anyio.Event())
        try:
            loading.entry = await anyio.to_thread.run_sync(self._load, key_id)
            return loading.entry
        except BaseException as error:
            loading.error = error
            raise
        finally:
            del self._loading[key_id]
            loading.done.set()

    def _load(self, key_id: str) -> _Verified | None:
        """Runs in a worker thread: one SELECT of key + role + user (eager joins)."""
        fetched_at = self._clock()
        if self._used and fetched_at - self._last_flush >= self.last_used_flush_seconds:
            # Piggy-backs on a cache reload, already off the event loop: no write per call.
            with outages_as_unavailable():
                self.flush_last_used()
        with outages_as_unavailable(), self.database.session() as session:
            # One query: key, its role, the role's user and the user's default role.
            query = select(Key).where(Key.key_id == key_id).options(_KEY_WITH_ROLE)
            key = session.scalar(query)
            if key is None or not key.usable_at(dt.datetime.now(dt.UTC)):
                return None
            assert key.secret_hash is not None
            role = key.role
            username = role.user.username
            networks = None
            if key.allowed_networks is not None:
                networks = tuple(ipaddress.ip_network(n, strict=False) for n in key.allowed_networks)
            return _Verified(
                key.secret_hash, role, username, key.expires_at, fetched_at,
                key.previous_secret_hash, key.previous_secret_expires_at, networks,
            )


class MemoryKeys:
    """The same interface over a dict ``{key_id: (secret, role)}``: no database, for tests and
    benchmarks. A role's user is found as ``role.user.username`` when there is one; there are
    no passwords and no IP allowlists."""

    def __init__(self, keys: Mapping[str, tuple[str | bytes, identity.Role]]) -> None:
        from interlink.credentials import hash_key_secret

        self._keys: dict[str, tuple[str, identity.Role]] = {}
        for key_id, (secret, role) in keys.items():
            text = secret.decode("ascii") if isinstance(secret, bytes) else secret
            self._keys[key_id] = (hash_key_secret(text), role)

    async def authenticate_key(
        self, key_id: str, secret: str, *, client: str | None = None
    ) -> identity.Role | None:
        found = self._keys.get(key_id)
        if found is None or not check_key_secret(secret, found[0]):
            return None
        return found[1]

    async def authenticate_user_key(
        self, username: str, key_id: str, secret: str, *, client: str | None = None
    ) -> identity.Role | None:
        role = await self.authenticate_key(key_id, secret)
        user = getattr(role, "user", None)
        if role is None or getattr(user, "username", None) != username:
            return None
        return role

    async def authenticate_password(self, username: str, password: str) -> identity.Role | None:
        return None
