"""``APIClient`` / ``AsyncAPIClient``: httpx clients pinned to one service's base URL.

Call shapes follow ape-pie (``APIClient(base_url, request_kwargs=None, **kwargs)``,
``APIClient.configure_from(adapter)``), so its users change only the import line. What
differs, on purpose:

* containment of URLs in the base is checked by scheme, host, port and path segments
  (``_urls.py``), not by string prefix;
* a timeout is always set, and idempotent requests are retried (``_retry.py``), token
  requests of the auth flows included (they go through the same transport);
* without ``with``, connections are closed after each response instead of closing the whole
  client, so the same client object keeps working.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx

from interlink.http._options import client_options
from interlink.http._transport import AsyncRetryTransport, RetryTransport
from interlink.http._urls import InvalidURLError, is_inside, normalise_base_url, resolve_url

__all__ = ["APIClient", "AsyncAPIClient", "ConfigAdapter"]


@runtime_checkable
class ConfigAdapter(Protocol):
    """Where a client's configuration comes from (a service record, settings, ...)."""

    def get_client_base_url(self) -> str:
        """The API root to which relative URLs are resolved."""
        ...

    def get_client_session_kwargs(self) -> dict[str, Any]:
        """Client settings: ``auth``, ``headers``, ``verify``, ``cert``, ``timeout``, ...

        The client copies this dict; an adapter may return a shared one.
        """
        ...


_C = TypeVar("_C", bound="_BaseURLMixin")


class _BaseURLMixin:
    _interlink_base_url: str
    _interlink_transport: Any

    @property  # type: ignore[override]
    def base_url(self) -> str:
        """The base URL, normalised to end in ``/``."""
        return self._interlink_base_url

    def to_absolute_url(self, maybe_relative_url: str | bytes | httpx.URL) -> str:
        """The absolute URL a request for ``maybe_relative_url`` goes to (or InvalidURLError)."""
        return resolve_url(self._interlink_base_url, maybe_relative_url)

    def _check_inside(self, request: httpx.Request) -> None:
        if not is_inside(self._interlink_base_url, str(request.url.copy_with(query=None, fragment=None))):
            raise InvalidURLError(f"request URL is outside the client's base URL {self._interlink_base_url!r}")

    @classmethod
    def configure_from(cls: type[_C], adapter: ConfigAdapter, **kwargs: Any) -> _C:
        base_url = adapter.get_client_base_url()
        session_kwargs = dict(adapter.get_client_session_kwargs() or {})
        return cls(base_url, session_kwargs, **kwargs)  # type: ignore[call-arg]


def _setup(self: Any, base_url: str, request_kwargs: dict[str, Any] | None, transport_class: type) -> dict[str, Any]:
    options = client_options(request_kwargs)
    self._interlink_base_url = normalise_base_url(base_url)
    transport = options.custom_transport
    if transport is None:
        transport = transport_class(
            policy=options.policy, keep_alive=False, token_verify=options.token_verify, **options.transport
        )
    self._interlink_transport = transport
    return {**options.client, "transport": transport}


def _keep_alive(transport: Any) -> None:
    if isinstance(transport, (RetryTransport, AsyncRetryTransport)):
        transport.keep_alive = True


class APIClient(_BaseURLMixin, httpx.Client):
    """A sync httpx client for one service. Extra ``kwargs`` are for subclasses; ignored here."""

    def __init__(self, base_url: str, request_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        httpx.Client.__init__(self, **_setup(self, base_url, request_kwargs, RetryTransport))

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:  # type: ignore[override]
        return super().build_request(method, self.to_absolute_url(url), **kwargs)

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        self._check_inside(request)
        return super().send(request, **kwargs)

    def __enter__(self) -> APIClient:
        super().__enter__()
        _keep_alive(self._interlink_transport)
        return self


class AsyncAPIClient(_BaseURLMixin, httpx.AsyncClient):
    """The async twin of :class:`APIClient`, configured the same way."""

    def __init__(self, base_url: str, request_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        httpx.AsyncClient.__init__(self, **_setup(self, base_url, request_kwargs, AsyncRetryTransport))

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:  # type: ignore[override]
        return super().build_request(method, self.to_absolute_url(url), **kwargs)

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        self._check_inside(request)
        return await super().send(request, **kwargs)

    async def __aenter__(self) -> AsyncAPIClient:
        await super().__aenter__()
        _keep_alive(self._interlink_transport)
        return self
