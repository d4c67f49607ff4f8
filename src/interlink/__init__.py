"""interlink: one toolkit for the code that connects systems.

The names a site needs are importable from here; they live in private modules
(``interlink.server``, ``interlink.store``, ``interlink.wire``) and are loaded on first use so
that ``import interlink`` stays cheap for client-only users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["ApiServer", "Call", "Role", "User", "FileUpload", "Model", "__version__"]

_HOMES = {
    "ApiServer": "interlink.server",
    "Call": "interlink.server",
    "Role": "interlink.store",
    "User": "interlink.store",
    "FileUpload": "interlink.wire",
    "Model": "interlink.wire",
}

if TYPE_CHECKING:  # pragma: no cover
    from interlink.server import ApiServer, Call
    from interlink.store import Role, User
    from interlink.wire import FileUpload, Model


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'interlink' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
