"""``StUFClient(service).templated_request(soap_action, template, context)``: StUF over
interlink's configured client for a service record.

Open Forms' StUF ``BaseClient`` with the same method names (``build_base_context``,
``templated_request``, ``soap_request``, ``to_absolute_url``), on httpx. The request side
(render, sign, headers) and the reply side (safe parse, verify, Fault / Fo-message → error)
are plain functions; :class:`StUFClient` and :class:`AsyncStUFClient` only add the I/O.
An endpoint the record leaves out is its URL exactly as configured (no ``/`` appended), as in
Open Forms. Differences from Open Forms: replies are parsed and checked here (a Fault or Fo01/Fo02/Fo03
raises :class:`StUFFault`/:class:`SoapFault`, a DTD or entity is refused), all template
output is made XML-safe (not only the ``initiator``/``extra`` keys), and the WS-Security
header is built by the same code as for zeep clients (Timestamp in the ``wsu`` namespace,
digest passwords and signatures available).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from lxml import etree

from interlink.http import APIClient, AsyncAPIClient, InvalidURLError, ServiceConfigAdapter
from interlink.soap._errors import SoapReplyError, SoapTransportError
from interlink.soap._faults import envelope_body, fault_from_envelope, soap_version_of
from interlink.soap._options import soap_options
from interlink.soap._transport import asend_bounded, bounds, send_bounded
from interlink.soap._wsse import wsse_for
from interlink.soap._xml import parse_reply
from interlink.stuf._errors import stuf_fault_in
from interlink.stuf._stuf import EndpointType, stuf_options
from interlink.stuf._templates import template_environment, tijdstip_bericht

__all__ = ["StUFClient", "AsyncStUFClient", "StUFReply", "SOAP_VERSION_CONTENT_TYPES"]

SOAP_VERSION_CONTENT_TYPES = {"1.1": "text/xml", "1.2": "application/soap+xml"}


@dataclass
class StUFReply:
    """A StUF answer that passed every check: ``root`` is the envelope, ``body`` the first
    element in the SOAP Body (``None`` for an empty Body, e.g. a Bv03 acknowledgement)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    root: Any
    body: Any

    def xpath(self, expression: str, **namespaces: str) -> Any:
        namespaces.setdefault("StUF", "http://www.egem.nl/StUF/StUF0301")
        return self.root.xpath(expression, namespaces=namespaces)


class _StUFBase:
    sector_alias: str = ""
    """The sector (``bg``, ``zkn``...) in the SOAPAction; the record's ``sector_alias`` wins."""

    def __init__(self, service: Any, *, templates: Any = None, sector_alias: str | None = None) -> None:
        self.service = service
        soap = soap_options(service)
        stuf = stuf_options(service)
        self.soap_version = soap.version
        self.max_reply_bytes = soap.max_reply_bytes
        self.operation_timeout = soap.operation_timeout
        self.stuurgegevens = stuf.stuurgegevens
        self.sector_alias = sector_alias or stuf.sector_alias or self.sector_alias
        self.wsse = wsse_for(service, soap.wsse)
        self.templates = template_environment(templates)
        adapter = ServiceConfigAdapter(service)
        self._http: Any = self._make_http(adapter)
        # An endpoint left out is the service URL exactly as configured, as Open Forms posts
        # (the client's base_url is that URL as a directory, ending in "/", for relative paths).
        base = self._http.to_absolute_url(adapter.get_client_base_url().strip())
        self._endpoints = {kind: self._http.to_absolute_url(path) if path else base
                           for kind, path in stuf.endpoints.items()}

    def _make_http(self, adapter: ServiceConfigAdapter) -> Any:
        raise NotImplementedError

    # -- URLs ------------------------------------------------------------------------------
    def to_absolute_url(self, maybe_relative_url: str | EndpointType) -> str:
        """An endpoint type's URL, or an absolute URL that is one of the endpoints."""
        if maybe_relative_url in self._endpoints.values():
            return str(maybe_relative_url)
        try:
            return self._endpoints[EndpointType(maybe_relative_url)]
        except ValueError:
            known = ", ".join(e.value for e in EndpointType)
            raise InvalidURLError(f"{maybe_relative_url!r} is not an endpoint type ({known}) "
                                  "nor one of the record's endpoints") from None

    def soap_action(self, soap_action: str) -> str:
        return f"http://www.egem.nl/StUF/sector/{self.sector_alias}/0310/{soap_action}"

    # -- request side (pure) -----------------------------------------------------------------
    def build_base_context(self) -> dict[str, Any]:
        return {
            "soap_version": self.soap_version,
            "stuurgegevens": self.stuurgegevens,
            "referentienummer": str(uuid.uuid4()),
            "tijdstip_bericht": tijdstip_bericht(),
        }

    def render(self, template: str, context: dict[str, Any] | None = None) -> bytes:
        """The message for ``template`` with the base context and ``context`` (yours wins),
        WS-Security applied; UTF-8 bytes."""
        full = {**self.build_base_context(), **(context or {})}
        text = self.templates.get_template(template).render(full)
        return self._secure(text.encode("utf-8"))

    def _secure(self, message: bytes) -> bytes:
        if not self.wsse:
            return message
        try:
            envelope = etree.fromstring(message, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise ValueError(f"the rendered StUF template is not well-formed XML: {exc}") from None
        envelope, _ = self.wsse.apply(envelope, {})
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    def _headers(self, soap_action: str) -> dict[str, str]:
        action = self.soap_action(soap_action)
        content_type = f"{SOAP_VERSION_CONTENT_TYPES[self.soap_version]}; charset=utf-8"
        if self.soap_version == "1.2":
            content_type += f'; action="{action}"'
        # Open Forms sends SOAPAction for both versions (StUF servers look for it); so do we
        return {"Content-Type": content_type, "SOAPAction": action}

    def _timeout(self) -> Any:
        return httpx.USE_CLIENT_DEFAULT if self.operation_timeout is None else httpx.Timeout(self.operation_timeout)

    # -- reply side (pure) -------------------------------------------------------------------
    def read_reply(self, status_code: int, headers: httpx.Headers, content: bytes) -> StUFReply:
        """Check a reply; a Fault or Fo-message raises, anything unreadable raises SoapReplyError."""
        if status_code >= 400 and not content.strip():
            raise SoapTransportError(f"the service answered HTTP {status_code} without a body",
                                     status_code=status_code, content=content)
        root = parse_reply(content, max_bytes=self.max_reply_bytes)
        soap_version_of(root)
        if self.wsse:
            self.wsse.verify(root)
        fault = fault_from_envelope(root)
        if fault is not None:
            stuf_fault = stuf_fault_in(fault.detail, soap_code=fault.code)
            raise stuf_fault or fault
        body = envelope_body(root)
        stuf_fault = stuf_fault_in(body)
        if stuf_fault is not None:
            raise stuf_fault
        if status_code >= 400:
            raise SoapTransportError(f"the service answered HTTP {status_code} without a Fault",
                                     status_code=status_code, content=content)
        first = next((child for child in body if isinstance(child.tag, str)), None)
        return StUFReply(status_code, headers, content, root, first)


class StUFClient(_StUFBase):
    """A StUF client for one service record. Use ``with`` to keep connections open."""

    def _make_http(self, adapter: ServiceConfigAdapter) -> Any:
        return APIClient.configure_from(adapter)

    def soap_request(self, soap_action: str, body: str | bytes,
                     endpoint_type: EndpointType | str = EndpointType.vrije_berichten) -> StUFReply:
        url = self.to_absolute_url(endpoint_type)
        content = body.encode("utf-8") if isinstance(body, str) else body
        request = self._http.build_request("POST", url, content=content, headers=self._headers(soap_action),
                                           timeout=self._timeout(),
                                           extensions=bounds(self.operation_timeout, self.max_reply_bytes))
        response = send_bounded(self._http, request, self.max_reply_bytes)
        return self.read_reply(response.status_code, response.headers, response.content)

    def templated_request(self, soap_action: str, template: str, context: dict[str, Any] | None = None,
                          endpoint_type: EndpointType | str = EndpointType.vrije_berichten) -> StUFReply:
        return self.soap_request(soap_action, self.render(template, context), endpoint_type)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StUFClient:
        self._http.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._http.__exit__(*exc)


class AsyncStUFClient(_StUFBase):
    """The async twin of :class:`StUFClient`."""

    def _make_http(self, adapter: ServiceConfigAdapter) -> Any:
        return AsyncAPIClient.configure_from(adapter)

    async def soap_request(self, soap_action: str, body: str | bytes,
                           endpoint_type: EndpointType | str = EndpointType.vrije_berichten) -> StUFReply:
        url = self.to_absolute_url(endpoint_type)
        content = body.encode("utf-8") if isinstance(body, str) else body
        request = self._http.build_request("POST", url, content=content, headers=self._headers(soap_action),
                                           timeout=self._timeout(),
                                           extensions=bounds(self.operation_timeout, self.max_reply_bytes))
        response = await asend_bounded(self._http, request, self.max_reply_bytes)
        return self.read_reply(response.status_code, response.headers, response.content)

    async def templated_request(self, soap_action: str, template: str, context: dict[str, Any] | None = None,
                                endpoint_type: EndpointType | str = EndpointType.vrije_berichten) -> StUFReply:
        return await self.soap_request(soap_action, self.render(template, context), endpoint_type)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncStUFClient:
        await self._http.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._http.__aexit__(*exc)
