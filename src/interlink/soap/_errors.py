"""The SOAP/StUF errors: one tree under interlink.http's :class:`~interlink.http.ClientError`.

Each class also keeps the zeep base a zeep user already catches (``zeep.exceptions.Fault``,
``TransportError``, ``Error``), so code written against a plain zeep client keeps working
when it is handed a client from :func:`~interlink.soap.build_soap_client`.
"""

from __future__ import annotations

from typing import Any

from zeep import exceptions as zeep_exceptions

from interlink.http import ClientError

__all__ = ["SoapError", "SoapFault", "SoapTransportError", "SoapReplyError"]


class SoapError(ClientError, zeep_exceptions.Error):
    """Base of everything that goes wrong calling a SOAP or StUF service."""

    def __init__(self, message: str = "") -> None:
        ClientError.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SoapFault(SoapError, zeep_exceptions.Fault):
    """The service answered with a SOAP Fault (1.1 or 1.2).

    ``code`` is the fault code as text (``soap:Server``, ``soap:Sender``...), ``message`` the
    fault string / reason, ``detail`` the ``detail`` element (lxml) or ``None``, ``actor`` the
    faultactor / role, ``subcodes`` the SOAP 1.2 subcode values.
    """

    def __init__(self, message: str, code: str | None = None, actor: str | None = None,
                 detail: Any = None, subcodes: list[Any] | None = None) -> None:
        SoapError.__init__(self, message)
        self.code = code
        self.actor = actor
        self.detail = detail
        self.subcodes = subcodes

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class SoapTransportError(SoapError, zeep_exceptions.TransportError):
    """An HTTP answer that is not a SOAP reply (an error status without a Fault body)."""

    def __init__(self, message: str = "", status_code: int = 0, content: bytes | None = None) -> None:
        SoapError.__init__(self, message)
        self.status_code = status_code
        self.content = content


class SoapReplyError(SoapError):
    """A reply refused before it was read: too large, not XML, a DTD or entities, a missing
    or wrong signature."""
