"""The SOAP part of a service record: ``service.options["soap"]``, read into one typed object.

Pure: a record (duck-typed, as interlink.http reads it) in, a :class:`SoapOptions` out.
The keys, all optional::

    {"soap": {
        "version": "1.1" | "1.2",            # envelope of template-built (StUF) messages; default 1.2
        "wsdl": "service.wsdl",              # relative to base_url (default: base_url itself)
        "operation_timeout": 30,             # seconds for calls (default: the record's timeout)
        "max_reply_bytes": 10485760,
        "wsse": {
            "username_token": true,          # record username + secret
            "password_digest": false,        # PasswordDigest instead of PasswordText
            "timestamp": 300,                # add wsu:Timestamp valid this many seconds (0: none)
            "signature": "none" | "signature" | "binary",   # sign with the record's certificate
            "reply_certificate": "-----BEGIN CERTIFICATE-----...",  # verifies signed replies
            "accept_unsigned_replies": false
        }
    }}

Unknown keys are refused: a misspelt ``"pasword_digest"`` must not quietly send plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interlink.soap._xml import MAX_REPLY_BYTES

__all__ = ["SoapOptions", "WsseOptions", "soap_options", "record_value"]

SIGNATURE_MODES = ("none", "signature", "binary")
SOAP_VERSIONS = ("1.1", "1.2")


def record_value(service: Any, name: str, default: Any = None) -> Any:
    """``service.get_<name>()`` when the record has it, else the attribute (``None`` → default)."""
    getter = getattr(service, f"get_{name}", None)
    if callable(getter):
        return getter()
    value = getattr(service, name, default)
    return default if value is None else value


@dataclass(frozen=True)
class WsseOptions:
    username_token: bool = False
    password_digest: bool = False
    timestamp: int = 0
    signature: str = "none"
    reply_certificate: str | None = None
    accept_unsigned_replies: bool = False

    @property
    def enabled(self) -> bool:
        return self.username_token or self.timestamp > 0 or self.signature != "none"


@dataclass(frozen=True)
class SoapOptions:
    version: str = "1.2"
    wsdl: str = ""
    operation_timeout: float | None = None
    max_reply_bytes: int = MAX_REPLY_BYTES
    wsse: WsseOptions = WsseOptions()


def _check_keys(section: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(given) - allowed
    if unknown:
        raise ValueError(f"unknown {section} option(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(allowed))}")


def _wsse(raw: Any) -> WsseOptions:
    if not raw:
        return WsseOptions()
    if not isinstance(raw, dict):
        raise ValueError("soap.wsse must be an object")
    _check_keys("soap.wsse", raw, set(WsseOptions.__dataclass_fields__))
    signature = str(raw.get("signature") or "none")
    if signature not in SIGNATURE_MODES:
        raise ValueError(f"soap.wsse.signature must be one of {', '.join(SIGNATURE_MODES)}, not {signature!r}")
    timestamp = raw.get("timestamp") or 0
    if timestamp is True:
        timestamp = 300
    timestamp = int(timestamp)
    if timestamp < 0:
        raise ValueError("soap.wsse.timestamp must be 0 (none) or a validity in seconds")
    return WsseOptions(
        username_token=bool(raw.get("username_token", False)),
        password_digest=bool(raw.get("password_digest", False)),
        timestamp=timestamp,
        signature=signature,
        reply_certificate=raw.get("reply_certificate") or None,
        accept_unsigned_replies=bool(raw.get("accept_unsigned_replies", False)),
    )


def soap_options(service: Any) -> SoapOptions:
    """The record's SOAP options (defaults where it has none); ``ValueError`` on bad ones."""
    options = record_value(service, "options", {}) or {}
    raw = options.get("soap") or {}
    if not isinstance(raw, dict):
        raise ValueError("options.soap must be an object")
    _check_keys("soap", raw, {"version", "wsdl", "operation_timeout", "max_reply_bytes", "wsse"})
    version = str(raw.get("version") or "1.2")
    if version not in SOAP_VERSIONS:
        raise ValueError(f"soap.version must be 1.1 or 1.2, not {version!r}")
    timeout = raw.get("operation_timeout")
    max_reply = int(raw.get("max_reply_bytes") or MAX_REPLY_BYTES)
    if max_reply <= 0:
        raise ValueError("soap.max_reply_bytes must be positive")
    return SoapOptions(
        version=version,
        wsdl=str(raw.get("wsdl") or ""),
        operation_timeout=float(timeout) if timeout else None,
        max_reply_bytes=max_reply,
        wsse=_wsse(raw.get("wsse")),
    )
