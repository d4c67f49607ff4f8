"""The ASGI types, named once (as Starlette's ``starlette.types``).

A scope and a message are mappings whose values depend on their ``type`` key, so their values are
``Any``: this is the boundary where the server meets the ASGI server that runs it. The aliases
are structurally the same as Starlette's, so either spelling fits the other's functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
