"""``RestClient``: rest-tools' JSON REST client, async on httpx (plus a sync ``request_seq``).

Same call shapes as ``rest_tools.client.RestClient``. Fixed on the way:

* one exception type, :class:`RestHTTPError`, whether retries ran out or not (rest-tools
  raises ``requests.HTTPError`` or urllib3's retry errors);
* a callable token is refreshed when its JWT ``exp`` is within 5 s (rest-tools' check
  used a removed PyJWT argument and re-fetched on every call); an opaque token from a
  callable is kept until the server answers 401, then refreshed once;
* tokens live in one place, the ``TokenState`` of an ``interlink.http.TokenFlow`` set as the
  client's httpx auth, so every token source (a callable, a refresh token, client
  credentials) is cached, locked and retried-on-401 by the same code for sync and async;
  token requests go through this client's own transport (TLS, client certificate, retry);
* the logger's level is left alone (rest-tools forced DEBUG) and request arguments are
  not logged (they may hold secrets);
* paths cannot climb out of ``address`` (the bearer token would follow them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Union

import httpx

from interlink.http._auth import BearerAuth
from interlink.http._client import APIClient, AsyncAPIClient
from interlink.http._errors import ClientError
from interlink.http._jwt import expires_at
from interlink.http._oauth2 import Flow, TokenFlow, TokenState
from interlink.http._options import client_options
from interlink.http._retry import RetryPolicy
from interlink.http._transport import RetryTransport

__all__ = ["RestClient", "RestHTTPError", "JSONType", "TokenType", "CallableTokenFlow", "hold_token"]

JSONType = Any
TokenType = Union[str, bytes]
TOKEN_EXPIRY_MARGIN = 5.0  # seconds


class RestHTTPError(ClientError, httpx.HTTPStatusError):
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


def hold_token(state: TokenState, token: TokenType, expires: float | None, now: float) -> None:
    """Cache ``token`` in ``state``; ``expires`` (UNIX time) or else its JWT ``exp`` bounds it."""
    text = _to_str(token)
    expiry = expires if expires is not None else expires_at(text)
    state.hold(text, None if expiry is None else expiry - now, now)


class CallableTokenFlow(TokenFlow):
    """Tokens from a user's callable: kept until near their JWT ``exp`` (or, opaque, a 401).

    The callable is sync (rest-tools' contract) and is called in place, also by async
    clients: it is expected to be quick (read a file, ask a local agent).
    """

    def __init__(self, token_func: Callable[[], TokenType]) -> None:
        super().__init__(TokenState("", "", "", leeway=TOKEN_EXPIRY_MARGIN), clock=time.time)
        self.token_func = token_func

    def fetch(self) -> Flow:
        hold_token(self.state, self.token_func(), None, self._clock())
        self.state.fetches += 1
        return
        yield  # a generator with no token request to send


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
        self.token_func: Callable[[], TokenType] | None = None
        self.auth: httpx.Auth | None = None
        if isinstance(token, (str, bytes)):
            self.auth = BearerAuth(token)
        elif callable(token):
            self.token_func = token
            self.auth = CallableTokenFlow(token)
        self._sync_client: APIClient | None = None
        self._async_clients: dict[int, AsyncAPIClient] = {}

    @property
    def access_token(self) -> TokenType | None:
        """The token sent now (``None`` before the first one is fetched)."""
        if isinstance(self.auth, TokenFlow):
            return self.auth.state.access_token
        return self.auth._token if isinstance(self.auth, BearerAuth) else None  # type: ignore[return-value]

    # -- configuration --------------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "timeout": self.timeout,
            "retry_policy": RetryPolicy(retries=self.retries, backoff_factor=self.backoff_factor),
        }
        if self.auth is not None:
            kwargs["auth"] = self.auth
        elif "username" in self.kwargs and "password" in self.kwargs:
            kwargs["auth"] = (self.kwargs["username"], self.kwargs["password"])
        if "sslcert" in self.kwargs:
            kwargs["cert"] = (self.kwargs["sslcert"], self.kwargs["sslkey"]) if "sslkey" in self.kwargs else self.kwargs["sslcert"]
        if "cacert" in self.kwargs:
            kwargs["verify"] = self.kwargs["cacert"]
        return kwargs

    def idp_client(self, *, retry: bool = True) -> httpx.Client:
        """A sync client for the identity provider with this client's TLS settings (client
        certificate; the system store plus ``cacert``) and, with ``retry``, its retry policy.
        Mark its requests with ``extensions={TOKEN_REQUEST: True}``."""
        options = client_options(self._client_kwargs())
        policy = options.policy if retry else RetryPolicy(retries=0)
        transport = RetryTransport(policy=policy, token_verify=options.token_verify, **options.transport)
        return httpx.Client(transport=transport, timeout=options.client["timeout"], follow_redirects=True)

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

    def _refresh_now(self) -> str:
        """A new token fetched at once through the sync client's transport (not on a request)."""
        assert isinstance(self.auth, TokenFlow)
        try:
            return self.auth.refresh(self.open(sync=True)._interlink_transport)
        except Exception:
            self.logger.warning("acquiring access token failed")
            raise

    # -- requests -------------------------------------------------------------------------
    def _prepare(self, method: str, path: str, args: dict[str, Any] | None, headers: dict[str, str] | None) -> dict[str, Any]:
        method = method.upper()
        kwargs: dict[str, Any] = {"method": method, "url": path.lstrip("/"), "headers": dict(headers or {})}
        if method in ("GET", "HEAD"):
            kwargs["params"] = args or {}
        else:
            kwargs["json"] = args or {}
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
        response = await client.request(**self._prepare(method, path, args, headers))
        self._check(method, path, response)
        return self._decode(response.content)

    def request_seq(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> JSONType:
        """The sequential (blocking) version of :meth:`request`."""
        client: APIClient = self.open(sync=True)
        response = client.request(**self._prepare(method, path, args, headers))
        self._check(method, path, response)
        return self._decode(response.content)

    def request_stream(
        self, method: str, path: str, args: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Iterator[JSONType]:
        """Send a request and yield each line of a newline-delimited JSON response, decoded."""
        client: APIClient = self.open(sync=True)
        with client.stream(**self._prepare(method, path, args, headers)) as response:
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
        async with client.stream(**self._prepare(method, path, args, headers)) as response:
            if not response.is_success:
                await response.aread()
                self._check(method, path, response)
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)
