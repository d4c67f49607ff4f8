"""The extension seam: how site pages, callbacks and webhooks plug into an ``ApiServer``.

The server knows no extension by name. An extension attaches itself (``api.add_extension(self)``,
which ``Site(api)`` and ``Callbacks(api)`` do in their constructors) and is asked five things:

- ``bind(pipeline, backend)``: at startup, once the backend (the store) is open — keep what
  you need of them (the authentication, the login sessions, the database);
- ``lifespan()``: an async context that runs for as long as the app serves (a delivery worker);
- ``call_hook(method)``: asked once per method when the dispatch is compiled, never per call —
  what to run at the start of each call of that method, or ``None`` (the usual answer, which
  keeps the method's path as lean as if the extension were not there). A method with a hook
  always gets a ``Call``, so the hook can keep per-call state in a ``CallSlot`` and add
  ``before_commit`` work to the call's transaction;
- ``routes()``: Starlette routes the ASGI app serves beside the API (login pages);
- ``openapi(document)``: add to the OpenAPI document (operation callbacks, top-level webhooks);
- ``wrap_call(call)``: asked once at setup with the pipeline's ``call`` (dispatch, request) ->
  encoded result — return a function the shells run instead (it awaits ``call`` and sees the
  result or the error: traces and metrics), or ``None``. With no wrapper, the shells run the
  pipeline's own ``call`` and a call's way is unchanged.

``Extension`` is a Protocol with do-nothing defaults: subclass it and override what you use.
``interlink.callbacks.Callbacks`` is the example to copy (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from interlink.identity import Backend

    from ._call import Call
    from ._method import Method
    from ._openapi import OpenApiDocument
    from ._pipeline import Dispatch, Pipeline, Request

__all__ = ["CallHook", "CallRunner", "Extension"]

#: Run at the start of a call, on the decoded arguments, before the method: may raise an
#: ``ApiError`` (the call is answered with it and the method never runs).
CallHook = Callable[["Call", "Request", dict[str, Any]], None]

#: A whole call as the shells run it: (dispatch, request) -> the encoded result, or an
#: ``ApiError`` raised (credentials, access rule, decoding and the method all inside).
CallRunner = Callable[["Dispatch", "Request"], Awaitable[Any]]


@contextlib.asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


class Extension(Protocol):
    """Something that plugs into an ApiServer; every method has a do-nothing default."""

    def bind(self, pipeline: Pipeline, backend: Backend) -> None:
        """At startup, with the backend open; called again if the app is set up again."""

    def lifespan(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Entered when the app starts serving, left when it stops."""
        return _nothing()

    def call_hook(self, method: Method) -> CallHook | None:
        """What to run at the start of each call of ``method``; ``None`` for nothing."""
        return None

    def routes(self) -> Sequence[BaseRoute]:
        """Routes served beside the API by the ASGI app."""
        return ()

    def openapi(self, document: OpenApiDocument) -> None:
        """Add to the OpenAPI document, before it is finished (integers bounded, components set)."""

    def wrap_call(self, call: CallRunner) -> CallRunner | None:
        """Once at setup: a function run in place of ``call`` for every call (it awaits
        ``call``), or ``None`` to leave the calls' way as it is."""
        return None
