"""requests' call shapes and session attributes on interlink's httpx clients.

ape-pie is a ``requests.Session``; its users write ``client.get(url, verify=False)``,
``client.post(url, {"a": 1})``, ``client.hooks["response"].append(log)`` and
``client.cert = (cert, key)``. httpx has no per-request TLS, proxies or hooks, and silently
keeps an attribute it does not know (``client.verify = False`` would change nothing). This
mixin keeps requests' meaning:

* per call: ``params``/``data`` positional, ``data=`` on any method (bytes/str become the
  raw body, as in requests; a list of pairs becomes a repeated form field), ``verify``,
  ``cert``, ``proxies`` (the request goes through a separate pool with those settings),
  ``stream`` (the body is not read), ``allow_redirects``, ``hooks``; ``auth=None`` and
  ``timeout=None`` mean "the client's", as requests merges them;
* attributes: ``verify``, ``cert`` and ``proxies`` are read back as given and setting them
  rebuilds the pools; ``hooks`` and ``stream`` are honoured on every call; ``auth`` reads
  back what was set; ``params`` compares equal to a dict; ``timeout`` accepts requests'
  ``(connect, read)``; ``trust_env`` cannot be changed after construction and ``adapters`` /
  ``mount()`` do not exist on httpx (an error says what to use instead);
* ``close()`` ends the connection pools but not the client, and ``with`` may be entered
  again, as with a requests session.

Request hooks run with requests' signature ``hook(response, **kwargs)`` (kwargs: ``timeout``,
``verify``, ``proxies``, ``stream``, ``cert``); a hook that returns a value replaces the
response, as in requests.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx
from httpx._client import USE_CLIENT_DEFAULT, ClientState

from interlink.http._options import ClientOptions, as_timeout, proxy_url, tls_settings
from interlink.http._transport import ROUTE, AsyncRetryTransport, Route, RetryTransport

__all__ = ["RequestsCompat"]

# requests.Session.request's positional parameters after (method, url).
_POSITIONAL = ("params", "data", "headers", "cookies", "files", "auth", "timeout", "allow_redirects",
               "proxies", "hooks", "stream", "verify", "cert", "json")
_KEYWORDS = frozenset(_POSITIONAL) | {"content", "follow_redirects", "extensions"}


_CLOSING: set[asyncio.Task[Any]] = set()

_NO_ADAPTERS = (
    "requests transport adapters do not apply to an httpx client: pass an httpx transport as "
    "{'transport': ...} in the request kwargs (retries: 'retries', 'backoff_factor', 'retry_policy')"
)


class _Params(httpx.QueryParams):
    """httpx's query parameters, equal to a plain mapping with the same items (requests'
    ``session.params`` is a dict, and code compares it with one)."""

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Mapping) and not isinstance(other, httpx.QueryParams):
            other = httpx.QueryParams(dict(other))
        if isinstance(other, httpx.QueryParams):
            return sorted(self.multi_items()) == sorted(other.multi_items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _then_changed(name: str) -> Any:
    """dict's method ``name``, followed by a call to the _Proxies' ``changed``."""

    def method(self: _Proxies, *args: Any, **kwargs: Any) -> Any:
        result = getattr(dict, name)(self, *args, **kwargs)
        self._changed()
        return result

    method.__name__ = name
    return method


class _Proxies(dict[str, str]):
    """``client.proxies``: a dict whose changes reach the transport (requests reads the
    session's proxies on every call)."""

    def __init__(self, items: Mapping[str, str], changed: Callable[[], None]) -> None:
        super().__init__(items)
        self._changed = changed

    __setitem__ = _then_changed("__setitem__")
    __delitem__ = _then_changed("__delitem__")
    update = _then_changed("update")
    pop = _then_changed("pop")
    popitem = _then_changed("popitem")
    clear = _then_changed("clear")
    setdefault = _then_changed("setdefault")


class _StreamSetting:
    """``client.stream``: requests' boolean session attribute *and* httpx's ``stream()``
    method, which share the name. Truthiness and ``==`` give the flag; calling it opens a
    streamed response the httpx way."""

    __slots__ = ("_flag", "_open")

    def __init__(self, flag: bool, open_stream: Callable[..., Any]) -> None:
        self._flag = flag
        self._open = open_stream

    def __bool__(self) -> bool:
        return self._flag

    def __eq__(self, other: Any) -> bool:
        return self._flag == other if isinstance(other, (bool, int)) or other is None else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._flag)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._open(*args, **kwargs)


@dataclass
class _Call:
    request: httpx.Request
    send_kwargs: dict[str, Any]
    hooks: list[Callable[..., Any]] = field(default_factory=list)
    hook_kwargs: dict[str, Any] = field(default_factory=dict)


def _hook_list(value: Any) -> list[Callable[..., Any]]:
    if value is None:
        return []
    if callable(value):
        return [value]
    return list(value)


def _normalise_hooks(hooks: Mapping[str, Any] | None) -> dict[str, list[Callable[..., Any]]]:
    result: dict[str, list[Callable[..., Any]]] = {"response": []}
    for event, value in (hooks or {}).items():
        if event != "response":
            raise ValueError(f"unsupported hook event {event!r}: requests (and interlink) know only 'response'")
        result[event] = _hook_list(value)
    return result


def _body(data: Any, content: Any) -> tuple[Any, Any]:
    """requests' ``data`` as httpx's ``(data, content)``."""
    if data is None or isinstance(data, Mapping):
        return data, content
    if isinstance(data, (str, bytes, bytearray)):
        return None, bytes(data) if isinstance(data, bytearray) else data
    if isinstance(data, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in data):
        form: dict[str, list[Any]] = {}
        for key, value in data:
            form.setdefault(key, []).append(value)
        return form, content
    return None, data  # a file or an iterator of bytes: the raw body


def _tls_key(value: Any) -> Any:
    if isinstance(value, ssl.SSLContext):
        return ("ctx", id(value))
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


class RequestsCompat:
    """The requests layer shared by :class:`APIClient` and :class:`AsyncAPIClient`."""

    _interlink_transport: Any
    _interlink_entered: bool = False
    _auth: Any
    _params: httpx.QueryParams
    _timeout: httpx.Timeout
    _state: Any
    _build_auth: Callable[[Any], Any]

    def _setup_requests_compat(self, options: ClientOptions) -> None:
        self._interlink_entered = False
        self._interlink_verify = options.verify
        self._interlink_cert = options.cert
        self._interlink_token_tls = options.token_tls
        self._interlink_proxies = _Proxies(options.proxies, self._proxies_changed)
        self.hooks = _normalise_hooks(options.requests.get("hooks"))
        self._interlink_stream = bool(options.requests.get("stream", False))

    # -- requests' session attributes ------------------------------------------------------
    @property
    def verify(self) -> Any:
        """requests' ``Session.verify``: ``True``, ``False``, a CA path/PEM or an SSLContext."""
        return self._interlink_verify

    @verify.setter
    def verify(self, value: Any) -> None:
        self._retls(value, self._interlink_cert)
        self._interlink_verify = value

    @property
    def cert(self) -> Any:
        """requests' ``Session.cert``: a path, ``(cert, key)`` paths, or a ``MutualTLS``."""
        return self._interlink_cert

    @cert.setter
    def cert(self, value: Any) -> None:
        self._retls(self._interlink_verify, value)
        self._interlink_cert = value

    @property
    def proxies(self) -> dict[str, str]:
        """requests' ``Session.proxies`` (``{"https": url}``); changes are honoured."""
        return self._interlink_proxies

    @proxies.setter
    def proxies(self, value: Mapping[str, str] | None) -> None:
        self._interlink_proxies = _Proxies(value or {}, self._proxies_changed)
        self._proxies_changed()

    @property
    def stream(self) -> Any:
        """requests' ``Session.stream`` flag; still callable as httpx's ``client.stream(...)``."""
        return _StreamSetting(self._interlink_stream, self._httpx_stream)  # type: ignore[attr-defined]

    @stream.setter
    def stream(self, value: bool) -> None:
        self._interlink_stream = bool(value)

    @property
    def auth(self) -> Any:
        """The auth as set (a tuple stays a tuple, as on a requests session)."""
        return getattr(self, "_interlink_auth", None)

    @auth.setter
    def auth(self, value: Any) -> None:
        self._auth = self._build_auth(value)
        self._interlink_auth = value

    @property
    def params(self) -> httpx.QueryParams:
        return self._params

    @params.setter
    def params(self, value: Any) -> None:
        self._params = _Params(value)

    @property
    def timeout(self) -> httpx.Timeout:
        return self._timeout

    @timeout.setter
    def timeout(self, value: Any) -> None:
        self._timeout = as_timeout(value)

    @property
    def trust_env(self) -> bool:
        return self._trust_env  # type: ignore[attr-defined, no-any-return]

    @trust_env.setter
    def trust_env(self, value: bool) -> None:
        raise AttributeError(
            "trust_env cannot be changed on an existing client; pass {'trust_env': ...} in the "
            "client's request kwargs (it decides, when the client is made, whether HTTP(S)_PROXY "
            "and NO_PROXY from the environment apply)"
        )

    @property
    def adapters(self) -> Any:
        raise AttributeError(_NO_ADAPTERS)

    @adapters.setter
    def adapters(self, value: Any) -> None:
        raise AttributeError(_NO_ADAPTERS)

    def mount(self, prefix: str, adapter: Any) -> None:
        raise AttributeError(_NO_ADAPTERS)

    def _transport_for_settings(self) -> Any:
        transport = self._interlink_transport
        if not isinstance(transport, (RetryTransport, AsyncRetryTransport)):
            raise TypeError("TLS and proxy settings of a client with a custom transport= are the transport's own")
        return transport

    def _retls(self, verify: Any, cert: Any) -> None:
        transport = self._transport_for_settings()
        verify_now, token = tls_settings(verify, cert, self._interlink_token_tls)
        self._close_inners(transport.reconfigure(token_verify=token, verify=verify_now))

    def _proxies_changed(self) -> None:
        transport = self._transport_for_settings()
        verify_now, token = tls_settings(self._interlink_verify, self._interlink_cert, self._interlink_token_tls)
        self._close_inners(transport.reconfigure(token_verify=token, verify=verify_now,
                                                 proxy=proxy_url(self._interlink_proxies)))

    @staticmethod
    def _close_inners(inners: list[Any]) -> None:
        for inner in inners:
            if isinstance(inner, httpx.AsyncBaseTransport):
                try:  # a setter is sync: the async pool is closed on the running loop
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    continue  # no loop: nothing of it can be open (its sockets need one)
                task = loop.create_task(inner.aclose())
                _CLOSING.add(task)  # a reference until done, or the task may be collected early
                task.add_done_callback(_CLOSING.discard)
            else:
                inner.close()

    # -- lifecycle ------------------------------------------------------------------------
    def _entered(self, flag: bool) -> None:
        self._interlink_entered = flag
        transport = self._interlink_transport
        if isinstance(transport, (RetryTransport, AsyncRetryTransport)):
            transport.keep_alive = flag
        self._state = ClientState.OPENED if flag else ClientState.UNOPENED

    def _keeps_pools(self) -> bool:
        """Inside ``with``, or when the owner made the transport keep connections alive
        (``interlink.rest`` does for its long-lived clients): no closing after a request."""
        transport = self._interlink_transport
        if isinstance(transport, (RetryTransport, AsyncRetryTransport)):
            return transport.keep_alive
        return self._interlink_entered

    def _reopenable(self) -> None:
        self._state = ClientState.UNOPENED

    # -- per-call keywords ----------------------------------------------------------------
    def _send_kwargs(self, request: httpx.Request, kwargs: dict[str, Any]) -> dict[str, Any]:
        """requests' ``Session.send`` keywords on httpx's ``send``: ``allow_redirects``,
        ``verify``, ``cert``, ``proxies`` and ``timeout`` (set on the request)."""
        if not kwargs.keys() & {"allow_redirects", "verify", "cert", "proxies", "timeout"}:
            return kwargs
        kwargs = dict(kwargs)
        if "allow_redirects" in kwargs:
            kwargs["follow_redirects"] = kwargs.pop("allow_redirects")
        verify, cert, proxies = kwargs.pop("verify", None), kwargs.pop("cert", None), kwargs.pop("proxies", None)
        if verify is not None or cert is not None or proxies:
            route = self._route(verify, cert, proxies)
            if route is not None:
                request.extensions[ROUTE] = route
        if "timeout" in kwargs:
            timeout = kwargs.pop("timeout")
            if timeout is not None:
                request.extensions["timeout"] = as_timeout(timeout).as_dict()
        return kwargs

    def _prepare_call(self, method: str | bytes, url: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call:
        if len(args) > len(_POSITIONAL):
            raise TypeError(f"request() takes at most {len(_POSITIONAL) + 2} positional arguments")
        for name, value in zip(_POSITIONAL, args):
            if name in kwargs:
                raise TypeError(f"request() got multiple values for argument {name!r}")
            kwargs[name] = value
        unknown = set(kwargs) - _KEYWORDS
        if unknown:
            raise TypeError(f"request() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        if isinstance(method, bytes):
            method = method.decode("ascii")
        data, content = _body(kwargs.get("data"), kwargs.get("content"))
        auth = kwargs.get("auth")
        timeout = kwargs.get("timeout")
        follow = kwargs.get("follow_redirects", USE_CLIENT_DEFAULT)
        if kwargs.get("allow_redirects") is not None:
            follow = bool(kwargs["allow_redirects"])
        extensions = dict(kwargs.get("extensions") or {})
        verify, cert, proxies = kwargs.get("verify"), kwargs.get("cert"), kwargs.get("proxies")
        if verify is not None or cert is not None or proxies:
            route = self._route(verify, cert, proxies)
            if route is not None:
                extensions[ROUTE] = route
        request = self.build_request(  # type: ignore[attr-defined]
            method, url, content=content, data=data, files=kwargs.get("files"), json=kwargs.get("json"),
            params=kwargs.get("params"), headers=kwargs.get("headers"), cookies=kwargs.get("cookies"),
            timeout=USE_CLIENT_DEFAULT if timeout is None else as_timeout(timeout), extensions=extensions,
        )
        stream = kwargs.get("stream")
        stream = self._interlink_stream if stream is None else bool(stream)
        hooks = kwargs.get("hooks")
        call_hooks = _normalise_hooks(hooks)["response"] if hooks is not None else []
        hook_list = call_hooks or _hook_list(self.hooks.get("response"))
        send_kwargs: dict[str, Any] = {
            "auth": USE_CLIENT_DEFAULT if auth is None else auth,
            "follow_redirects": follow,
            "stream": stream,
        }
        if not hook_list:
            return _Call(request, send_kwargs)
        hook_kwargs = {"timeout": timeout, "verify": verify if verify is not None else self._interlink_verify,
                       "proxies": proxies or dict(self._interlink_proxies), "stream": stream,
                       "cert": cert if cert is not None else self._interlink_cert}
        return _Call(request, send_kwargs, hook_list, hook_kwargs)

    def _route(self, verify: Any, cert: Any, proxies: Any) -> Route | None:
        verify = self._interlink_verify if verify is None else verify
        cert = self._interlink_cert if cert is None else cert
        merged = dict(self._interlink_proxies)
        merged.update(proxies or {})
        proxy = proxy_url(merged)
        if verify == self._interlink_verify and cert == self._interlink_cert and merged == self._interlink_proxies:
            return None
        self._transport_for_settings()

        def settings() -> dict[str, Any]:
            result: dict[str, Any] = {"verify": tls_settings(verify, cert)[0]}
            if proxy:
                result["proxy"] = proxy
            return result

        return Route((_tls_key(verify), _tls_key(cert), proxy), settings)

    @staticmethod
    def _run_hooks(call: _Call, response: httpx.Response) -> httpx.Response:
        for hook in call.hooks:
            replaced = hook(response, **call.hook_kwargs)
            if replaced is not None:
                response = replaced
        return response
