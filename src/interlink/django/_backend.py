"""The server's backend on Django: keys and roles from ``interlink.django``'s models, passwords
through ``django.contrib.auth.authenticate()`` (so every configured auth backend works), the
session of ``django.contrib.sessions``, failed-login counts in Django's cache, models loaded by
``api_id`` through their default manager, and ``call.db`` as Django's connection in
``transaction.atomic``.

Everything here that touches the database is a plain function run through ``run`` — the
pipeline's pool of worker threads (``DjangoThreadPool``), never on an event loop, so Django's
async-safety rule holds under ASGI and WSGI alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from importlib import import_module
from typing import Any, TypeVar

from django.db import close_old_connections, connections, transaction

from interlink import identity
from interlink.credentials import check_key_secret
from interlink.errors import Forbidden
from interlink.identity import Backend
from interlink.server import Pipeline, ThreadPool

__all__ = ["CacheCounters", "DjangoDatabase", "DjangoKeys", "DjangoSessions", "DjangoThreadPool", "django_backend"]

logger = logging.getLogger("interlink.django")

T = TypeVar("T")
Run = Callable[..., Awaitable[Any]]


def _in_request(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A job in a worker thread, between Django's connection housekeeping as a request has it:
    connections past CONN_MAX_AGE (every one, by default) or broken are closed before and after."""
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


class DjangoThreadPool(ThreadPool):
    """The pipeline's worker threads, each job run as Django runs a request's sync code."""

    async def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await super().run(_in_request, function, *args, **kwargs)


class _Verified:
    __slots__ = ("secret_hash", "role", "username", "expires_at", "networks", "stale_at")

    def __init__(self, secret_hash: str, role: Any, username: str, expires_at: dt.datetime | None,
                 networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None, stale_at: float) -> None:
        self.secret_hash = secret_hash
        self.role = role
        self.username = username
        self.expires_at = expires_at
        self.networks = networks
        self.stale_at = stale_at


class DjangoKeys:
    """The ``Authenticator`` on Django's models. A verified key is remembered for
    ``cache_seconds`` (2 s): a revoked key is refused within that time, in every process."""

    def __init__(self, run: Run, cache_seconds: float = 2.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.run = run
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._cache: dict[str, _Verified] = {}
        self._lock = threading.Lock()

    async def authenticate_key(self, key_id: str, secret: str, *, client: str | None = None) -> identity.Role | None:
        entry = await self._entry(key_id)
        return self._accept(entry, key_id, secret, client)

    async def authenticate_user_key(
        self, username: str, key_id: str, secret: str, *, client: str | None = None
    ) -> identity.Role | None:
        entry = await self._entry(key_id)
        if entry is None or entry.username != username:
            return None
        return self._accept(entry, key_id, secret, client)

    async def authenticate_password(self, username: str, password: str) -> identity.Role | None:
        role: identity.Role | None = await self.run(self.check_password, username, password)
        return role

    def check_password(self, username: str, password: str) -> identity.Role | None:
        """``authenticate()`` with Django's auth backends; the user's default role, or None."""
        from django.contrib.auth import authenticate

        from .models import Role

        user = authenticate(None, username=username, password=password)
        if user is None:
            return None
        return Role.default_for(user)

    def forget(self, key_id: str | None = None) -> None:
        """Drop one remembered key (or all), e.g. right after revoking it in this process."""
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                self._cache.pop(key_id, None)

    async def _entry(self, key_id: str) -> _Verified | None:
        entry = self._cache.get(key_id)
        if entry is not None and self._clock() < entry.stale_at:
            return entry
        entry = await self.run(self._load, key_id)
        with self._lock:
            if entry is None:
                self._cache.pop(key_id, None)
            else:
                if len(self._cache) >= self.max_entries:
                    now = self._clock()
                    for stale in [k for k, e in self._cache.items() if e.stale_at <= now] or list(self._cache)[:1]:
                        del self._cache[stale]
                self._cache[key_id] = entry
        return entry

    def _load(self, key_id: str) -> _Verified | None:
        from django.utils import timezone

        from .models import Key

        fetched = self._clock()
        key = Key.objects.select_related("role__user").filter(key_id=key_id).first()
        if key is None or not key.usable_at(timezone.now()):
            return None
        assert key.secret_hash is not None
        role = key.role
        return _Verified(key.secret_hash, role, role.user.get_username(), key.expires_at, key.networks(),
                         fetched + self.cache_seconds)

    @staticmethod
    def _accept(entry: _Verified | None, key_id: str, secret: str, client: str | None) -> identity.Role | None:
        if entry is None or not check_key_secret(secret, entry.secret_hash):
            return None
        if entry.expires_at is not None and dt.datetime.now(dt.UTC) >= entry.expires_at:
            return None
        if entry.networks is not None:
            try:
                address = ipaddress.ip_address(client) if client else None
            except ValueError:
                address = None
            if address is None or not any(address in network for network in entry.networks):
                raise Forbidden(f"key {key_id} may not be used from {client or 'an unknown address'}")
        role: identity.Role = entry.role
        return role


class DjangoSessions:
    """``LoginSessions`` on ``django.contrib.sessions``: the session cookie's user, checked by
    ``django.contrib.auth.get_user`` (its session hash too), acts as the user's default role.
    Logging in and out is Django's (``login()``, ``logout()``, its views)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def create(self, user: identity.User) -> str:
        raise NotImplementedError("a Django site logs users in with django.contrib.auth.login()")

    def end(self, token: str) -> None:
        self._store(token).delete()

    async def role_for(self, token: str) -> identity.Role | None:
        role: identity.Role | None = await self.run(self._role_for, token)
        return role

    @staticmethod
    def _store(token: str) -> Any:
        from django.conf import settings

        return import_module(settings.SESSION_ENGINE).SessionStore(token)

    def _role_for(self, token: str) -> identity.Role | None:
        from django.contrib.auth import get_user
        from django.http import HttpRequest

        from .models import Role

        request = HttpRequest()
        request.session = self._store(token)
        user = get_user(request)
        if not user.is_authenticated:
            return None
        return Role.default_for(user)


class CacheCounters:
    """Failed-login counts (the ``Counters`` protocol) in Django's cache ``alias``: shared by
    every worker when the cache is (Redis, Memcached, the database cache); a fixed window per
    bucket, started by its first hit."""

    def __init__(self, run: Run, alias: str = "default", prefix: str = "interlink-login") -> None:
        self.run = run
        self.alias = alias
        self.prefix = prefix

    def _cache(self) -> Any:
        from django.core.cache import caches

        return caches[self.alias]

    def _hit(self, bucket: str, window: float) -> tuple[int, float]:
        cache = self._cache()
        key, ends = f"{self.prefix}:{bucket}", f"{self.prefix}:{bucket}:ends"
        timeout = max(1, int(window + 0.999))
        now = time.time()
        cache.add(ends, now + window, timeout)
        cache.add(key, 0, timeout)
        try:
            count = int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout)
            count = 1
        ends_at = cache.get(ends) or now + window
        return count, max(0.0, float(ends_at) - now)

    def _peek(self, bucket: str) -> tuple[int, float]:
        cache = self._cache()
        found = cache.get_many([f"{self.prefix}:{bucket}", f"{self.prefix}:{bucket}:ends"])
        count = int(found.get(f"{self.prefix}:{bucket}") or 0)
        left = float(found.get(f"{self.prefix}:{bucket}:ends") or 0) - time.time()
        if not count or left <= 0:
            return 0, 0.0
        return count, left

    def _clear(self, bucket: str) -> None:
        self._cache().delete_many([f"{self.prefix}:{bucket}", f"{self.prefix}:{bucket}:ends"])

    async def _in_sync_code(self, function: Callable[..., T], /, *args: Any) -> T:
        # Django's cache (the database cache) may not be touched from a thread running an event
        # loop. A WSGI call served on its request thread has none: the cache is read right there.
        if asyncio._get_running_loop() is None:
            return function(*args)
        result: T = await self.run(function, *args)
        return result

    async def hit(self, bucket: str, window: float) -> tuple[int, float]:
        return await self._in_sync_code(self._hit, bucket, window)

    async def peek(self, bucket: str) -> tuple[int, float]:
        return await self._in_sync_code(self._peek, bucket)

    async def clear(self, bucket: str) -> None:
        await self._in_sync_code(self._clear, bucket)


class DjangoDatabase:
    """``call.db`` on Django: the connection ``using`` in ``transaction.atomic``, committed when
    the method returns and rolled back when it raises (``DatabaseSessions``)."""

    def __init__(self, using: str = "default") -> None:
        self.using = using

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        with transaction.atomic(using=self.using):
            yield connections[self.using]


def load_model(cls: type, api_id: str) -> object:
    """A Django model by its ``api_id`` (a key by its key id); ``interlink.User`` and
    ``interlink.Role`` name the project's user model and ``interlink.django.Role``."""
    from django.contrib.auth import get_user_model
    from django.db.models import Model as DjangoModel

    from .models import Key, Role

    model: type = {identity.User: get_user_model(), identity.Role: Role}.get(cls, cls)
    if not (isinstance(model, type) and issubclass(model, DjangoModel)):
        return None
    manager: Any = model._default_manager
    if model is Role:
        return manager.select_related("user").filter(api_id=api_id).first()
    if model is Key:
        return manager.select_related("role__user").filter(key_id=api_id).first()
    return manager.filter(api_id=api_id).first()


def django_backend(pipeline: Pipeline) -> Backend:
    """The pipeline's backend on Django (``Pipeline(api, backend=django_backend)``). Keys are
    interlink.django's, unless the ApiServer was given an ``authenticator`` of its own."""
    run = pipeline.threads.run
    return Backend(
        pipeline.api.authenticator or DjangoKeys(run),
        sessions=DjangoSessions(run),
        database=DjangoDatabase(),
        load_model=load_model,
        counters=CacheCounters(run),
    )
