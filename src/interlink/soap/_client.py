"""``build_soap_client(service)``: a zeep client whose every byte goes through interlink's
client for that service record.

Open Forms builds a ``requests.Session`` from its SOAP service and hands it to zeep; here the
record's :func:`interlink.http.build_client` client is wrapped in a zeep transport
(``_transport.py``), so mTLS, server CA, basic auth, API key, OAuth2, headers, timeouts and
the base-URL guard are the same as for JSON services. Differences from a plain zeep client:

* every zeep error leaves as one of interlink's (``SoapFault`` for a Fault, with code,
  message and detail; ``SoapTransportError``; ``SoapReplyError``), each still a subclass of
  the zeep exception a zeep user catches;
* replies with a DTD or entities are refused and replies are size-bounded;
* the parsed WSDL is cached per WSDL URL and credentials (an hour by default), so building a
  client per call — as Open Forms does — does not fetch and parse the WSDL every time;
* ``with build_soap_client(svc) as client:`` keeps connections open between calls; without
  it each call's connection is closed, as for interlink's other clients.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from zeep import Client, Settings
from zeep import exceptions as zx
from zeep.client import AsyncClient
from zeep.proxy import AsyncOperationProxy, OperationProxy, ServiceProxy
from zeep.wsdl import Document
from zeep.wsdl.bindings.soap import SoapBinding

from interlink.http import APIClient, AsyncAPIClient, ClientError, ServiceConfigAdapter
from interlink.soap._errors import SoapError, SoapFault, SoapReplyError, SoapTransportError
from interlink.soap._options import SoapOptions, record_value, soap_options
from interlink.soap._transport import AsyncHttpxTransport, HttpxTransport
from interlink.soap._wsse import wsse_for

__all__ = [
    "SoapClient", "AsyncSoapClient", "build_soap_client", "build_async_soap_client",
    "safe_settings", "clear_wsdl_cache", "close_shared_clients", "translate_zeep_error",
]

WSDL_CACHE_SECONDS = 3600.0
_WSDL_CACHE_SIZE = 64


def safe_settings(**overrides: Any) -> Settings:
    """zeep settings that refuse DTDs and entities in every document and keep libxml2's limits."""
    values: dict[str, Any] = {"strict": True, "forbid_dtd": True, "forbid_entities": True, "xml_huge_tree": False}
    values.update(overrides)
    return Settings(**values)


def translate_zeep_error(error: BaseException) -> SoapError:
    """The interlink error for a zeep one (already-translated errors are returned as they are)."""
    if isinstance(error, SoapError):
        return error
    if isinstance(error, zx.Fault):
        return SoapFault(error.message or "SOAP Fault", code=error.code, actor=error.actor,
                         detail=error.detail, subcodes=error.subcodes)
    if isinstance(error, zx.TransportError):
        return SoapTransportError(error.message or f"HTTP {error.status_code}", status_code=error.status_code,
                                  content=error.content)
    if isinstance(error, (zx.DTDForbidden, zx.EntitiesForbidden, zx.XMLSyntaxError,
                          zx.SignatureVerificationFailed, zx.ExternalReferenceForbidden)):
        return SoapReplyError(str(error) or type(error).__name__)
    return SoapError(str(error) or type(error).__name__)


def _reply_error(error: Exception) -> SoapError:
    if isinstance(error, zx.Error):
        return translate_zeep_error(error)
    # zeep reads some malformed replies with an IndexError/AttributeError/ValueError (an empty
    # Body, text where an element belongs); that is a bad reply, not a bug in the caller's code
    return SoapReplyError(f"the reply cannot be read: {type(error).__name__}: {error}")


def _prepare_call(proxy: OperationProxy, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """What zeep's SoapBinding.send does before the request (TypeError for bad arguments
    stays a TypeError: it is the caller's mistake, not the service's)."""
    soap_headers = proxy._merge_soap_headers(kwargs.get("_soapheaders"))
    if soap_headers:
        kwargs["_soapheaders"] = soap_headers
    service, client = proxy._proxy, proxy._proxy._client
    binding = service._binding
    try:
        envelope, http_headers = binding._create(proxy._op_name, args, kwargs, client=client,
                                                 options=service._binding_options)
    except zx.Fault as error:
        raise translate_zeep_error(error) from None
    return binding, client, envelope, http_headers


class _OperationProxy(OperationProxy):
    """zeep's SoapBinding.send in two halves, so that every failure to read the reply — and
    only that — becomes a :class:`SoapError`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self._proxy._binding, SoapBinding):  # HTTP GET/POST bindings: zeep's own way
            try:
                return super().__call__(*args, **kwargs)
            except zx.Error as error:
                raise translate_zeep_error(error) from None
        binding, client, envelope, http_headers = _prepare_call(self, args, kwargs)
        response = client.transport.post_xml(self._proxy._binding_options["address"], envelope, http_headers)
        return _read_reply(self, binding, client, response)


def _read_reply(proxy: Any, binding: Any, client: Any, response: Any) -> Any:
    """The reply of a sent operation, for the sync and the async proxy alike: any failure to read
    it (zeep raises IndexError on an empty Body) is a SoapReplyError, a Fault a SoapFault."""
    if client.settings.raw_response:
        return response
    try:
        return binding.process_reply(client, binding.get(proxy._op_name), response)
    except ClientError:
        raise
    except Exception as error:
        raise _reply_error(error) from None


class _AsyncOperationProxy(AsyncOperationProxy):
    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self._proxy._binding, SoapBinding):
            try:
                return await super().__call__(*args, **kwargs)
            except zx.Error as error:
                raise translate_zeep_error(error) from None
        binding, client, envelope, http_headers = _prepare_call(self, args, kwargs)
        response = await client.transport.post_xml(self._proxy._binding_options["address"], envelope, http_headers)
        return _read_reply(self, binding, client, response)


class _ServiceProxy(ServiceProxy):
    _operation_class: type = _OperationProxy

    def __init__(self, client: Any, binding: Any, **binding_options: Any) -> None:
        super().__init__(client, binding, **binding_options)
        self._operations = {name: self._operation_class(self, name) for name in self._binding.all()}


class _AsyncServiceProxy(_ServiceProxy):
    _operation_class = _AsyncOperationProxy


class SoapClient(Client):
    """A zeep ``Client`` whose operations raise interlink's SOAP errors."""

    _proxy_class: type = _ServiceProxy

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except zx.Error as error:
            raise translate_zeep_error(error) from None

    def _wrap(self, proxy: Any) -> Any:
        if proxy is None:
            return None
        return self._proxy_class(self, proxy._binding, **proxy._binding_options)

    def bind(self, service_name: str | None = None, port_name: str | None = None) -> Any:
        return self._wrap(super().bind(service_name, port_name))

    def create_service(self, binding_name: str, address: str) -> Any:
        return self._wrap(super().create_service(binding_name, address))

    def __enter__(self) -> SoapClient:
        opener = getattr(self.transport, "open", None)
        if opener is not None:
            opener()
        return self


class AsyncSoapClient(AsyncClient, SoapClient):
    """The async twin of :class:`SoapClient` (zeep's ``AsyncClient`` on interlink's clients)."""

    _proxy_class = _AsyncServiceProxy

    def bind(self, service_name: str | None = None, port_name: str | None = None) -> Any:
        return self._wrap(Client.bind(self, service_name, port_name))

    async def __aenter__(self) -> AsyncSoapClient:
        opener = getattr(self.transport, "aopen", None)
        if opener is not None:
            await opener()
        return self


# -- WSDL cache ------------------------------------------------------------------------------
_cache: OrderedDict[tuple[str, str, str], tuple[float, Document]] = OrderedDict()
_cache_lock = threading.Lock()


def clear_wsdl_cache() -> None:
    """Forget every parsed WSDL (the next client built loads its WSDL again)."""
    with _cache_lock:
        _cache.clear()


#: Everything interlink.http reads from a record to configure a client.
_CLIENT_FIELDS = (
    "base_url", "auth_type", "username", "client_id", "token_url", "scope", "client_auth_method",
    "api_key_header", "api_key_query", "jwt_lifetime", "user_id", "user_representation", "secret",
    "client_certificate", "client_private_key", "server_ca", "timeout", "extra_headers",
)


def _fingerprint(service: Any) -> str:
    """A hash of everything that configures the record's client: the key of the shared
    connection pool and of the WSDL cache (a record never gets a WSDL another record's
    credentials fetched). Secrets are only hashed, never kept."""
    parts = {name: record_value(service, name) for name in _CLIENT_FIELDS}
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _settings_key(settings: Settings) -> str:
    return repr(sorted((k, repr(v)) for k, v in vars(settings).items() if not k.startswith("_")))


def _document(wsdl: str, transport: HttpxTransport, settings: Settings, fingerprint: str,
              cache_seconds: float) -> Document:
    key = (wsdl, fingerprint, _settings_key(settings))
    now = time.monotonic()
    if cache_seconds > 0:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None and hit[0] > now:
                _cache.move_to_end(key)
                return hit[1]
    try:
        document = Document(wsdl, transport, settings=settings)
    except zx.Error as error:
        raise translate_zeep_error(error) from None
    if cache_seconds > 0:
        with _cache_lock:
            _cache[key] = (now + cache_seconds, document)
            while len(_cache) > _WSDL_CACHE_SIZE:
                _cache.popitem(last=False)
    return document


def _wsdl_location(given: str | os.PathLike[str] | None, options: SoapOptions, http: Any) -> tuple[str, Path | None]:
    """The WSDL's absolute URL (or local path) and, for a local one, the directory it may read."""
    location = os.fspath(given) if given is not None else (options.wsdl or "")
    if location and urlparse(location).scheme in ("", "file") and Path(location.removeprefix("file://")).exists():
        path = Path(location.removeprefix("file://")).resolve()
        return str(path), path.parent
    return http.to_absolute_url(location), None


def _prepare(service: Any, wsdl: Any, settings: Settings | None) -> tuple[SoapOptions, Settings, Any]:
    options = soap_options(service)
    return options, settings or safe_settings(), wsse_for(service, options.wsse)


# -- one connection pool per record -------------------------------------------------------------
_SHARED_POOLS = 32
_pools: OrderedDict[str, APIClient] = OrderedDict()
_pools_lock = threading.Lock()


def close_shared_clients() -> None:
    """Close the connection pools ``build_soap_client`` shares between clients of a record."""
    with _pools_lock:
        clients = list(_pools.values())
        _pools.clear()
    for client in clients:
        client.close()


def _shared_http(service: Any, fingerprint: str) -> APIClient:
    """The record's shared sync client (kept open): building a zeep client per call, as Open
    Forms does, then costs neither a new SSL context nor a new connection."""
    with _pools_lock:
        client = _pools.get(fingerprint)
        if client is not None and not client.is_closed:
            _pools.move_to_end(fingerprint)
            return client
    client = APIClient.configure_from(ServiceConfigAdapter(service))
    client.__enter__()
    evicted: list[APIClient] = []
    with _pools_lock:
        _pools[fingerprint] = client
        while len(_pools) > _SHARED_POOLS:
            evicted.append(_pools.popitem(last=False)[1])
    for old in evicted:
        old.close()
    return client


def build_soap_client(service: Any, *, wsdl: str | os.PathLike[str] | None = None,
                      settings: Settings | None = None, cache_seconds: float = WSDL_CACHE_SECONDS,
                      share_connections: bool = True, client_factory: Any = SoapClient,
                      **kwargs: Any) -> SoapClient:
    """A zeep client for ``service`` (a service record).

    ``wsdl`` defaults to the record's ``options["soap"]["wsdl"]`` (relative to its base URL)
    or the base URL itself; a local file path is read from disk. Clients built for the same
    record (same URL, credentials and certificates) share one open connection pool
    (``share_connections=False``: a client of its own, closed by ``with`` or ``close()``).
    ``client_factory`` (Open Forms' name) builds the zeep client; a subclass of
    :class:`SoapClient` keeps the error translation. Other ``kwargs`` go to it
    (``service_name``, ``port_name``, ``plugins``).
    """
    options, settings, wsse = _prepare(service, wsdl, settings)
    fingerprint = _fingerprint(service)
    if share_connections:
        http = _shared_http(service, fingerprint)
    else:
        http = APIClient.configure_from(ServiceConfigAdapter(service))
    location, local_root = _wsdl_location(wsdl, options, http)
    transport = HttpxTransport(http, operation_timeout=options.operation_timeout,
                               max_reply_bytes=options.max_reply_bytes, local_root=local_root,
                               shared=share_connections)
    document = _document(location, transport, settings, fingerprint, cache_seconds)
    return client_factory(document, wsse=wsse, transport=transport, settings=settings, **kwargs)


def build_async_soap_client(service: Any, *, wsdl: str | os.PathLike[str] | None = None,
                            settings: Settings | None = None, cache_seconds: float = WSDL_CACHE_SECONDS,
                            client_factory: Any = AsyncSoapClient, **kwargs: Any) -> AsyncSoapClient:
    """The async twin of :func:`build_soap_client`: operations are awaited; the WSDL (when not
    cached) is loaded synchronously, as zeep does, through a sync client for the same record."""
    options, settings, wsse = _prepare(service, wsdl, settings)
    adapter = ServiceConfigAdapter(service)
    wsdl_http = APIClient.configure_from(adapter)
    http = AsyncAPIClient.configure_from(adapter)
    location, local_root = _wsdl_location(wsdl, options, wsdl_http)
    transport = AsyncHttpxTransport(http, wsdl_http, operation_timeout=options.operation_timeout,
                                    max_reply_bytes=options.max_reply_bytes, local_root=local_root)
    document = _document(location, transport, settings, _fingerprint(service), cache_seconds)
    return client_factory(document, wsse=wsse, transport=transport, settings=settings, **kwargs)
