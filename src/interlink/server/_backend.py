"""Where the server's credentials and database come from, decided once at startup.

An ``ApiServer`` given only an ``authenticator`` needs nothing else. Otherwise the default backend is
``interlink.store`` (users, roles, keys and login sessions on SQLAlchemy), imported here and
only here, at startup: ``import interlink.server`` itself loads no database code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlink.identity import Backend

if TYPE_CHECKING:
    from ._api import ApiServer

__all__ = ["open_backend"]


def open_backend(api: ApiServer) -> Backend:
    if api.database is None and api.authenticator is not None:
        return Backend(api.authenticator)
    try:
        from interlink.store import open_backend as open_store_backend
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            f"an ApiServer without an authenticator keeps its keys in interlink.store ({error}); "
            "install it with: pip install 'interlink[store]'"
        ) from error
    return open_store_backend(api.database, authenticator=api.authenticator)
