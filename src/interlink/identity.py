"""Who calls: the vocabulary the server and the store share, with no database in it.

``Role`` and ``User`` are the plain types a method's signature names (``def m(rl: Role, …)``);
the store's SQLAlchemy classes subclass them, so the server can recognise a role parameter,
and a test can hand in any role, without importing SQLAlchemy. ``Authenticator``,
``LoginSessions`` and ``Counters`` are everything the server asks of a store, handed over in
one ``Backend`` at startup: the server talks to the store only through them
(``interlink.store`` implements all three; ``MemoryKeys`` implements the first for tests and
benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol, runtime_checkable

from interlink.wire import Model

__all__ = ["Authenticator", "Backend", "Counters", "DatabaseSessions", "LoginSessions", "Role", "User"]


class User(Model):
    """A person or system that owns roles; sent over the wire as its ``api_id`` (``u-…``).

    Attributes every user has: ``api_id``, ``username``, ``default_role``.
    """

    api_id_prefix: ClassVar[str | None] = "u"

    username: str
    default_role: Role | None


class Role(Model):
    """What a caller acts as; a key authenticates as exactly one role (``r-…``).

    Attributes every role has: ``api_id``, ``name``, ``permissions``, ``user``.
    """

    api_id_prefix: ClassVar[str | None] = "r"

    name: str
    permissions: list[str]
    user: User

    def has(self, permission: str) -> bool:
        """Whether this role may do ``permission``."""
        raise NotImplementedError


class Authenticator(Protocol):
    """Which Role do these credentials name? ``None`` when they do not check out.

    ``client`` is the caller's address (after trusted proxies), for key IP allowlists: an
    authenticator may raise ``Forbidden`` for a good key used from outside its networks.
    """

    async def authenticate_key(self, key_id: str, secret: str, *, client: str | None = None) -> Role | None: ...

    async def authenticate_user_key(
        self, username: str, key_id: str, secret: str, *, client: str | None = None
    ) -> Role | None: ...

    async def authenticate_password(self, username: str, password: str) -> Role | None: ...


class LoginSessions(Protocol):
    """Server-side login sessions of site pages: a random token in the cookie, kept hashed."""

    def create(self, user: User) -> str: ...

    def end(self, token: str) -> None: ...

    async def role_for(self, token: str) -> Role | None: ...


class Counters(Protocol):
    """Counts shared by every worker process (failed logins): a fixed window per bucket,
    started by the bucket's first hit. The store keeps them in its database."""

    async def hit(self, bucket: str, window: float) -> tuple[int, float]:
        """Add one, atomically; the count after it and the seconds until the window ends."""
        ...

    async def peek(self, bucket: str) -> tuple[int, float]:
        """The current count (0 when none or expired) and the seconds left in its window."""
        ...

    async def clear(self, bucket: str) -> None: ...


@runtime_checkable
class DatabaseSessions(Protocol):
    """A database that opens transactions: ``with database.session() as s: …`` commits on
    success and rolls back on error (``interlink.store.Database``)."""

    def session(self) -> AbstractContextManager[Any]: ...


class Backend:
    """What a server is given at startup: an authenticator, and, with a database, the login
    sessions, the database itself (for ``Call.db``), a loader of models by ``api_id`` and the
    counters failed logins are counted in (shared by every worker on the database).

    ``interlink.store.open_backend(database)`` builds one on the store; an ``ApiServer`` given only an
    authenticator (``MemoryKeys`` in tests) gets one without a database.
    """

    __slots__ = ("authenticator", "sessions", "database", "load_model", "counters")

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        sessions: LoginSessions | None = None,
        database: DatabaseSessions | None = None,
        load_model: Callable[[type, str], object] | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.sessions = sessions
        self.database = database
        self.load_model = load_model
        self.counters = counters
