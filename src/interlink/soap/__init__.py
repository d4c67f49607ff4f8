"""SOAP on interlink's configured clients: zeep with a transport on httpx.

    from interlink.soap import build_soap_client

    client = build_soap_client(service)          # a zeep Client
    client.service.Echo(text="hi")               # a Fault raises SoapFault(code, message, detail)

Needs the ``soap`` extra: ``pip install 'interlink[soap]'`` (zeep, lxml; xmlsec for signatures).
"""

try:
    import lxml.etree  # noqa: F401
    import zeep  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.soap needs the soap extra ({error}): pip install 'interlink[soap]'") from error

from interlink.soap._client import (
    AsyncSoapClient,
    SoapClient,
    build_async_soap_client,
    build_soap_client,
    clear_wsdl_cache,
    close_shared_clients,
    safe_settings,
    translate_zeep_error,
)
from interlink.soap._errors import SoapError, SoapFault, SoapReplyError, SoapTransportError
from interlink.soap._faults import SOAP11_ENV, SOAP12_ENV, envelope_body, fault_from_envelope
from interlink.soap._options import SoapOptions, WsseOptions, soap_options
from interlink.soap._transport import AsyncHttpxTransport, HttpxTransport
from interlink.soap._wsse import ReplySignature, Timestamp, WsseStack, wsse_for
from interlink.soap._xml import MAX_REPLY_BYTES, parse_reply, strip_illegal_xml_chars

__all__ = [
    "build_soap_client", "build_async_soap_client", "SoapClient", "AsyncSoapClient",
    "HttpxTransport", "AsyncHttpxTransport", "safe_settings", "clear_wsdl_cache", "close_shared_clients",
    "translate_zeep_error",
    "SoapError", "SoapFault", "SoapReplyError", "SoapTransportError",
    "SOAP11_ENV", "SOAP12_ENV", "envelope_body", "fault_from_envelope",
    "SoapOptions", "WsseOptions", "soap_options",
    "Timestamp", "ReplySignature", "WsseStack", "wsse_for",
    "MAX_REPLY_BYTES", "parse_reply", "strip_illegal_xml_chars",
]
