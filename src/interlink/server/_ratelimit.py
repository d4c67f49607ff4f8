"""Failed-login limits: refuse guessers by the source *and* the credential tried, never lock out
the credential's holder, and count a password attempt before argon2 runs, where every worker
sees the count.

Why two paths. A key secret has 238 random bits: nobody guesses one, so limiting key attempts is
only about cheap scanning of key ids, and a successful key call must stay free of any I/O. Key
attempts therefore use this process's memory only (a dict lookup while failures are tracked).
A password can be guessed, and each check costs argon2id (64 MiB, tens of milliseconds), so a
password attempt takes its slots *before* the check, atomically, in a store every worker shares
(the database, Redis through the ``limits`` library, or memory for a single process), and at
most ``max_verifications`` checks run at once per process; the rest wait up to ``verify_wait``
seconds, then get 429 with ``Retry-After``.

The rule, per ``window`` seconds (defaults 5 / 20 / 20, 60 s, trust for 30 days):

- **(address, identity)**: at most ``per_user`` failures of one identity (username or key id)
  from one client address; then that address is refused *for that identity*. Nobody else is.
- **address**: at most ``per_address`` failures from one address (any identity); then the
  address is refused for every identity it has not logged in as successfully before.
- **identity everywhere** (passwords only): at most ``per_user_everywhere`` password attempts
  for a username from addresses it has not logged in from before; this bounds a guesser spread
  over many addresses. An address the user has logged in from stays open to the user.
- **trusted pairs**: a success marks (address, identity) trusted for ``trust_seconds``. A trusted
  key pair is never refused (its secret cannot be guessed); a trusted password pair skips the
  address and identity-everywhere limits but keeps its own (address, identity) limit.
- There is no count per key id across addresses: five wrong secrets for a known key id from
  elsewhere never lock its holder out.

Password slots are counted when taken; a success clears its (address, identity) count. Entries
expire with their window. The in-memory counter keeps at most ``max_tracked`` entries; when full
it drops expired entries, then those with the fewest failures, never one at its limit, so
spraying new identities cannot reset a victim's count to zero.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

import anyio

from interlink.errors import ServiceUnavailable, TooManyRequests
from interlink.identity import Counters

if TYPE_CHECKING:
    from limits.aio.storage import Storage as AsyncStorage

logger = logging.getLogger("interlink.server")

__all__ = ["Attempt", "Counters", "FailureLimiter", "LimitsCounters", "LoginLimited", "MemoryCounters",
           "counters_from"]


class LoginLimited(TooManyRequests):
    """429 with the seconds after which a retry may work (sent as ``Retry-After``)."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"{message}; try again in {self.retry_after} s", status=429)


class MemoryCounters:
    """Counts in this process's memory, bounded by ``max_tracked`` (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_tracked: int = 100_000,
                 protect_from: int = 1) -> None:
        self._clock = clock
        self.max_tracked = max_tracked
        #: entries with at least this count are never evicted (the smallest limit in use)
        self.protect_from = protect_from
        self._counts: dict[str, list[float]] = {}  # bucket -> [count, ends_at]

    def __len__(self) -> int:
        return len(self._counts)

    def hit_now(self, bucket: str, window: float) -> tuple[int, float]:
        now = self._clock()
        entry = self._counts.get(bucket)
        if entry is None or entry[1] <= now:
            if entry is None and len(self._counts) >= self.max_tracked and not self._make_room(now):
                # Every entry is a live refusal: refuse what is new rather than forget one.
                return FULL, 1.0
            entry = self._counts[bucket] = [0, now + window]
        entry[0] += 1
        return int(entry[0]), entry[1] - now

    def peek_now(self, bucket: str) -> tuple[int, float]:
        entry = self._counts.get(bucket)
        if entry is None:
            return 0, 0.0
        left = entry[1] - self._clock()
        if left <= 0:
            del self._counts[bucket]
            return 0, 0.0
        return int(entry[0]), left

    def clear_now(self, bucket: str) -> None:
        self._counts.pop(bucket, None)

    def _make_room(self, now: float) -> bool:
        counts = self._counts
        for bucket in [b for b, (_, ends) in counts.items() if ends <= now]:
            del counts[bucket]
        if len(counts) < self.max_tracked:
            return True
        evictable = sorted((c, b) for b, (c, _) in counts.items() if c < self.protect_from)
        for _, bucket in evictable[: max(1, self.max_tracked // 10)]:
            del counts[bucket]
        return len(counts) < self.max_tracked

    async def hit(self, bucket: str, window: float) -> tuple[int, float]:
        return self.hit_now(bucket, window)

    async def peek(self, bucket: str) -> tuple[int, float]:
        return self.peek_now(bucket)

    async def clear(self, bucket: str) -> None:
        self.clear_now(bucket)


class LimitsCounters:
    """Counts in Redis (or any async storage of the ``limits`` library), named by a URI such as
    ``redis://localhost:6379/0``. Needs ``pip install 'interlink[redis]'``."""

    def __init__(self, uri: str, namespace: str = "interlink") -> None:
        from limits.errors import StorageError
        from limits.storage import storage_from_string

        url = uri
        outages: tuple[type[BaseException], ...] = (StorageError, OSError)  # OSError: ConnectionError, TimeoutError
        if uri.startswith(("redis://", "rediss://", "redis+unix://")):
            from redis.exceptions import ConnectionError as RedisDown, TimeoutError as RedisTimeout

            uri, options = "async+" + uri, {"implementation": "redispy"}
            outages += (RedisDown, RedisTimeout)
        else:
            options = {}
        self.url = url
        # Awaited below, so an async storage of limits: Redis URIs are made "async+…" above,
        # any other URI must name one itself ("async+memcached://…").
        self.storage = cast("AsyncStorage", storage_from_string(uri, **options))
        self.namespace = namespace
        self._outages = outages

    def _key(self, bucket: str) -> str:
        return f"{self.namespace}:{bucket}"

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """A storage that does not answer is a 503 with Retry-After, not a server error."""
        try:
            yield
        except self._outages as error:
            logger.warning("the login-attempt store does not answer: %s", error)  # not the URL: it may hold a password
            raise ServiceUnavailable("the login-attempt store does not answer; try again shortly") from error

    async def hit(self, bucket: str, window: float) -> tuple[int, float]:
        key = self._key(bucket)
        with self._answering():
            count = await self.storage.incr(key, max(1, math.ceil(window)))
            return count, min(window, max(0.0, await self.storage.get_expiry(key) - time.time()))

    async def peek(self, bucket: str) -> tuple[int, float]:
        key = self._key(bucket)
        with self._answering():
            count = await self.storage.get(key)
            if not count:
                return 0, 0.0
            return count, max(0.0, await self.storage.get_expiry(key) - time.time())

    async def clear(self, bucket: str) -> None:
        with self._answering():
            await self.storage.clear(self._key(bucket))


FULL = 2**31  # the count a full MemoryCounters answers for a new bucket: over every limit


def counters_from(storage: str | Counters | None, backend_counters: Counters | None = None) -> Counters:
    """``"memory://"``, ``"database"`` (the backend's counters: the store's database), a
    ``limits`` URI such as ``"redis://host:6379"``, a Counters object, or None: the backend's
    counters if it has any, else memory."""
    if storage is None:
        storage = "memory://" if backend_counters is None else "database"
    if not isinstance(storage, str):
        return storage
    if storage == "memory://":
        return MemoryCounters()
    if storage == "database":
        if backend_counters is None:
            raise ValueError('login_limits="database" needs an ApiServer with a database')
        return backend_counters
    return LimitsCounters(storage)


class Attempt:
    """One credential check under way: what ``begin`` decided, for ``failed``/``succeeded``."""

    __slots__ = ("identity", "address", "password", "trusted", "_held")

    def __init__(self, identity: str | None, address: str | None, password: bool, trusted: bool,
                 held: anyio.Semaphore | None = None) -> None:
        self.identity = identity
        self.address = address
        self.password = password
        self.trusted = trusted
        self._held = held


def _bucket(kind: str, *parts: str | None) -> str:
    """A fixed-length name: identities and addresses never reach the store in clear."""
    return kind + ":" + hashlib.sha256("\x00".join(p or "" for p in parts).encode()).hexdigest()[:40]


class FailureLimiter:
    """The limits of the module docstring. Call sites::

        attempt = await limiter.begin(identity, address, password=is_password)  # may raise 429
        try:
            role = await check(...)
        finally:
            limiter.release(attempt)          # frees the password-check slot, if one was held
        if role is None: await limiter.failed(attempt)
        else:            await limiter.succeeded(attempt)
    """

    def __init__(
        self,
        per_user: int = 5,
        per_address: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = 100_000,
        *,
        per_user_everywhere: int = 20,
        trust_seconds: float = 30 * 86400,
        storage: str | Counters | None = None,
        max_verifications: int = 4,
        verify_wait: float = 5.0,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.per_user_everywhere = per_user_everywhere
        self.window = window
        self.trust_seconds = trust_seconds
        self.verify_wait = verify_wait
        self.max_verifications = max_verifications
        self._storage = storage
        # Key attempts and address failures seen here: this process's memory, no I/O.
        self.local = MemoryCounters(clock, max_tracked, protect_from=min(per_user, per_address))
        self._clock = clock
        self._trusted_keys: dict[tuple[str, str | None], float] = {}  # (key id, address) -> since
        self.max_trusted = max_tracked
        self.shared: Counters | None = None if storage is None or isinstance(storage, str) else storage
        self._verifying: anyio.Semaphore | None = None

    def bind(self, backend_counters: Counters | None = None) -> None:
        """Choose the shared counters (at server start-up, when the backend is open and its
        counters — the store's database — are known)."""
        if self.shared is None:
            if self._storage == "memory://" or (self._storage is None and backend_counters is None):
                self.shared = MemoryCounters(self._clock, self.local.max_tracked, self.local.protect_from)
            else:
                self.shared = counters_from(self._storage, backend_counters)

    @property
    def active(self) -> bool:
        """Whether this process tracks any failure: when not, a key attempt checks nothing."""
        return bool(len(self.local))

    # -- the call path -------------------------------------------------------------------

    async def begin(self, identity: str | None, address: str | None, *, password: bool = False) -> Attempt:
        """Refuse (LoginLimited, 429) or let the attempt go on. A password attempt takes its
        slots first and then one of ``max_verifications`` check slots."""
        if not password:
            return self._begin_key(identity, address)
        if self.shared is None:
            self.bind()
        shared = self.shared
        assert shared is not None
        trusted = (await shared.peek(_bucket("t", identity, address)))[0] > 0
        if not trusted:
            count, left = self.local.peek_now(_bucket("a", address))
            if count >= self.per_address:
                raise LoginLimited("too many failed logins from this address", left)
        count, left = await shared.hit(_bucket("p", identity, address), self.window)
        if count > self.per_user:
            raise LoginLimited("too many failed logins", left)
        if not trusted:
            count, left = await shared.hit(_bucket("u", identity), self.window)
            if count > self.per_user_everywhere:
                raise LoginLimited("too many failed logins", left)
            count, left = await shared.hit(_bucket("a", address), self.window)
            if count > self.per_address:
                raise LoginLimited("too many failed logins from this address", left)
        if self._verifying is None:
            self._verifying = anyio.Semaphore(self.max_verifications)
        with anyio.move_on_after(self.verify_wait):
            await self._verifying.acquire()
            return Attempt(identity, address, True, trusted, self._verifying)
        raise LoginLimited("too many password checks at once", 1)

    def _begin_key(self, identity: str | None, address: str | None) -> Attempt:
        return Attempt(identity, address, False, self.begin_key(identity, address))

    def begin_key(self, key_id: str | None, address: str | None) -> bool:
        """A key attempt, with no I/O (the call path of every keyed call): LoginLimited when
        refused, else whether the (key id, address) pair is trusted."""
        if not self.local._counts:
            return False
        since = self._trusted_keys.get((key_id or "", address))
        if since is not None and self._clock() - since < self.trust_seconds:
            return True
        count, left = self.local.peek_now(_bucket("k", key_id, address))
        if count >= self.per_user:
            raise LoginLimited("too many failed logins", left)
        count, left = self.local.peek_now(_bucket("a", address))
        if count >= self.per_address:
            raise LoginLimited("too many failed logins from this address", left)
        return False

    def key_failed(self, key_id: str | None, address: str | None) -> None:
        self.local.hit_now(_bucket("a", address), self.window)
        self.local.hit_now(_bucket("k", key_id, address), self.window)

    def key_succeeded(self, key_id: str | None, address: str | None, trusted: bool) -> None:
        if trusted:
            return
        pairs = self._trusted_keys
        if len(pairs) >= self.max_trusted:
            # Only a valid key adds here; forgetting trust costs its holder nothing but the
            # ordinary limits.
            for pair in list(pairs)[: self.max_trusted // 2]:
                del pairs[pair]
        pairs[(key_id or "", address)] = self._clock()

    def release(self, attempt: Attempt) -> None:
        """Give back the password-check slot; idempotent, always call it (``finally``)."""
        held, attempt._held = attempt._held, None
        if held is not None:
            held.release()

    async def failed(self, attempt: Attempt) -> None:
        self.release(attempt)
        if not attempt.password:
            self.key_failed(attempt.identity, attempt.address)
            return
        # A password attempt's shared slots were taken by begin(): only the address is counted here.
        self.local.hit_now(_bucket("a", attempt.address), self.window)

    async def succeeded(self, attempt: Attempt) -> None:
        self.release(attempt)
        if not attempt.password:
            self.key_succeeded(attempt.identity, attempt.address, attempt.trusted)
            return
        shared = self.shared
        assert shared is not None
        await shared.clear(_bucket("p", attempt.identity, attempt.address))
        if not attempt.trusted:
            trust = _bucket("t", attempt.identity, attempt.address)
            await shared.clear(trust)
            await shared.hit(trust, self.trust_seconds)

