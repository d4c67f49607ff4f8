"""Turn ape-pie/requests-style session kwargs into httpx client and transport settings.

Pure: a dict in, a :class:`ClientOptions` out; the caller's dict is never changed.
ape-pie adapters return ``requests.Session`` attributes (``auth``, ``headers``, ``params``,
``cookies``, ``verify``, ``cert``, ``timeout``, ``proxies``); httpx names the same things a
little differently and puts TLS on the transport. Where a custom CA is given, token
requests (to the identity provider) get ``token_verify``: the system store plus that CA,
with the same client certificate. Unknown keys are an error rather than
silently dropped: a misspelt ``verfy=`` must not turn into "verify against the system store".
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx

from interlink.http._retry import RetryPolicy
from interlink.http._tls import MutualTLS, ssl_context

__all__ = ["ClientOptions", "client_options", "DEFAULT_TIMEOUT"]

#: Always some timeout: requests (and so ape-pie) waits forever by default.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

_CLIENT_KEYS = {"auth", "headers", "params", "cookies", "follow_redirects", "event_hooks", "trust_env",
                "max_redirects", "default_encoding"}
_TRANSPORT_KEYS = {"http1", "http2", "limits", "local_address", "uds", "socket_options"}


@dataclass
class ClientOptions:
    client: dict[str, Any] = field(default_factory=dict)
    transport: dict[str, Any] = field(default_factory=dict)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    custom_transport: Any = None
    token_verify: ssl.SSLContext | bool | None = None


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


def _verify(verify: Any, cert: Any, system: bool = False) -> ssl.SSLContext | bool | None:
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
        return ssl_context(ca=ca, system=system) if ca is not None else check
    if isinstance(cert, MutualTLS):
        return ssl_context(ca=ca, cert=cert.cert, key=cert.key, key_password=cert.key_password,
                           verify=check, system=system)
    if isinstance(cert, tuple):
        cert_file, key_file = cert[0], cert[1] if len(cert) > 1 else None
    else:
        cert_file, key_file = cert, None
    return ssl_context(ca=ca, cert=cert_file, key=key_file, verify=check, system=system)


def client_options(kwargs: dict[str, Any] | None) -> ClientOptions:
    given = dict(kwargs or {})
    options = ClientOptions()
    options.client["timeout"] = _timeout(given.pop("timeout", None))
    verify = given.pop("verify", True)
    cert = given.pop("cert", None)
    mtls = given.pop("mtls", None)
    if mtls is not None:
        cert = mtls
    options.transport["verify"] = _verify(verify, cert)
    options.token_verify = _verify(verify, cert, system=True)
    proxy = given.pop("proxy", None)
    proxies = given.pop("proxies", None)  # requests: {"https": url, ...}
    if proxies and not proxy:
        proxy = proxies.get("https") or proxies.get("all") or proxies.get("http")
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
    for key in list(given):
        if key in _CLIENT_KEYS:
            options.client[key] = given.pop(key)
        elif key in _TRANSPORT_KEYS:
            options.transport[key] = given.pop(key)
    if given:
        raise TypeError(f"unknown client option(s): {', '.join(sorted(given))}")
    return options
