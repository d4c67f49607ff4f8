"""``RestClient``: rest-tools' JSON REST client, async on httpx (plus a sync ``request_seq``).

Same call shapes as ``rest_tools.client.RestClient``. Fixed on the way:

* one exception type, :class:`RestHTTPError`, whether retries ran out or not (rest-tools
  raises ``requests.HTTPError`` or urllib3's retry errors);
* a callable token is refreshed when its JWT ``exp`` is within 5 s (rest-tools' check
  used a removed PyJWT argument and re-fetched on every call); an opaque token from a
  callable is kept until the server answers 401, then refreshed once;
* the logger's level is left alone (rest-tools forced DEBUG) and request arguments are
  not logged (they may hold secrets);
* paths cannot climb out of ``address`` (the bearer token would follow them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Union

import httpx

from interlink.http._client import APIClient, AsyncAPIClient
from interlink.http._jwt import expires_at
from interlink.http._retry import RetryPolicy

__all__ = ["RestClient", "RestHTTPError", "JSONType", "TokenType"]

JSONType = Any
TokenType = Union[str, bytes]
TOKEN_EXPIRY_MARGIN = 5.0  # seconds


class RestHTTPError(httpx.HTTPStatusError):
    """An HTTP error status from the REST server (after any retries).

    ``response.status_code`` and ``response.json()`` work as with requests' ``HTTPError``;
    ``retried`` says whether retries were attempted and ran out.
    """

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response, retried: bool) -> None:
        super().__init__(message, request=request, response=response)
        self.retried = retried

    @property
    def status_code(self) -> int:
        return self.response.status_code


def _to_str(token: TokenType) -> str:
    return token.decode("ascii") if isinstance(token, bytes) else token


class RestClient:
    """A REST client with token handling.

    Args:
        address: base address of the REST API
        token: an access token, or a function returning one
        timeout: request timeout in seconds
        retries: retries of idempotent requests on connection errors and 429/502/503/504
        backoff_factor: first retry wait in seconds, doubling each retry
        username/password, sslcert/sslkey, cacert: basic auth, client certificate, server CA
    """

    def __init__(
        self,
        address: str,
        token: TokenType | Callable[[], TokenType] | None = None,
        timeout: float = 60.0,
        retries: int = 10,
        backoff_factor: float = 0.3,
        logger: logging.Logger | None = None,
        **kwargs: Any,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.logger = logger or logging.getLogger("RestClient")
        self.kwargs = kwargs
        self.access_token: TokenType | None = None
        self.token_func: Callable[[], TokenType] | None = None
        if isinstance(token, (str, bytes)):
            self.access_token = token
        elif callable(token):
            self.token_func = token
        self._token_expires: float | None = None
        self._thread_lock = threading.Lock()
        self._async_locks: dict[int, asyncio.Lock] = {}
        self._sync_client: APIClient | None = None
        self._async_clients: dict[int, AsyncAPIClient] = {}

    # -- configuration --------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "timeout": self.timeout,
            "retry_policy": RetryPolicy(retries=self.retries, backoff_factor=self.backoff_factor),
        }
        if "username" in self.kwargs and "password" in self.kwargs:
            kwargs["auth"] = (self.kwargs["username"], self.kwargs["password"])
        if "sslcert" in self.kwargs:
            kwargs["cert"] = (self.kwargs["sslcert"], self.kwargs["sslkey"]) if "sslkey" in self.kwargs else self.kwargs["sslcert"]
        if "cacert" in self.kwargs:
            kwargs["verify"] = self.kwargs["cacert"]
        return kwargs

    def open(self, sync: bool = False) -> Any:
        """Open (or return) the HTTP session: ``sync=True`` for ``request_seq``'s client."""
        if sync:
            if self._sync_client is None:
                self._sync_client = APIClient(self.address, self._client_kwargs()).__enter__()
            return self._sync_client
        loop = id(asyncio.get_running_loop())
        client = self._async_clients.get(loop)
        if client is None:
            # An httpx async pool belongs to one event loop; one client per loop.
            client = AsyncAPIClient(self.address, self._client_kwargs())
            client._interlink_transport.keep_alive = True
            self._async_clients[loop] = client
        return client

    def close(self) -> None:
        """Close the sync session; async sessions close with :meth:`aclose`."""
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None

    async def aclose(self) -> None:
        self.close()
        loop = id(asyncio.get_running_loop())
        client = self._async_clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    # -- tokens -----------------------------------------------------------------------------
    def _token_fresh(self) -> bool:
        if self.access_token is None:
            return False
        expiry = self._token_expires if self._token_expires is not None else expires_at(self.access_token)
        return expiry is None or expiry - TOKEN_EXPIRY_MARGIN > time.time()

    def _fetch_token(self) -> tuple[TokenType, float | None]:
        """A new access token and its expiry (UNIX time) if known. Subclasses override."""
        assert self.token_func is not None
        return self.token_func(), None

    async def _fetch_token_async(self) -> tuple[TokenType, float | None]:
        """Async variant; by default the sync fetch in a worker thread (user callables are sync)."""
        return await asyncio.to_thread(self._fetch_token)

    def _has_token_source(self) -> bool:
        return self.token_func is not None

    def _store(self, fetched: tuple[TokenType, float | None]) -> TokenType:
        self.access_token, self._token_expires = fetched
        return self.access_token

    def _get_token(self, stale: TokenType | None = None) -> TokenType | None:
        if not self._has_token_source():
            return self.access_token
        with self._thread_lock:
            if stale is not None and stale == self.access_token:
                self.access_token = None
            if not self._token_fresh():
                try:
                    self._store(self._fetch_token())
                except Exception:
                    self.logger.warning("acquiring access token failed")
                    raise
            return self.access_token

    def _async_lock(self) -> asyncio.Lock:
        loop = id(asyncio.get_running_loop())
        lock = self._async_locks.get(loop)
        if lock is None:
            self._async_locks = {loop: (lock := asyncio.Lock())}
        return lock

    async def _get_token_async(self, stale: TokenType | None = None) -> TokenType | None:
        if not self._has_token_source():
            return self.access_token
        if stale is None and self._token_fresh():
            return self.access_token
        async with self._async_lock():
            if stale is not None and stale == self.access_token:
                self.access_token = None
            if not self._token_fresh():
                try:
                    self._store(await self._fetch_token_async())
                except Exception:
                    self.logger.warning("acquiring access token failed")
                    raise
            return self.access_token

    # -- requests -------------------------------------------------------------------------
    def _prepare(
        self, method: str, path: str, args: dict[str, Any] | None, headers: dict[str, str] | None, token: TokenType | None
    ) -> dict[str, Any]:
        method = method.upper()
        kwargs: dict[str, Any] = {"method": method, "url": path.lstrip("/"), "headers": dict(headers or {})}
        if method in ("GET", "HEAD"):
            kwargs["params"] = args or {}
        else:
            kwargs["json"] = args or {}
        if token:
            kwargs["headers"]["Authorization"] = "Bearer " + _to_str(token)
        return kwargs

    def _check(self, method: str, path: str, response: httpx.Response) -> None:
        if response.is_success:
            return
        policy = RetryPolicy(retries=self.retries)
        retried = self.retries > 0 and policy.after_status(method, response.status_code, None, 1) is not None
        if not (method.upper() == "DELETE" and response.status_code == 404):
            self.logger.info("bad request: %s %s -> %s", method, path, response.status_code)
        raise RestHTTPError(
            f"{response.status_code} {response.reason_phrase} for {method.upper()} {path}",
            request=response.request, response=response, retried=retried,
        )

    @staticmethod
    def _decode(content: bytes) -> JSONType:
        if not content:
            return None
        return json.loads(content)

    async def request(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> JSONType:
        """Send a request; ``args`` go in the query for GET/HEAD and as a JSON body otherwise.

        Returns the decoded JSON (``None`` for an empty body); raises :class:`RestHTTPError`.
        """
        client: AsyncAPIClient = self.open()
        token = await self._get_token_async()
        response = await client.request(**self._prepare(method, path, args, headers, token))
        if response.status_code == 401 and self._has_token_source():
            token = await self._get_token_async(stale=token)
            response = await client.request(**self._prepare(method, path, args, headers, token))
        self._check(method, path, response)
        return self._decode(response.content)

    def request_seq(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> JSONType:
        """The sequential (blocking) version of :meth:`request`."""
        client: APIClient = self.open(sync=True)
        token = self._get_token()
        response = client.request(**self._prepare(method, path, args, headers, token))
        if response.status_code == 401 and self._has_token_source():
            token = self._get_token(stale=token)
            response = client.request(**self._prepare(method, path, args, headers, token))
        self._check(method, path, response)
        return self._decode(response.content)

    def request_stream(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Iterator[JSONType]:
        """Send a request and yield each line of a newline-delimited JSON response, decoded."""
        client: APIClient = self.open(sync=True)
        token = self._get_token()
        kwargs = self._prepare(method, path, args, headers, token)
        with client.stream(**kwargs) as response:
            if not response.is_success:
                response.read()
                self._check(method, path, response)
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    async def request_stream_async(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> AsyncIterator[JSONType]:
        """The async twin of :meth:`request_stream` (an async generator)."""
        client: AsyncAPIClient = self.open()
        token = await self._get_token_async()
        async with client.stream(**self._prepare(method, path, args, headers, token)) as response:
            if not response.is_success:
                await response.aread()
                self._check(method, path, response)
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)
