"""The store as a server's backend: one database, its key authenticator, its login sessions,
its model loader and its failed-login counters."""

from __future__ import annotations

from interlink.identity import Authenticator, Backend
from interlink.store._authenticators import KeyAuthenticator
from interlink.store._database import Database
from interlink.store._login_attempts import DatabaseCounters
from interlink.store._operations import load_model
from interlink.store._sessions import SessionStore

__all__ = ["open_backend"]


def open_backend(database: Database | str | None, *, authenticator: Authenticator | None = None) -> Backend:
    """Open (and migrate) ``database`` — a Database, a URL, or None for the configured default —
    and build the server's backend on it. ``authenticator`` replaces the key authenticator."""
    if not isinstance(database, Database):
        database = Database(database)
    database.migrate()
    opened = database

    def load(cls: type, api_id: str) -> object:
        with opened.session() as session:
            return load_model(session, cls, api_id)

    return Backend(
        authenticator or KeyAuthenticator(database),
        sessions=SessionStore(database),
        database=database,
        load_model=load,
        counters=DatabaseCounters(database),
    )
