"""interlink: one toolkit for the code that connects systems.

The names a site needs are importable from here; they live in private modules
(``interlink.server``, ``interlink.identity``, ``interlink.wire``) and are loaded on first use so
that ``import interlink`` stays cheap for client-only users.

``Role`` and ``User`` are the plain identity types that method signatures name
(``interlink.identity``); the store's SQLAlchemy classes subclass them. To query the tables,
import those: ``from interlink.store import User``.
"""

from __future__ import annotations

import typing as _typing

__version__ = "0.1.0"

__all__ = ["ApiServer", "Call", "Role", "User", "FileUpload", "FileStream", "UploadCut", "Model", "__version__"]

_HOMES = {
    "ApiServer": "interlink.server",
    "Call": "interlink.server",
    "Role": "interlink.identity",
    "User": "interlink.identity",
    "FileUpload": "interlink.wire",
    "FileStream": "interlink.wire",
    "UploadCut": "interlink.wire",
    "Model": "interlink.wire",
}

if _typing.TYPE_CHECKING:  # pragma: no cover
    from interlink.identity import Role, User
    from interlink.server import ApiServer, Call
    from interlink.wire import FileStream, FileUpload, Model, UploadCut


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'interlink' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
