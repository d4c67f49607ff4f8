"""StUF's error messages (Fo01, Fo02, Fo03) as interlink's one error type."""

from __future__ import annotations

from typing import Any

from interlink.soap._errors import SoapFault
from interlink.stuf._stuf import STUF_NS

__all__ = ["StUFFault", "stuf_fault_in"]

_FOUT_BERICHTEN = {"Fo01Bericht", "Fo02Bericht", "Fo03Bericht"}


class StUFFault(SoapFault):
    """A StUF ``Fo01``/``Fo02``/``Fo03`` error: ``code`` (StUF's, e.g. ``StUF055``), ``plek``
    (client/server), ``omschrijving`` (also the message), ``details``; ``berichtcode`` says
    which Fo-message; ``soap_code`` is the SOAP faultcode when it came in a Fault."""

    def __init__(self, *, code: str | None, plek: str | None, omschrijving: str | None, details: str | None,
                 berichtcode: str | None, soap_code: str | None = None, detail: Any = None) -> None:
        super().__init__(omschrijving or "StUF error", code=code, detail=detail)
        self.plek = plek
        self.omschrijving = omschrijving
        self.details = details
        self.berichtcode = berichtcode
        self.soap_code = soap_code

    def __str__(self) -> str:
        where = f" ({self.plek})" if self.plek else ""
        return f"{self.berichtcode or 'StUF'} {self.code}{where}: {self.omschrijving}"


def _text(element: Any, path: str) -> str | None:
    found = element.find(path, {"StUF": STUF_NS})
    return None if found is None else "".join(found.itertext()).strip()


def stuf_fault_in(container: Any, *, soap_code: str | None = None) -> StUFFault | None:
    """The first StUF Fo-message directly inside ``container`` (a Body or a Fault detail)."""
    if container is None:
        return None
    for child in container:
        if not isinstance(child.tag, str):
            continue
        namespace, _, name = child.tag[1:].partition("}")
        if name in _FOUT_BERICHTEN or (name.startswith("Fo0") and namespace == STUF_NS):
            return StUFFault(
                code=_text(child, "StUF:body/StUF:code"), plek=_text(child, "StUF:body/StUF:plek"),
                omschrijving=_text(child, "StUF:body/StUF:omschrijving"),
                details=_text(child, "StUF:body/StUF:details"),
                berichtcode=_text(child, "StUF:stuurgegevens/StUF:berichtcode") or name[:4],
                soap_code=soap_code, detail=container,
            )
    return None
