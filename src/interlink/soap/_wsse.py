"""WS-Security from a service record: Timestamp, UsernameToken (text or digest), Signature.

One stack serves both zeep clients and StUF's template-built envelopes: it works on an lxml
envelope, as zeep's own ``wsse`` objects do, and it is handed to zeep as a *single* object
because zeep calls ``client.wsse.verify(reply)`` and would fail on a list.

Signed replies are verified with ``reply_certificate`` (the service's signing certificate),
or with the record's own certificate when none is given (zeep's behaviour). A reply without a
signature is refused unless the record sets ``accept_unsigned_replies``; a Fault is let
through unsigned, since refusing it would hide the service's own error message and a Fault
carries no data to trust.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lxml import etree
from zeep import ns
from zeep.exceptions import SignatureVerificationFailed
from zeep.wsse.username import UsernameToken
from zeep.wsse.utils import WSU, ensure_id, get_security_header

from interlink.soap._errors import SoapReplyError
from interlink.soap._faults import SOAP11_ENV, SOAP12_ENV
from interlink.soap._options import WsseOptions, record_value

__all__ = ["Timestamp", "ReplySignature", "WsseStack", "wsse_for"]

_DS = "http://www.w3.org/2000/09/xmldsig#"


def _zulu(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Timestamp:
    """Adds a fresh ``wsu:Timestamp`` (Created, Expires = Created + ``ttl`` seconds), first
    in the Security header, to every message; replies are not checked."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl

    def apply(self, envelope: Any, headers: dict[str, str]) -> tuple[Any, dict[str, str]]:
        security = get_security_header(envelope)
        now = dt.datetime.now(dt.UTC)
        stamp = WSU.Timestamp(WSU.Created(_zulu(now)), WSU.Expires(_zulu(now + dt.timedelta(seconds=self.ttl))))
        ensure_id(stamp)
        security.insert(0, stamp)
        return envelope, headers

    def verify(self, envelope: Any) -> Any:
        return envelope


def _is_fault(envelope: Any) -> bool:
    return any(envelope.find(f"{{{env}}}Body/{{{env}}}Fault") is not None for env in (SOAP11_ENV, SOAP12_ENV))


class ReplySignature:
    """XML Signature over Body and Timestamp with the record's key and certificate; checks replies."""

    def __init__(self, key_pem: str, cert_pem: str, *, binary: bool, reply_certificate: str | None,
                 accept_unsigned: bool) -> None:
        from zeep.wsse.signature import MemorySignature, check_xmlsec_import

        try:
            check_xmlsec_import()
        except ImportError as error:  # pragma: no cover - depends on the installed extras
            raise ImportError(f"signing SOAP messages needs xmlsec ({error}): pip install xmlsec") from error
        self._sign = MemorySignature(key_pem.encode(), cert_pem.encode())
        self._binary = binary
        self._verify = MemorySignature(b"", (reply_certificate or cert_pem).encode())
        self.accept_unsigned = accept_unsigned

    def apply(self, envelope: Any, headers: dict[str, str]) -> tuple[Any, dict[str, str]]:
        from zeep.wsse.signature import BinarySignature

        if self._binary:  # zeep's BinarySignature reads files; its apply only needs the PEM data
            return BinarySignature.apply(self._sign, envelope, headers)  # type: ignore[arg-type]
        return self._sign.apply(envelope, headers)

    def verify(self, envelope: Any) -> Any:
        if envelope.find(f".//{{{ns.WSSE}}}Security/{{{_DS}}}Signature") is None:
            if self.accept_unsigned or _is_fault(envelope):
                return envelope
            raise SoapReplyError("the reply is not signed (the service record does not accept unsigned replies)")
        try:
            return self._verify.verify(envelope)
        except SignatureVerificationFailed:
            raise SoapReplyError("the reply's signature does not verify with the service's certificate") from None


class WsseStack:
    """Several WS-Security parts applied in order, verified as one."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts

    def apply(self, envelope: Any, headers: dict[str, str]) -> tuple[Any, dict[str, str]]:
        for part in self.parts:
            envelope, headers = part.apply(envelope, headers)
        return envelope, headers

    def verify(self, envelope: Any) -> Any:
        for part in self.parts:
            part.verify(envelope)
        return envelope

    def __bool__(self) -> bool:
        return bool(self.parts)


def wsse_for(service: Any, options: WsseOptions) -> WsseStack | None:
    """The WS-Security stack the record asks for, or ``None``."""
    if not options.enabled:
        return None
    parts: list[Any] = []
    if options.timestamp:
        parts.append(Timestamp(options.timestamp))
    if options.username_token:
        username = record_value(service, "username", "")
        if not username:
            raise ValueError("soap.wsse.username_token needs the record's username (and its secret)")
        parts.append(UsernameToken(username, record_value(service, "secret", "") or "",
                                   use_digest=options.password_digest, zulu_timestamp=True))
    if options.signature != "none":
        cert = record_value(service, "client_certificate")
        key = record_value(service, "client_private_key")
        if not cert or not key:
            raise ValueError("soap.wsse.signature needs the record's client certificate and private key")
        parts.append(ReplySignature(key, cert, binary=options.signature == "binary",
                                    reply_certificate=options.reply_certificate,
                                    accept_unsigned=options.accept_unsigned_replies))
    return WsseStack(parts)


def serialise(envelope: Any) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
