"""StUF concepts from a service record: parties (zender/ontvanger), endpoints, sector.

Names follow Open Forms' ``stuf`` package (``EndpointType``, ``InvolvedParty``,
``StuurGegevens``). The record's ``options["stuf"]``::

    {"stuf": {
        "sector_alias": "bg",                              # SOAPAction .../sector/bg/0310/<action>
        "zender":    {"organisatie": "...", "applicatie": "...", "administratie": "...", "gebruiker": "..."},
        "ontvanger": {"organisatie": "...", "applicatie": "...", "administratie": "...", "gebruiker": "..."},
        "endpoints": {"beantwoord_vraag": "BeantwoordVraag", "vrije_berichten": "VrijeBerichten",
                      "ontvang_asynchroon": "OntvangAsynchroon"}   # relative to base_url, or absolute
    }}

An endpoint left out is the base URL itself, as in Open Forms. Every endpoint must lie inside
the record's base URL (interlink's base-URL guard).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from interlink.soap._options import record_value

__all__ = ["EndpointType", "InvolvedParty", "StuurGegevens", "StufOptions", "stuf_options", "STUF_NS"]

STUF_NS = "http://www.egem.nl/StUF/StUF0301"


class EndpointType(StrEnum):
    beantwoord_vraag = "beantwoord_vraag"
    vrije_berichten = "vrije_berichten"
    ontvang_asynchroon = "ontvang_asynchroon"


@dataclass(frozen=True)
class InvolvedParty:
    applicatie: str
    organisatie: str = ""
    administratie: str = ""
    gebruiker: str = ""

    NAMES = ("applicatie", "organisatie", "administratie", "gebruiker")

    @classmethod
    def from_options(cls, raw: Any, prefix: Literal["zender", "ontvanger"]) -> InvolvedParty:
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ValueError(f"stuf.{prefix} must be an object")
        unknown = set(raw) - set(cls.NAMES)
        if unknown:
            raise ValueError(f"unknown stuf.{prefix} field(s): {', '.join(sorted(unknown))}")
        return cls(**{name: str(raw.get(name) or "") for name in cls.NAMES})


@dataclass(frozen=True)
class StuurGegevens:
    zender: InvolvedParty
    ontvanger: InvolvedParty


@dataclass(frozen=True)
class StufOptions:
    sector_alias: str
    stuurgegevens: StuurGegevens
    endpoints: dict[EndpointType, str]


def stuf_options(service: Any) -> StufOptions:
    options = record_value(service, "options", {}) or {}
    raw = options.get("stuf") or {}
    if not isinstance(raw, dict):
        raise ValueError("options.stuf must be an object")
    unknown = set(raw) - {"sector_alias", "zender", "ontvanger", "endpoints"}
    if unknown:
        raise ValueError(f"unknown stuf option(s): {', '.join(sorted(unknown))}")
    endpoints_raw = raw.get("endpoints") or {}
    bad = set(endpoints_raw) - {e.value for e in EndpointType}
    if bad:
        raise ValueError(f"unknown stuf endpoint type(s): {', '.join(sorted(bad))}; "
                         f"known: {', '.join(e.value for e in EndpointType)}")
    return StufOptions(
        sector_alias=str(raw.get("sector_alias") or ""),
        stuurgegevens=StuurGegevens(InvolvedParty.from_options(raw.get("zender"), "zender"),
                                    InvolvedParty.from_options(raw.get("ontvanger"), "ontvanger")),
        endpoints={e: str(endpoints_raw.get(e.value) or "") for e in EndpointType},
    )
