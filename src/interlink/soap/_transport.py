"""zeep transports on interlink's configured httpx clients.

zeep's own :class:`zeep.Transport` is requests-only, and its ``AsyncTransport`` replaces the
given client's headers with a zeep User-Agent and drops ``operation_timeout`` when handed a
client. These keep the client exactly as the service record configured it (auth, mTLS,
headers, base-URL guard) and pass ``operation_timeout`` on every call; without one, the
record's timeout (the client's default) applies. Replies are read up to a size bound.

WSDL and XSD documents are loaded through the same client, so the service's auth applies to
them and the base-URL guard keeps a WSDL from sending our credentials elsewhere. Local files
are read only under the directory of a local WSDL the caller gave.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from zeep.transports import Transport
from zeep.utils import get_version
from zeep.wsdl.utils import etree_to_string

from interlink.http import DEADLINE, MAX_RESPONSE_BYTES, ResponseTooLarge
from interlink.soap._errors import SoapReplyError, SoapTransportError
from interlink.soap._xml import MAX_REPLY_BYTES

__all__ = ["HttpxTransport", "AsyncHttpxTransport"]

_ZEEP_AGENT = f"Zeep/{get_version()} (www.python-zeep.org) interlink"


def _timeout(seconds: float | None) -> Any:
    return httpx.USE_CLIENT_DEFAULT if seconds is None else httpx.Timeout(float(seconds))


def bounds(seconds: float | None, max_reply_bytes: int) -> dict[str, Any]:
    """Request extensions for one SOAP/StUF exchange: the whole call, not each read, ends at
    ``seconds`` (interlink.http's deadline; None: the record's timeout), and the reply is
    refused past ``max_reply_bytes`` before more of it is read."""
    extensions: dict[str, Any] = {MAX_RESPONSE_BYTES: max_reply_bytes}
    if seconds is not None:
        extensions[DEADLINE] = float(seconds)
    return extensions


def send_bounded(client: httpx.Client, request: httpx.Request, limit: int) -> httpx.Response:
    """The reply, read whole (its transport refuses it at ``limit``)."""
    try:
        return client.send(request)
    except ResponseTooLarge:
        raise _too_large(request.url, limit) from None


async def asend_bounded(client: httpx.AsyncClient, request: httpx.Request, limit: int) -> httpx.Response:
    """The async twin of :func:`send_bounded`."""
    try:
        return await client.send(request)
    except ResponseTooLarge:
        raise _too_large(request.url, limit) from None


def _set_agent(client: httpx.Client | httpx.AsyncClient) -> None:
    # Only httpx's default agent is replaced; a User-Agent the record configured stays.
    if client.headers.get("User-Agent", "").startswith("python-httpx/"):
        client.headers["User-Agent"] = _ZEEP_AGENT


def _too_large(url: Any, limit: int) -> SoapReplyError:
    return SoapReplyError(f"the reply from {url} is over the limit of {limit} bytes")


def _keep_pool(client: Any) -> None:
    # interlink's clients close idle connections after each call unless entered; a client that
    # already sent a request cannot be entered by httpx, so its transport is told directly.
    transport = getattr(client, "_interlink_transport", None)
    if hasattr(transport, "keep_alive"):
        transport.keep_alive = True


def _enter(client: httpx.Client) -> None:
    try:
        client.__enter__()
    except RuntimeError:
        _keep_pool(client)


class HttpxTransport(Transport):
    """A zeep transport sending through ``client`` (an :class:`interlink.http.APIClient`)."""

    def __init__(self, client: httpx.Client, *, cache: Any = None, timeout: float | None = None,
                 operation_timeout: float | None = None, max_reply_bytes: int = MAX_REPLY_BYTES,
                 local_root: str | os.PathLike[str] | None = None, shared: bool = False) -> None:
        # zeep's __init__ would build a requests.Session: set its attributes ourselves.
        self.cache = cache
        self.load_timeout = timeout
        self.operation_timeout = operation_timeout
        self.max_reply_bytes = max_reply_bytes
        self.local_root = Path(local_root).resolve() if local_root is not None else None
        self.logger = logging.getLogger(__name__)
        self._close_session = False
        self.shared = shared  # a pool shared by the record's clients: open already, closed by its owner
        self.wsdl_client = client
        self.session = client  # zeep's name for it, for code that reads transport.session
        _set_agent(client)

    # -- sync I/O --------------------------------------------------------------------------
    def _send(self, client: httpx.Client, method: str, url: str, timeout: float | None,
              **kwargs: Any) -> httpx.Response:
        request = client.build_request(method, url, timeout=_timeout(timeout),
                                       extensions=bounds(timeout, self.max_reply_bytes), **kwargs)
        return send_bounded(client, request, self.max_reply_bytes)

    def get(self, address: str, params: Any, headers: dict[str, str]) -> Any:
        return self._send(self.session, "GET", address, self.operation_timeout, params=params, headers=headers)

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> Any:
        return self._send(self.session, "POST", address, self.operation_timeout, content=message, headers=headers)

    # -- WSDL / XSD loading ------------------------------------------------------------------
    def load(self, url: str) -> bytes:
        if not url:
            raise ValueError("No url given to load")
        if urlparse(url).scheme not in ("http", "https"):
            return self._load_local(url)
        if self.cache:
            cached = self.cache.get(url)
            if cached:
                return bytes(cached)
        content = self._load_remote_data(url)
        if self.cache:
            self.cache.add(url, content)
        return content

    def _load_remote_data(self, url: str) -> bytes:
        response = self._send(self.wsdl_client, "GET", url, self.load_timeout)
        if response.status_code >= 400:
            raise SoapTransportError(f"GET {url} answered HTTP {response.status_code}",
                                     status_code=response.status_code, content=response.content)
        return response.content

    def _load_local(self, location: str) -> bytes:
        path = Path(location.removeprefix("file://")).expanduser().resolve()
        if self.local_root is None or not path.is_relative_to(self.local_root):
            raise SoapReplyError(f"refusing to read the local file {location!r}: "
                                 "only files next to a local WSDL are read")
        data = path.read_bytes()
        if len(data) > self.max_reply_bytes:
            raise _too_large(path, self.max_reply_bytes)
        return data

    # -- lifetime ----------------------------------------------------------------------------
    def open(self) -> None:
        """Keep connections open between calls (until :meth:`close`)."""
        if not self.shared:
            _enter(self.session)

    def close(self) -> None:
        if not self.shared:
            self.session.close()

    def __del__(self) -> None:  # zeep's closes a session it made; we made none
        pass


class AsyncHttpxTransport(HttpxTransport):
    """The async twin: calls go through ``client`` (an :class:`interlink.http.AsyncAPIClient`);
    WSDL loading is synchronous in zeep, so it goes through ``wsdl_client``, a sync client
    built from the same record."""

    def __init__(self, client: httpx.AsyncClient, wsdl_client: httpx.Client, **kwargs: Any) -> None:
        super().__init__(wsdl_client, **kwargs)
        self.session = client  # type: ignore[assignment]
        _set_agent(client)

    async def _send_async(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        client: httpx.AsyncClient = self.session  # type: ignore[assignment]
        request = client.build_request(method, url, timeout=_timeout(self.operation_timeout),
                                       extensions=bounds(self.operation_timeout, self.max_reply_bytes), **kwargs)
        return await asend_bounded(client, request, self.max_reply_bytes)

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> Any:  # type: ignore[override]
        return await self._send_async("POST", address, content=message, headers=headers)

    async def post_xml(self, address: str, envelope: Any, headers: dict[str, str]) -> Any:  # type: ignore[override]
        return await self.post(address, etree_to_string(envelope), headers)

    async def get(self, address: str, params: Any, headers: dict[str, str]) -> Any:  # type: ignore[override]
        return await self._send_async("GET", address, params=params, headers=headers)

    async def aopen(self) -> None:
        try:
            await self.session.__aenter__()  # type: ignore[attr-defined]
        except RuntimeError:  # already used (the WSDL came through it): keep its pool instead
            _keep_pool(self.session)

    async def aclose(self) -> None:
        await self.session.aclose()  # type: ignore[attr-defined]
        self.wsdl_client.close()

    def close(self) -> None:
        self.wsdl_client.close()
