"""``APIClient`` / ``AsyncAPIClient``: httpx clients pinned to one service's base URL.

Call shapes follow ape-pie (``APIClient(base_url, request_kwargs=None, **kwargs)``,
``APIClient.configure_from(adapter)``), and ape-pie's promise that "it extends requests, so
usage feels familiar" is kept on httpx (``_requests_compat.py``): requests' per-call keywords
(``verify``, ``cert``, ``proxies``, ``stream``, ``allow_redirects``, ``hooks``, ``data=`` on
``get``, positional ``params``/``data``), requests' session attributes (``client.verify = False``
is honoured, not ignored), and a client that works again after its ``with`` block. What
differs, on purpose:

* containment of URLs in the base is checked by scheme, host, port and path segments
  (``_urls.py``), not by string prefix;
* a timeout is always set, and idempotent requests are retried (``_retry.py``), token
  requests of the auth flows included (they go through the same transport);
* without ``with``, the connection pool is closed after each request (as ape-pie closes its
  session) but the client object keeps working.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypedDict, TypeVar, runtime_checkable

import httpx
from httpx._types import AuthTypes, CookieTypes, HeaderTypes, QueryParamTypes, TimeoutTypes

from interlink.http._options import Cert, Proxies, Verify, client_options, env_proxy_for
from interlink.http._retry import RetryPolicy
from interlink.http._requests_compat import RequestsCompat
from interlink.http._transport import AsyncRetryTransport, RetryTransport
from interlink.http._urls import InvalidURLError, is_inside, normalise_base_url, resolve_url

__all__ = ["APIClient", "AsyncAPIClient", "ConfigAdapter", "RequestKwargs"]


class RequestKwargs(TypedDict, total=False):
    """What ``request_kwargs`` / ``get_client_session_kwargs()`` may hold (ape-pie's
    ``RequestKwargs``, plus interlink's own settings)."""

    params: QueryParamTypes
    headers: HeaderTypes
    cookies: CookieTypes
    auth: AuthTypes | None
    timeout: TimeoutTypes | tuple[float, float] | None  # requests' (connect, read) too
    allow_redirects: bool
    proxies: Proxies
    hooks: dict[str, Callable[..., Any] | list[Callable[..., Any]]] | None
    stream: bool | None
    verify: Verify
    cert: Cert
    mtls: Cert
    follow_redirects: bool
    max_redirects: int
    trust_env: bool
    retries: int
    backoff_factor: float
    retry_policy: RetryPolicy
    token_tls: str
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport
    max_response_size: int | None


@runtime_checkable
class ConfigAdapter(Protocol):
    """Where a client's configuration comes from (a service record, settings, ...)."""

    def get_client_base_url(self) -> str:
        """The API root to which relative URLs are resolved."""
        ...

    def get_client_session_kwargs(self) -> RequestKwargs | dict[str, Any]:
        """Client settings: ``auth``, ``headers``, ``verify``, ``cert``, ``timeout``, ...

        The client copies this dict; an adapter may return a shared one.
        """
        ...


_C = TypeVar("_C", bound="_BaseURLMixin")


class _Cookies(httpx.Cookies):
    """httpx's jar, minus a cost: httpx hands every response to ``extract_cookies``, which
    wraps it in urllib request/response adapters even when it sets no cookie. The standard
    library's jar reads only ``Set-Cookie`` and ``Set-Cookie2``, so without them nothing is
    skipped."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


@functools.lru_cache(maxsize=1024)
def _absolute(base_url: str, url: str) -> httpx.URL:
    # Pure, and the same few addresses come back on every call: resolved (with the base-URL
    # check) and parsed by httpx once. httpx.URL is immutable, so sharing one is safe.
    return httpx.URL(resolve_url(base_url, url))


@functools.lru_cache(maxsize=1024)
def _inside(base_url: str, target: str) -> bool:
    return is_inside(base_url, target)


class _BaseURLMixin(RequestsCompat):
    _interlink_base_url: str
    _cookies: httpx.Cookies

    @property
    def base_url(self) -> str:
        """The base URL, normalised to end in ``/``."""
        return self._interlink_base_url

    def to_absolute_url(self, maybe_relative_url: str | bytes | httpx.URL) -> str:
        """The absolute URL a request for ``maybe_relative_url`` goes to (or InvalidURLError)."""
        return resolve_url(self._interlink_base_url, maybe_relative_url)

    def _request_url(self, url: Any) -> Any:
        # The common case is memoised (a refused URL raises every time); a subclass with its
        # own to_absolute_url keeps it.
        if type(url) is str and type(self).to_absolute_url is _BaseURLMixin.to_absolute_url:
            return _absolute(self._interlink_base_url, url)
        return self.to_absolute_url(url)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes | None) -> None:
        self._cookies = _Cookies(cookies)

    def _check_inside(self, request: httpx.Request) -> None:
        # Checked again as httpx parsed it (not only as we resolved it): a parser difference
        # must not send the credentials elsewhere. Built from the parts: copy_with is slow.
        url = request.url
        target = f"{url.scheme}://{url.netloc.decode('ascii')}{url.raw_path.decode('ascii').split('?', 1)[0]}"
        if not _inside(self._interlink_base_url, target):
            raise InvalidURLError(f"request URL is outside the client's base URL {self._interlink_base_url!r}")

    @classmethod
    def configure_from(cls: type[_C], adapter: ConfigAdapter, **kwargs: Any) -> _C:
        base_url = adapter.get_client_base_url()
        session_kwargs = dict(adapter.get_client_session_kwargs() or {})
        return cls(base_url, session_kwargs, **kwargs)  # type: ignore[call-arg]


def _setup(
    self: _BaseURLMixin,
    base_url: str,
    request_kwargs: dict[str, Any] | None,
    transport_class: type[RetryTransport] | type[AsyncRetryTransport],
) -> dict[str, Any]:
    options = client_options(request_kwargs)
    self._interlink_base_url = normalise_base_url(base_url)
    transport = options.custom_transport
    if transport is None:
        if "proxy" not in options.transport and options.client.get("trust_env", True):
            proxy = env_proxy_for(self._interlink_base_url)  # requests' trust_env: HTTP(S)_PROXY, NO_PROXY
            if proxy:
                options.transport["proxy"] = proxy
        transport = transport_class(
            policy=options.policy, keep_alive=False, token_verify=options.token_verify, **options.transport
        )
    self._interlink_transport = transport
    self._setup_requests_compat(options)
    return {**options.client, "transport": transport}


# ape-pie's base_url is a str (httpx's is a URL): the one place the two disagree in type.
class APIClient(_BaseURLMixin, httpx.Client):  # type: ignore[misc]
    """A sync httpx client for one service. Extra ``kwargs`` are for subclasses; ignored here."""

    def __init__(self, base_url: str, request_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        client_kwargs = _setup(self, base_url, request_kwargs, RetryTransport)
        auth = client_kwargs.pop("auth", None)
        httpx.Client.__init__(self, **client_kwargs)
        self.cookies = self._cookies
        self.auth = auth
        self.params = self._params

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        return super().build_request(method, self._request_url(url), **kwargs)

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        self._check_inside(request)
        return super().send(request, **self._send_kwargs(request, kwargs))

    def request(self, method: str | bytes, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        """requests' ``Session.request`` on httpx: see :mod:`interlink.http._requests_compat`."""
        call = self._prepare_call(method, url, args, kwargs)
        try:
            response = self.send(call.request, **call.send_kwargs)
            return self._run_hooks(call, response)
        finally:
            if not self._keeps_pools():  # ape-pie closes the session outside ``with``
                self.close()

    def get(self, url: Any, params: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, params=params, **kwargs)

    def options(self, url: Any, **kwargs: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url: Any, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: Any, data: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: Any, data: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: Any, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    _httpx_stream = httpx.Client.stream

    def close(self) -> None:
        """Close the connection pools; the client stays usable (as a requests session does)."""
        self._interlink_transport.close()
        for transport in self._mounts.values():
            if transport is not None:
                transport.close()
        self._reopenable()

    def __enter__(self) -> APIClient:
        # httpx refuses to enter a client twice or after use; requests (and ape-pie) do not.
        self._interlink_transport.__enter__()
        self._entered(True)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._entered(False)
        self.close()


class AsyncAPIClient(_BaseURLMixin, httpx.AsyncClient):  # type: ignore[misc]  # base_url: a str
    """The async twin of :class:`APIClient`, configured the same way."""

    def __init__(self, base_url: str, request_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        client_kwargs = _setup(self, base_url, request_kwargs, AsyncRetryTransport)
        auth = client_kwargs.pop("auth", None)
        httpx.AsyncClient.__init__(self, **client_kwargs)
        self.cookies = self._cookies
        self.auth = auth
        self.params = self._params

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        return super().build_request(method, self._request_url(url), **kwargs)

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        self._check_inside(request)
        return await super().send(request, **self._send_kwargs(request, kwargs))

    async def request(self, method: str | bytes, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        call = self._prepare_call(method, url, args, kwargs)
        try:
            response = await self.send(call.request, **call.send_kwargs)
            return self._run_hooks(call, response)
        finally:
            if not self._keeps_pools():
                await self.aclose()

    async def get(self, url: Any, params: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, params=params, **kwargs)

    async def options(self, url: Any, **kwargs: Any) -> httpx.Response:
        return await self.request("OPTIONS", url, **kwargs)

    async def head(self, url: Any, **kwargs: Any) -> httpx.Response:
        return await self.request("HEAD", url, **kwargs)

    async def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, data=data, json=json, **kwargs)

    async def put(self, url: Any, data: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, data=data, **kwargs)

    async def patch(self, url: Any, data: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, data=data, **kwargs)

    async def delete(self, url: Any, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    _httpx_stream = httpx.AsyncClient.stream

    async def aclose(self) -> None:
        """Close the connection pools; the client stays usable."""
        await self._interlink_transport.aclose()
        for transport in self._mounts.values():
            if transport is not None:
                await transport.aclose()
        self._reopenable()

    async def __aenter__(self) -> AsyncAPIClient:
        await self._interlink_transport.__aenter__()
        self._entered(True)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._entered(False)
        await self.aclose()
