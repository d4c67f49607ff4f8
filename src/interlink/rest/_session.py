"""Server-side sessions with expiry, as rest-tools' ``rest_tools.server.session``.

``Session(storage_type="memory" | "redis", expiration=1800, **storage_kwargs)`` keeps one
mapping of strings per session id (``SessionMixin`` uses the caller's ``current_user``); a
session not read or written for ``expiration`` seconds is gone. Expiry times are wall-clock
(``time.time()``), so several servers sharing one Redis agree on them.

The Redis layout is rest-tools': a hash ``session:<id>`` holding the data and an
``_expiration`` field, so rest-tools servers and interlink servers can share sessions while a
site moves over. Fixed on purpose, each tested:

* ``Session.clear()`` works on a store holding sessions (rest-tools deleted while iterating the
  in-memory dict: ``RuntimeError``);
* ``len()`` of the Redis store counts sessions (rest-tools returned the size of the whole
  database), and iterating it uses ``SCAN`` rather than ``KEYS`` (which blocks Redis);
* a Redis write is one transaction, so a reader never sees a session half written (rest-tools
  deleted, then wrote), and the key carries a Redis expiry, so abandoned sessions do not pile up;
* no RediSearch index is needed (rest-tools created one it never used; plain Redis answers
  without the module);
* a data key named ``_expiration`` is refused with ``ValueError`` (in rest-tools' layout it would
  overwrite the expiry).

The store is synchronous, as rest-tools' is: Redis calls block the event loop for a round trip.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import time
from collections.abc import Iterator, MutableMapping
from enum import Enum
from typing import Any

__all__ = [
    "MemorySessionStorage",
    "RedisSessionStorage",
    "Session",
    "SessionData",
    "SessionEntry",
    "SessionStorage",
    "SessionWrapper",
    "StorageTypes",
    "redis_available",
]

LOGGER = logging.getLogger("interlink.rest")

SessionData = MutableMapping[str, str]

#: Whether the ``redis`` package is installed (``pip install 'interlink[redis]'``).
redis_available = importlib.util.find_spec("redis") is not None

EXPIRATION_FIELD = "_expiration"
REDIS_EXPIRY_MARGIN = 60  # seconds


@dataclasses.dataclass(frozen=True)
class SessionEntry:
    """One stored session: its data and the wall-clock time it expires."""

    data: SessionData
    expiration: float


class SessionStorage(MutableMapping[str, SessionEntry]):
    """Where sessions live: a mapping of session id to :class:`SessionEntry`."""

    def close(self) -> None:
        """Release the storage's connections."""


class MemorySessionStorage(SessionStorage):
    """Sessions in this process's memory: for tests and single-process servers."""

    def __init__(self) -> None:
        self._entries: dict[str, SessionEntry] = {}

    def __getitem__(self, key: str) -> SessionEntry:
        return self._entries[key]

    def __setitem__(self, key: str, value: SessionEntry) -> None:
        self._entries[key] = value

    def __delitem__(self, key: str) -> None:
        del self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))  # a snapshot: callers delete while iterating

    def __len__(self) -> int:
        return len(self._entries)


class RedisSessionStorage(SessionStorage):
    """Sessions in Redis, shared by every server that points at it.

    rest-tools' arguments (``host``, ``username``, ``password``, ``ssl``), plus ``port``,
    ``db`` and ``prefix`` (the key prefix, ``"session:"`` as rest-tools), or ``url``
    (``redis://…``) instead of all of them. The connection is checked here (``PING``).
    """

    def __init__(
        self,
        host: str = "localhost",
        username: str | None = None,
        password: str | None = None,
        ssl: bool = False,
        *,
        port: int = 6379,
        db: int = 0,
        prefix: str = "session:",
        url: str | None = None,
    ) -> None:
        try:
            import redis
        except ImportError as error:
            raise ImportError(
                f"RedisSessionStorage needs the redis package ({error}): pip install 'interlink[redis]'"
            ) from error
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {"decode_responses": True, "retry": Retry(ExponentialBackoff(), 5)}
        if url is not None:
            self._conn = redis.Redis.from_url(url, **options)
        else:
            self._conn = redis.Redis(host=host, port=port, db=db, username=username, password=password,
                                     ssl=ssl, **options)
        self._prefix = prefix
        self._conn.ping()

    def close(self) -> None:
        self._conn.close()

    def _key(self, session_id: str) -> str:
        return self._prefix + session_id

    def __getitem__(self, key: str) -> SessionEntry:
        fields: dict[str, str] = self._conn.hgetall(self._key(key))  # type: ignore[assignment]
        if not fields or EXPIRATION_FIELD not in fields:
            raise KeyError(key)
        expiration = float(fields.pop(EXPIRATION_FIELD))
        return SessionEntry(data=fields, expiration=expiration)

    def __setitem__(self, key: str, value: SessionEntry) -> None:
        if EXPIRATION_FIELD in value.data:
            raise ValueError(f"session data may not have a key named {EXPIRATION_FIELD!r}")
        mapping: dict[str, Any] = {EXPIRATION_FIELD: repr(value.expiration), **value.data}
        name = self._key(key)
        with self._conn.pipeline(transaction=True) as pipe:
            pipe.delete(name)  # drop keys the new data no longer has
            pipe.hset(name, mapping=mapping)
            # Redis forgets the session a minute after it expires, should no one read it again
            # (the minute covers clock differences between this server and Redis's).
            pipe.expireat(name, int(value.expiration) + REDIS_EXPIRY_MARGIN)
            pipe.execute()

    def __delitem__(self, key: str) -> None:
        if not self._conn.delete(self._key(key)):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._conn.exists(self._key(key)))

    def __iter__(self) -> Iterator[str]:
        skip = len(self._prefix)
        for name in self._conn.scan_iter(match=_glob_escape(self._prefix) + "*", count=500):
            yield name[skip:]

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class StorageTypes(Enum):
    MEMORY = "memory"
    REDIS = "redis"


class Session:
    """Sessions that expire after ``expiration`` seconds without being read or written.

    ``storage_type``: ``"memory"`` (:class:`MemorySessionStorage`) or ``"redis"``
    (:class:`RedisSessionStorage`, given the other keyword arguments).
    """

    _sessions: SessionStorage

    def __init__(self, storage_type: str | StorageTypes = "memory", expiration: float = 1800, **kwargs: Any) -> None:
        kind = StorageTypes(storage_type)
        if kind is StorageTypes.MEMORY:
            self._sessions = MemorySessionStorage()
        else:
            if not redis_available:
                LOGGER.error("You have asked to use the redis session storage backend, but `redis` is not "
                             "installed. Install it with `pip install 'interlink[redis]'`.")
                raise RuntimeError("redis package not installed")
            self._sessions = RedisSessionStorage(**kwargs)
        self._expiration = expiration

    def close(self) -> None:
        self._sessions.close()

    def set(self, session_id: str, data: SessionData | None) -> None:
        """Create or replace the session ``session_id``; its expiry starts again."""
        self._sessions[session_id] = SessionEntry(data=data if data is not None else {},
                                                  expiration=time.time() + self._expiration)

    def get_session(self, session_id: str) -> SessionData:
        """The session's data, its expiry started again; ``KeyError`` if absent or expired."""
        entry = self._sessions[session_id]
        now = time.time()
        if now >= entry.expiration:
            self._sessions.pop(session_id, None)
            raise KeyError("session does not exist")
        self._sessions[session_id] = dataclasses.replace(entry, expiration=now + self._expiration)
        return entry.data

    def delete_session(self, session_id: str) -> bool:
        """Delete the session; whether it existed."""
        try:
            del self._sessions[session_id]
        except KeyError:
            return False
        return True

    def cleanup_expired_sessions(self) -> None:
        """Delete every expired session now (they are otherwise deleted when next read)."""
        now = time.time()
        for session_id in list(self._sessions):
            entry = self._sessions.get(session_id)
            if entry is not None and now >= entry.expiration:
                self._sessions.pop(session_id, None)

    def clear(self) -> None:
        """Delete every session."""
        for session_id in list(self._sessions):
            self._sessions.pop(session_id, None)


class SessionWrapper(MutableMapping[str, str]):
    """A session's data; each change is written back to the store (restarting its expiry)."""

    def __init__(self, key: str, data: SessionData, session_mgr: Session) -> None:
        self._key = key
        self._data = data
        self._session_mgr = session_mgr

    def __getitem__(self, name: str) -> str:
        return self._data[name]

    def __setitem__(self, name: str, value: str) -> None:
        self._data[name] = value
        self._session_mgr.set(self._key, self._data)

    def __delitem__(self, name: str) -> None:
        del self._data[name]
        self._session_mgr.set(self._key, self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SessionWrapper({self._key!r}, {len(self._data)} keys)"
