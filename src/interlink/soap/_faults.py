"""SOAP Faults out of a parsed envelope, SOAP 1.1 and 1.2 alike (pure: an element in,
a :class:`SoapFault` or ``None`` out)."""

from __future__ import annotations

from typing import Any

from interlink.soap._errors import SoapFault, SoapReplyError

__all__ = ["SOAP11_ENV", "SOAP12_ENV", "envelope_body", "fault_from_envelope", "soap_version_of"]

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"


def _text(element: Any) -> str | None:
    if element is None:
        return None
    return "".join(element.itertext()).strip()


def soap_version_of(root: Any) -> str:
    """``"1.1"`` or ``"1.2"`` for a SOAP envelope; :class:`SoapReplyError` for anything else."""
    if not isinstance(root.tag, str):
        raise SoapReplyError("the reply is not a SOAP envelope")
    if root.tag == f"{{{SOAP11_ENV}}}Envelope":
        return "1.1"
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        return "1.2"
    raise SoapReplyError(f"the reply is not a SOAP envelope (root element {root.tag!r})")


def envelope_body(root: Any) -> Any:
    """The ``Body`` element of a SOAP 1.1/1.2 envelope."""
    namespace = SOAP11_ENV if soap_version_of(root) == "1.1" else SOAP12_ENV
    body = root.find(f"{{{namespace}}}Body")
    if body is None:
        raise SoapReplyError("the SOAP envelope has no Body")
    return body


def fault_from_envelope(root: Any) -> SoapFault | None:
    """The Fault in ``root``'s Body as a :class:`SoapFault`, or ``None`` when there is none."""
    version = soap_version_of(root)
    body = envelope_body(root)
    if version == "1.1":
        fault = body.find(f"{{{SOAP11_ENV}}}Fault")
        if fault is None:
            return None
        return SoapFault(
            _text(fault.find("faultstring")) or "SOAP Fault without a faultstring",
            code=_text(fault.find("faultcode")),
            actor=_text(fault.find("faultactor")) or None,
            detail=fault.find("detail"),
        )
    fault = body.find(f"{{{SOAP12_ENV}}}Fault")
    if fault is None:
        return None
    ns = {"env": SOAP12_ENV}
    subcodes = [_text(v) for v in fault.findall("env:Code/env:Subcode//env:Value", ns)]
    return SoapFault(
        _text(fault.find("env:Reason/env:Text", ns)) or "SOAP Fault without a Reason",
        code=_text(fault.find("env:Code/env:Value", ns)),
        actor=_text(fault.find("env:Role", ns)) or _text(fault.find("env:Node", ns)) or None,
        detail=fault.find("env:Detail", ns),
        subcodes=subcodes or None,
    )
