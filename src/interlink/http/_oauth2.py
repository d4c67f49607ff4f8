"""OAuth2 tokens: a pure token state machine and *one* httpx auth flow around it.

``TokenState`` does no I/O: it says whether a cached token is still good, builds the token
request (client secret in HTTP Basic, in the body, or none for public clients) and reads
the token endpoint's answer. ``TokenFlow`` is the httpx auth flow, written once as a
generator (:meth:`TokenFlow.auth_flow`) the way httpx writes its own auth schemes: the
token request is *yielded* through the same client (so it gets the client's TLS, client
certificate, timeout and retry settings), and a 401 triggers exactly one retry with a fresh
token. The only thing sync and async clients do differently is waiting: the flow yields
``LOCK``/``UNLOCK`` markers around a fetch, and the two thin drivers take a thread lock or
the event loop's lock there and read the token response with ``read``/``aread``. So one
fetch is shared by concurrent requests of either flavour.

Subclasses say only how a token is fetched (:meth:`TokenFlow.fetch`):
``OAuth2ClientCredentials`` here, the refresh-token and callable sources in
``interlink.rest``.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, Callable, Final, Generator, Literal, Union
from urllib.parse import quote

import httpx

from interlink.http._errors import TokenRequestError
from interlink.http._transport import TOKEN_REQUEST

__all__ = [
    "OAuth2ClientCredentials",
    "TokenFlow",
    "TokenState",
    "TokenRequestError",
    "ClientAuthMethod",
    "parse_token_response",
    "LOCK",
    "UNLOCK",
]

#: ``none``: a public client, whose ``client_id`` goes in the body without a secret.
#: ``client_secret_basic_raw``: HTTP Basic with the id and secret as given, as requests-oauthlib
#: (and so zgw-consumers) sends them; ``client_secret_basic`` form-urlencodes both first
#: (RFC 6749 2.3.1). The two differ only for characters outside letters, digits and ``-._~``.
ClientAuthMethod = Literal["client_secret_basic", "client_secret_basic_raw", "client_secret_post", "none"]


def parse_token_response(status: int, body: bytes, token_url: str) -> dict[str, Any]:
    """A token endpoint's JSON answer, or :class:`TokenRequestError` with its OAuth2 error."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    if status != 200 or not isinstance(data, dict) or "access_token" not in data:
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        description = str(data.get("error_description", "")) if isinstance(data, dict) else ""
        detail = f"{error}: {description}" if description else (error or f"HTTP {status}")
        raise TokenRequestError(f"token request to {token_url} failed: {detail}", error=error, description=description)
    return data


@dataclass(frozen=True)
class TokenRequest:
    url: str
    headers: dict[str, str]
    form: dict[str, str]


def basic_credentials(client_id: str, client_secret: str, *, encode: bool = True) -> str:
    """RFC 6749 2.3.1: both parts form-urlencoded before Base64; ``encode=False``: as given,
    latin-1 where possible (requests' ``HTTPBasicAuth``, which requests-oauthlib uses)."""
    if encode:
        client_id, client_secret = quote(client_id, safe=""), quote(client_secret, safe="")
    raw = f"{client_id}:{client_secret}"
    try:
        data = raw.encode("latin-1")
    except UnicodeEncodeError:
        data = raw.encode("utf-8")
    return "Basic " + base64.b64encode(data).decode("ascii")


@dataclass
class TokenState:
    """The cached access token of one client at one token endpoint."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    auth_method: ClientAuthMethod = "client_secret_basic"
    extra: dict[str, str] = field(default_factory=dict)
    max_leeway: float = 30.0
    #: Renew exactly this many seconds before expiry (rest-tools' 5 s); ``None``: ``max_leeway``
    #: or a tenth of a short lifetime.
    leeway: float | None = None
    access_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    refresh_at: float | None = None
    fetches: int = 0

    def usable(self, now: float) -> bool:
        """Whether the cached token may still be sent (it is renewed a little before expiry)."""
        if self.access_token is None:
            return False
        return self.refresh_at is None or now < self.refresh_at

    def request(self, grant: dict[str, str] | None = None) -> TokenRequest:
        """The token request: client credentials, or the ``grant`` given (e.g. a refresh)."""
        form = {"grant_type": "client_credentials", **(grant or {})}
        if self.scope:
            form["scope"] = self.scope
        form.update(self.extra)
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if self.auth_method in ("client_secret_basic", "client_secret_basic_raw"):
            encode = self.auth_method == "client_secret_basic"
            headers["Authorization"] = basic_credentials(self.client_id, self.client_secret, encode=encode)
        elif self.auth_method == "client_secret_post" and self.client_secret:
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret
        elif self.auth_method in ("none", "client_secret_post"):
            form["client_id"] = self.client_id
        else:  # pragma: no cover - Literal guards it
            raise ValueError(f"unknown client auth method {self.auth_method!r}")
        return TokenRequest(self.token_url, headers, form)

    def accept(self, status: int, body: bytes, now: float) -> dict[str, Any]:
        """Take the token endpoint's response; raises :class:`TokenRequestError` on failure."""
        self.fetches += 1
        data = parse_token_response(status, body, self.token_url)
        lifetime = data.get("expires_in")
        if isinstance(lifetime, str) and lifetime.isascii() and lifetime.isdigit():
            lifetime = float(lifetime)
        self.hold(str(data["access_token"]), lifetime if isinstance(lifetime, (int, float)) else None, now)
        return data

    def hold(self, token: str, lifetime: float | None, now: float) -> None:
        """Cache ``token``, valid for ``lifetime`` seconds from ``now`` (``None``: until a 401)."""
        self.access_token = token
        if lifetime is None:
            self.expires_at = self.refresh_at = None
            return
        self.expires_at = now + float(lifetime)
        # Renew shortly before expiry: 30 s (``max_leeway``), or a tenth of a short lifetime.
        leeway = self.leeway if self.leeway is not None else min(self.max_leeway, float(lifetime) / 10)
        self.refresh_at = self.expires_at - leeway

    def invalidate(self, token: str | None) -> None:
        """Forget ``token`` if it is still the cached one (a 401 said it is no good)."""
        if token is not None and token == self.access_token:
            self.access_token = None



def _monotonic() -> float:
    # looked up per call, so a test's frozen clock (freezegun) reaches the token cache
    return time.monotonic()


class _Marker(enum.Enum):
    LOCK = "LOCK"
    UNLOCK = "UNLOCK"

    def __repr__(self) -> str:
        return self.name


#: Yielded by :meth:`TokenFlow.auth_flow` around a token fetch; the drivers lock there.
LOCK: Final = _Marker.LOCK
UNLOCK: Final = _Marker.UNLOCK

Step = Union[httpx.Request, _Marker]
Flow = Generator[Step, Union[httpx.Response, None], Any]


def token_request(request: TokenRequest) -> httpx.Request:
    """The ``httpx.Request`` for a token request, marked for the transport's token route."""
    return httpx.Request("POST", request.url, headers=request.headers, data=request.form,
                         extensions={TOKEN_REQUEST: True})


def _timed(step: httpx.Request, timeout: Any) -> httpx.Request:
    # httpx gives the client's timeout only to requests it builds; a token request made by
    # the flow gets the one of the call it serves, and so its deadline (interlink.http).
    if timeout is not None and "timeout" not in step.extensions:
        step.extensions["timeout"] = timeout
    return step


def _is_token_request(step: httpx.Request) -> bool:
    return bool(step.extensions.get(TOKEN_REQUEST))


class _Run:
    """One pass of a flow for a driver: the bookkeeping both drivers share.

    It hands out the flow's next request or ``LOCK`` (for the driver to acquire, which may
    wait), releases the lock itself on ``UNLOCK`` (releasing never waits), and releases it on
    exit if the flow stopped while holding it (an error, or httpx closing the flow).
    """

    def __init__(self, flow: Generator[Step, Any, Any], lock: Any) -> None:
        self._flow = flow
        self._lock = lock
        self._held = False
        self._answer: httpx.Response | None = None
        self.result: Any = None

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._held:
            self._held = False
            self._lock.release()

    def step(self) -> httpx.Request | Literal[_Marker.LOCK] | None:
        """The next request to send, ``LOCK``, or ``None`` when the flow is done."""
        try:
            step = self._flow.send(self._answer)
            while step is UNLOCK:
                self._held = False
                self._lock.release()
                step = self._flow.send(None)
        except StopIteration as stop:
            self.result = stop.value
            return None
        self._answer = None
        return step

    def locked(self, _acquired: object = None) -> None:
        self._held = True

    def answer(self, response: httpx.Response, _read: object = None) -> None:
        self._answer = response


class TokenFlow(httpx.Auth):
    """``Authorization: Bearer`` with a cached token that :meth:`fetch` renews.

    ``state`` is the :class:`TokenState` (the one cache); ``clock`` is injectable for tests.
    """

    requires_request_body = True  # a 401 retry re-sends the body

    def __init__(self, state: TokenState, clock: Callable[[], float] | None = None) -> None:
        self.state = state
        self._clock = clock or _monotonic
        self._thread_lock = threading.Lock()
        self._async_locks: dict[int, asyncio.Lock] = {}

    def fetch(self) -> Flow:
        """Yield the token request(s) and update ``self.state`` from the answer."""
        response = yield token_request(self.state.request())
        assert response is not None
        self.state.accept(response.status_code, response.content, self._clock())

    def token_flow(self, stale: str | None = None) -> Generator[Step, Any, str]:
        """The current token, fetched (under the lock) if ``stale`` or no longer usable."""
        if stale is None and self.state.usable(self._clock()):
            return self.state.access_token  # type: ignore[return-value]
        yield LOCK
        self.state.invalidate(stale)
        if not self.state.usable(self._clock()):
            yield from self.fetch()
        yield UNLOCK
        assert self.state.access_token is not None
        return self.state.access_token

    def auth_flow(self, request: httpx.Request) -> Generator[Step, Any, None]:  # type: ignore[override]
        token = yield from self.token_flow()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = yield from self.token_flow(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    # -- the two drivers: all they do apart is wait (take the lock, read the token answer) --
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield from self.drive_sync(self.auth_flow(request), self._thread_lock, request.extensions.get("timeout"))

    @staticmethod
    def drive_sync(flow: Generator[Step, Any, Any], lock: threading.Lock,
                   timeout: Any = None) -> Generator[httpx.Request, httpx.Response, Any]:
        with _Run(flow, lock) as run:
            while (step := run.step()) is not None:
                if step is LOCK:
                    run.locked(lock.acquire())
                    continue
                response = yield _timed(step, timeout)
                run.answer(response, _is_token_request(step) and response.read())
        return run.result

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        lock = self._async_lock()
        timeout = request.extensions.get("timeout")
        with _Run(self.auth_flow(request), lock) as run:
            while (step := run.step()) is not None:
                if step is LOCK:
                    run.locked(await lock.acquire())
                    continue
                response = yield _timed(step, timeout)
                run.answer(response, _is_token_request(step) and await response.aread())

    def _async_lock(self) -> asyncio.Lock:
        # asyncio locks belong to one loop; tests and apps may run several loops in turn.
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(id(loop))
        if lock is None:
            self._async_locks = {id(loop): (lock := asyncio.Lock())}
        return lock

    def refresh(self, transport: httpx.BaseTransport) -> str:
        """Fetch a new token now, outside a request, through ``transport`` (sync)."""
        flow = self.drive_sync(self.token_flow(stale=self.state.access_token or ""), self._thread_lock)
        try:
            request = next(flow)
            while True:
                request = flow.send(transport.handle_request(request))
        except StopIteration as stop:
            token: str = stop.value  # token_flow's return value
            return token


class OAuth2ClientCredentials(TokenFlow):
    """``Authorization: Bearer`` with a client-credentials token from ``token_url``.

    ``auth_method`` says where the client secret goes: ``"client_secret_basic"`` (HTTP
    Basic, the RFC default) or ``"client_secret_post"`` (form body). ``scope`` and ``extra``
    (e.g. ``{"audience": ...}``) are sent with the token request.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        auth_method: ClientAuthMethod = "client_secret_basic",
        extra: dict[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(TokenState(token_url, client_id, client_secret, scope, auth_method, dict(extra or {})), clock)

    def __repr__(self) -> str:
        return (f"OAuth2ClientCredentials(token_url={self.state.token_url!r}, "
                f"client_id={self.state.client_id!r}, secret=<hidden>)")

    @property
    def token_fetches(self) -> int:
        """How many token requests this flow has made (the benchmark counts them)."""
        return self.state.fetches
