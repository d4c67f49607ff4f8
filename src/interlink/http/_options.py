"""Turn ape-pie/requests-style session kwargs into httpx client and transport settings.

Pure: a dict in, a :class:`ClientOptions` out; the caller's dict is never changed.
ape-pie adapters return ``requests.Session`` attributes (``auth``, ``headers``, ``params``,
``cookies``, ``verify``, ``cert``, ``timeout``, ``proxies``); httpx names the same things a
little differently and puts TLS on the transport. Where a custom CA is given, token
requests (to the identity provider) get ``token_verify``: the system store plus that CA,
with the same client certificate. Unknown keys are an error rather than
silently dropped: a misspelt ``verfy=`` must not turn into "verify against the system store".

Certificate and CA files are read when the first connection is made (as requests does), not
here: ``verify`` in the transport settings is then a :class:`LazyTLS`, which the transport
calls. ``token_tls="default"`` sends token requests with the system store and no client
certificate (a service record's identity provider is usually someone else's server).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import httpx

from interlink.http._retry import RetryPolicy
from interlink.http._tls import MutualTLS, PEMOrPath, ssl_context

__all__ = ["ClientOptions", "client_options", "tls_settings", "proxy_url", "env_proxy_for", "as_timeout", "LazyTLS",
           "DEFAULT_TIMEOUT", "DEFAULT_MAX_REDIRECTS", "Verify", "Cert", "TransportVerify", "Proxies"]

#: Always some timeout: requests (and so ape-pie) waits forever by default.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

#: requests' ``Session.max_redirects`` (httpx's own default is 20).
DEFAULT_MAX_REDIRECTS = 30

_CLIENT_KEYS = {"auth", "headers", "params", "cookies", "follow_redirects", "event_hooks", "trust_env",
                "max_redirects", "default_encoding"}
#: requests' session attributes that httpx has no client setting for; APIClient honours them.
_REQUESTS_KEYS = {"hooks", "stream"}
_TRANSPORT_KEYS = {"http1", "http2", "limits", "local_address", "uds", "socket_options"}


Verify = bool | str | bytes | os.PathLike[str] | ssl.SSLContext | None
"""requests' ``verify``: check against the system store (True, None) or not (False), a CA as a
path or PEM, or an SSLContext."""
Cert = PEMOrPath | tuple[PEMOrPath] | tuple[PEMOrPath, PEMOrPath] | MutualTLS | None
"""requests' ``cert``: a certificate (path or PEM), ``(cert, key)``, or a :class:`MutualTLS`."""
Proxies = str | httpx.URL | httpx.Proxy | Mapping[str, str] | None
"""requests' ``proxies`` (``{"https": url}``), or the one proxy httpx takes."""


@dataclass
class ClientOptions:
    client: dict[str, Any] = field(default_factory=dict)
    transport: dict[str, Any] = field(default_factory=dict)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    custom_transport: Any = None
    token_verify: TransportVerify | None = None
    #: requests-style values as given (``client.verify``, ``client.cert``, ``client.proxies``).
    verify: Verify = True
    cert: Cert = None
    proxies: dict[str, str] = field(default_factory=dict)
    token_tls: str = "client"
    #: requests' ``hooks`` and ``stream`` session attributes.
    requests: dict[str, Any] = field(default_factory=dict)


class LazyTLS:
    """An ``SSLContext`` built on first call, so certificate files are read when connecting."""

    __slots__ = ("_build", "_context")

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        self._build = build
        self._context: ssl.SSLContext | None = None

    def __call__(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = self._build()
        return self._context


def as_timeout(value: Any) -> httpx.Timeout:
    return _timeout(value)


def _timeout(value: Any) -> httpx.Timeout:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, tuple):  # requests: (connect, read)
        connect, read = value
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(float(value))


def _is_pem(value: Any) -> bool:
    return isinstance(value, (str, bytes)) and ("-----BEGIN" in (value.decode("ascii", "replace") if isinstance(value, bytes) else value))


TransportVerify = ssl.SSLContext | bool | LazyTLS
"""The ``verify`` interlink's transports take: an SSLContext built now or on first connect."""


@overload
def _verify(verify: Verify, cert: Cert, system: Literal[False] = False) -> TransportVerify: ...
@overload
def _verify(verify: Verify, cert: Cert, system: Literal[True]) -> TransportVerify | None: ...
def _verify(verify: Verify, cert: Cert, system: bool = False) -> TransportVerify | None:
    """The transport's ``verify``; with ``system=True`` the token requests' one (``None``:
    the same as the transport's)."""
    if isinstance(verify, ssl.SSLContext):
        if cert is not None:
            raise TypeError("give the client certificate inside the SSLContext passed as verify=")
        return None if system else verify
    ca = None
    if verify is False:
        check = False
    elif verify is True or verify is None:
        check = True
    elif _is_pem(verify) or isinstance(verify, (str, os.PathLike)):
        check, ca = True, verify
    else:
        raise TypeError(f"verify must be a bool, a CA path/PEM or an SSLContext, not {type(verify).__name__}")
    if isinstance(cert, MutualTLS):
        ca = cert.ca or ca
    if system and (ca is None or not check):
        return None  # nothing to widen
    if cert is None:
        return LazyTLS(lambda: ssl_context(ca=ca, system=system)) if ca is not None else check
    if isinstance(cert, MutualTLS):
        return LazyTLS(lambda: ssl_context(ca=ca, cert=cert.cert, key=cert.key, key_password=cert.key_password,
                                           verify=check, system=system))
    if isinstance(cert, tuple):
        cert_file, key_file = cert[0], cert[1] if len(cert) > 1 else None
    else:
        cert_file, key_file = cert, None
    return LazyTLS(lambda: ssl_context(ca=ca, cert=cert_file, key=key_file, verify=check, system=system))


def proxy_url(proxies: Proxies) -> str | httpx.URL | httpx.Proxy | None:
    """The one proxy httpx can use for a requests-style ``proxies`` mapping."""
    if not proxies:
        return None
    if isinstance(proxies, (str, httpx.URL, httpx.Proxy)):
        return proxies
    return proxies.get("https") or proxies.get("all") or proxies.get("http")


def env_proxy_for(url: str) -> str | None:
    """The proxy ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` choose for ``url``,
    as requests (``trust_env``) and httpx read them; ``None``: connect directly.

    A client is pinned to one origin, so the choice is made once, for its base URL.
    """
    from httpx._utils import URLPattern, get_environment_proxies

    target = httpx.URL(url)
    for pattern, proxy in sorted((URLPattern(k), v) for k, v in get_environment_proxies().items()):
        if pattern.matches(target):
            return proxy
    return None


def tls_settings(
    verify: Verify, cert: Cert, token_tls: str = "client"
) -> tuple[TransportVerify, TransportVerify | None]:
    """``(transport verify, token verify)`` for requests-style ``verify``/``cert``."""
    if token_tls == "default":
        token: TransportVerify | None = True  # the system store, no client certificate
        if isinstance(verify, ssl.SSLContext) or (verify is True and cert is None):
            token = None  # same as the service: no separate route needed
        return _verify(verify, cert), token
    if token_tls != "client":
        raise ValueError(f"token_tls must be 'client' or 'default', not {token_tls!r}")
    return _verify(verify, cert), _verify(verify, cert, system=True)


def client_options(kwargs: dict[str, Any] | None) -> ClientOptions:
    given = dict(kwargs or {})
    options = ClientOptions()
    options.client["timeout"] = _timeout(given.pop("timeout", None))
    verify = given.pop("verify", True)
    cert = given.pop("cert", None)
    mtls = given.pop("mtls", None)
    if mtls is not None:
        cert = mtls
    options.verify, options.cert = verify, cert
    options.token_tls = given.pop("token_tls", "client")
    options.transport["verify"], options.token_verify = tls_settings(verify, cert, options.token_tls)
    proxy = given.pop("proxy", None)
    proxies = given.pop("proxies", None)  # requests: {"https": url, ...}
    if proxies:
        options.proxies = dict(proxies)
    if proxies and not proxy:
        proxy = proxy_url(proxies)
    if proxy:
        options.transport["proxy"] = proxy
    if "allow_redirects" in given:  # requests' per-request name
        given["follow_redirects"] = given.pop("allow_redirects")
    retries = given.pop("retries", None)
    backoff = given.pop("backoff_factor", None)
    policy = given.pop("retry_policy", None)
    if policy is None:
        policy = RetryPolicy(
            retries=3 if retries is None else int(retries),
            backoff_factor=0.3 if backoff is None else float(backoff),
        )
    options.policy = policy
    options.custom_transport = given.pop("transport", None)
    if "max_response_size" in given:  # bytes of a decoded answer; None lifts the bound
        size = given.pop("max_response_size")
        options.transport["max_response_bytes"] = None if size is None else int(size)
    options.client.setdefault("max_redirects", given.pop("max_redirects", DEFAULT_MAX_REDIRECTS))
    for key in list(given):
        if key in _REQUESTS_KEYS:
            options.requests[key] = given.pop(key)
        elif key in _CLIENT_KEYS:
            options.client[key] = given.pop(key)
        elif key in _TRANSPORT_KEYS:
            options.transport[key] = given.pop(key)
    if given:
        raise TypeError(f"unknown client option(s): {', '.join(sorted(given))}")
    return options
