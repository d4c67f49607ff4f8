"""The async twin: ``AsyncAPI``, ``AsyncSession``, ``AsyncRemoteMethod``, the same surface awaited.

Same wire code as the sync client (``_call``); only the sending differs. ``callasync`` starts an
asyncio task instead of a thread; ``broadcast`` gathers one task per root.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx

from interlink.http import AsyncRetryTransport
from interlink.urls import redact_url, redact_urls
from interlink.wire import FormValue

from ._api import ApiBase
from ._call import Fields, build_request, collate_arguments, fields_dict, method_url, read_response
from ._method import MethodHandle, logger
from ._objects import to_objects
from ._profiles import Credentials
from ._session import SessionBase

__all__ = ["AsyncAPI", "AsyncRemoteMethod", "AsyncSession"]


class AsyncRemoteMethod(MethodHandle["AsyncSession"]):
    """One API method of an async session: ``await session.home.describe_site()``."""

    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return to_objects(await self.json(*args, **kwargs))

    async def json(self, *args: Any, **kwargs: Any) -> Any:
        fields = self._fields(args, kwargs)
        return await self._session._send(self._session._root, self.name, fields)

    def collate(self, *args: Any, **kwargs: Any) -> dict[str, FormValue]:
        """The form fields this call would POST (no I/O, so not awaited)."""
        return fields_dict(collate_arguments(self.name, args, kwargs))

    def callasync(self, *args: Any, **kwargs: Any) -> asyncio.Task[None]:
        """Start the call as a task and return it; the result is discarded and an exception is
        logged on ``logging.getLogger("interlink.client")``. ``aclose()`` waits for such tasks."""
        fields = self._fields(args, kwargs)
        session = self._session
        root = session._root

        async def run() -> None:
            try:
                await session._send(root, self.name, fields)
            except Exception as exc:
                logger.error("callasync %s at %s failed: %s", self.name, redact_url(root), redact_urls(repr(exc)))

        task = asyncio.get_running_loop().create_task(run(), name=f"callasync {self.name}")
        session._tasks.add(task)  # a strong reference, or the task may be collected mid-call
        task.add_done_callback(session._tasks.discard)
        return task

    async def broadcast(self, api_roots: Iterable[str], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``{root: result or exception}`` for every root, called concurrently."""
        roots = list(api_roots)
        if len(set(roots)) != len(roots):
            raise ValueError("api_roots has a root twice; its two answers could not both be returned")
        fields = self._fields(args, kwargs).for_concurrent_sends()
        answers = await asyncio.gather(
            *(self._session._send(root, self.name, fields) for root in roots), return_exceptions=True
        )
        outcomes: dict[str, Any] = {}
        for root, answer in zip(roots, answers):
            if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                raise answer  # cancellation and the like are not a root's answer
            outcomes[root] = answer if isinstance(answer, Exception) else to_objects(answer)
        return outcomes

    def __repr__(self) -> str:
        return f"<AsyncRemoteMethod {self.name}>"


class AsyncSession(SessionBase[httpx.AsyncClient, AsyncRemoteMethod]):
    """The async ``Session``: one root, one set of credentials, one ``httpx.AsyncClient``."""

    _client_class = httpx.AsyncClient
    _transport_class = AsyncRetryTransport
    _method_class = AsyncRemoteMethod

    def __init__(self, root: str, credentials: Credentials | None = None, **options: Any) -> None:
        super().__init__(root, credentials, **options)
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, name: str, /, **kwargs: Any) -> Any:
        return await self.method(name)(**kwargs)

    async def aclose(self) -> None:
        """Wait for this session's ``callasync`` tasks, then close its connections."""
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self._client.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, root: str, name: str, fields: Fields) -> Any:
        request = build_request(method_url(root, name), fields, self._credentials)
        response = await self._client.post(request.url, **request.httpx_arguments())
        return read_response(response.status_code, response.content)


class AsyncAPI(ApiBase[AsyncSession]):
    """``API`` for asyncio: ``await api.home.describe_site()``; ``async with AsyncAPI(...)``."""

    _session_class = AsyncSession

    async def aclose(self) -> None:
        for session in self._all_sessions():
            await session.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncAPI:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
