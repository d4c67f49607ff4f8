"""A session: one site root, one set of credentials and headers, one keep-alive httpx client.

The client sends through ``interlink.http``'s retry transport, the one stack every interlink
client shares. Its :class:`~interlink.http.RetryPolicy` retries a call only where that is
safe for a POST: when the connection could not be made. A call that may have reached the
server (a dropped connection, a 503) is not sent again, since the method could run twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import httpx

from interlink.http import RetryPolicy, RetryTransport

from ._call import Fields, build_request, method_url, read_response
from ._method import RemoteMethod, RemoteModule
from ._profiles import Credentials

__all__ = ["DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "Session", "SessionBase", "site_retry_policy"]

#: Seconds for connecting, and for each read and write.
DEFAULT_TIMEOUT = 30.0
#: Extra attempts when a connection cannot be made. Only connecting is retried: once a request
#: may have reached the server, sending it again could run the method twice.
DEFAULT_RETRIES = 2


def site_retry_policy(retries: int) -> RetryPolicy:
    """Calls are POSTs: the policy retries them only when no connection was made."""
    return RetryPolicy(retries=retries)


C = TypeVar("C", bound=httpx.Client | httpx.AsyncClient)
M = TypeVar("M")


class SessionBase(Generic[C, M]):
    """What ``Session`` and ``AsyncSession`` share: one root, one set of credentials, one httpx
    client (of the flavour's class, ``C``) on interlink's retry transport, and the attribute
    surface; its methods are ``M``s."""

    _client_class: Callable[..., C]
    _transport_class: Callable[..., httpx.BaseTransport | httpx.AsyncBaseTransport]
    _method_class: Callable[[Any, str], M]

    def __init__(
        self,
        root: str,
        credentials: Credentials | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._root = root.rstrip("/")
        self._credentials = credentials
        self._client = self._client_class(
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport or self._transport_class(policy=site_retry_policy(retries)),
            follow_redirects=False,  # a redirected POST would lose or resend its body
        )

    def __getattr__(self, name: str) -> RemoteModule[M]:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteModule(self, name)

    def module(self, name: str) -> RemoteModule[M]:
        return RemoteModule(self, name)

    def method(self, name: str) -> M:
        """The method ``module.function``, e.g. ``session.method("home.describe_site")``."""
        method_url(self._root, name)  # checks the name's form
        return self._method_class(self, name)

    def __repr__(self) -> str:
        who = self._credentials.key_id if self._credentials else "anonymous"
        return f"<{type(self).__name__} {self._root} as {who}>"


class Session(SessionBase[httpx.Client, RemoteMethod]):
    """Calls a site's methods as one caller: ``session.home.describe_site()``.

    Attribute access gives modules (``session.home``); ``session.module(name)`` reaches a module
    whose name is also a Session method (``close``, ``call``, ``module``, ``method``).
    """

    _client_class = httpx.Client
    _transport_class = RetryTransport
    _method_class = RemoteMethod

    def __init__(self, root: str, credentials: Credentials | None = None, **options: Any) -> None:
        super().__init__(root, credentials, **options)
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def call(self, name: str, /, **kwargs: Any) -> Any:
        """``session.call("home.list_users", ...)`` is ``session.home.list_users(...)``."""
        return self.method(name)(**kwargs)

    def close(self) -> None:
        """Wait for this session's ``callasync`` threads, then close its connections."""
        with self._lock:
            pending = list(self._threads)
        for thread in pending:
            if thread is not threading.current_thread():
                thread.join()
        self._client.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- used by RemoteMethod -------------------------------------------------------------------

    def _send(self, root: str, name: str, fields: Fields) -> Any:
        request = build_request(method_url(root, name), fields, self._credentials)
        response = self._client.post(request.url, **request.httpx_arguments())
        return read_response(response.status_code, response.content)

    def _remember_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.add(thread)

    def _forget_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.discard(thread)
