"""Where the tables live: one engine, one session factory, migrations run by Alembic."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine.interfaces import DBAPIConnection

__all__ = ["Database", "DATABASE_URL_ENV", "DEFAULT_DATABASE_URL", "VERSION_TABLE", "MIGRATIONS_DIR",
           "is_outage", "outages_as_unavailable"]

logger = logging.getLogger("interlink.store")

from interlink.errors import ServiceUnavailable
from interlink.settings import DATABASE_URL_ENV, DEFAULT_DATABASE_URL, Settings

# Our own version table, so a site's own Alembic history can share the database.
VERSION_TABLE = "interlink_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed number: PostgreSQL advisory lock that serialises concurrent migrate() calls.
_MIGRATION_LOCK_KEY = 0x1A7E_0001
# Alembic keeps the running migration in module globals (alembic.context, op): one at a time
# per process.
_ALEMBIC_LOCK = threading.Lock()


def _on_sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers go on while one writer commits; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


# SQLite's OperationalError covers outages and schema mistakes alike; only these are outages.
_SQLITE_OUTAGES = ("unable to open database file", "database is locked", "disk i/o error",
                   "attempt to write a readonly database", "database or disk is full")


def is_outage(error: BaseException) -> bool:
    """Whether a database error means the database does not answer (try again later), not a bug."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        return str(error.orig).lower().startswith(_SQLITE_OUTAGES)
    return True  # psycopg: connection refused or lost, server shutting down, too many connections


@contextmanager
def outages_as_unavailable(what: str = "the database") -> Iterator[None]:
    """Database outages inside raise :class:`~interlink.errors.ServiceUnavailable` (a 503 with
    ``Retry-After``), so a caller learns to try again instead of seeing a server error."""
    try:
        yield
    except (InterfaceError, OperationalError) as error:
        if not is_outage(error):
            raise
        logger.warning("%s does not answer: %s", what, getattr(error, "orig", error))
        raise ServiceUnavailable(f"{what} does not answer; try again shortly") from error


def _create_private_file(path: str) -> None:
    """Create a new SQLite file readable by its owner only (0600): it holds key hashes, password
    hashes and encrypted secrets. SQLite gives its -wal and -shm files the same mode."""
    if path.startswith("file:") or os.path.exists(path):
        return
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        return  # SQLite will say so, with its own message
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


class Database:
    """An interlink database named by a SQLAlchemy URL.

    ``Database()`` uses ``$INTERLINK_DATABASE_URL``, else ``sqlite:///interlink.db`` in the
    current directory. Any URL SQLAlchemy understands works (``postgresql+psycopg://…``).
    """

    def __init__(self, url: str | None = None, **engine_options: Any) -> None:
        self.url: str = url or Settings.from_environ().database_url
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database in (None, "", ":memory:"):
            # An in-memory database exists per connection: share one so tables persist.
            engine_options.setdefault("poolclass", StaticPool)
            engine_options.setdefault("connect_args", {"check_same_thread": False})
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            _create_private_file(parsed.database)
        self.engine: Engine = create_engine(self.url, **engine_options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _on_sqlite_connect)
        self.sessionmaker: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed if the block succeeds, rolled back if it raises.

        ``expire_on_commit=False`` keeps loaded objects readable after the block, detached;
        the links users, roles and keys are read through (``role.user``,
        ``user.default_role``, ``key.role``) are loaded before it ends.
        """
        from interlink.store._models import load_for_detach

        with self.sessionmaker.begin() as session:
            yield session
            load_for_detach(session)

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with the migrations shipped in this package.

        Idempotent: an up-to-date database is left alone. Safe when several workers start
        at once: they take turns (PostgreSQL advisory lock, or a lock file next to a SQLite
        database), and the later ones find nothing left to do.
        """
        from alembic import command

        with _ALEMBIC_LOCK, self._migration_lock(), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Held until this transaction ends; PostgreSQL's DDL is transactional.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            config = self.alembic_config(connection)
            command.upgrade(config, revision)

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        path = make_url(self.url).database if self.is_sqlite else None
        if not path or path == ":memory:":
            yield
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
            yield
            return
        # A separate file: closing any descriptor of the database file itself would drop
        # SQLite's own POSIX locks held by this process. It is removed when the migration is
        # done, so no lock file is left beside the database.
        lock_path = f"{path}.migrate-lock"
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                # A holder unlinks the file before unlocking; whoever was waiting on that
                # unlinked file must start again on the current one, or two would hold "the" lock.
                if os.path.samestat(os.fstat(fd), os.stat(lock_path)):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            yield
        finally:
            try:
                os.unlink(lock_path)
            except FileNotFoundError:  # pragma: no cover - removed by hand meanwhile
                pass
            finally:
                os.close(fd)  # releases the flock

    def downgrade(self, revision: str) -> None:
        """Step the schema back to ``revision`` (``"base"`` drops every interlink table)."""
        from alembic import command

        with _ALEMBIC_LOCK, self._migration_lock(), self.engine.begin() as connection:
            command.downgrade(self.alembic_config(connection), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

    def alembic_config(self, connection: Connection | None = None) -> Config:
        """An Alembic ``Config`` for these migrations (also handy for ``revision --autogenerate``)."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # '%' is Alembic's interpolation character; URLs may contain it (escaped passwords).
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = VERSION_TABLE
        return config

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"
