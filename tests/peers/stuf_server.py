"""A StUF peer: a Starlette app answering StUF envelopes built from the request.

``POST /stuf/<endpoint>``: the request is parsed, recorded (headers and body, for the tests)
and answered in the request's SOAP version: a ``La01`` naming the request's
``referentienummer`` as ``crossRefnummer`` with zender and ontvanger swapped; a Fault with a
``Fo02`` detail when the message contains ``FAIL-FO02``; a bare ``Fo01`` in the Body for
``FAIL-FO01``; a hostile DTD reply for ``SEND-XXE`` / ``SEND-LAUGHS``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from soap_server import LAUGHS_REPLY, XXE_REPLY

STUF = "http://www.egem.nl/StUF/StUF0301"
ENVS = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}


def _envelope(version: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{ENVS[version]}" '
            f'xmlns:StUF="{STUF}"><env:Body>{body}</env:Body></env:Envelope>').encode()


def _fo(code: str) -> str:
    return (f'<StUF:{code}Bericht><StUF:stuurgegevens><StUF:berichtcode>{code}</StUF:berichtcode>'
            "</StUF:stuurgegevens><StUF:body><StUF:code>StUF055</StUF:code><StUF:plek>client</StUF:plek>"
            "<StUF:omschrijving>Berichtbody is niet conform schema in sectormodel</StUF:omschrijving>"
            "<StUF:details>Element 'medewerkeridentificatie' is not expected.</StUF:details></StUF:body>"
            f"</StUF:{code}Bericht>")


class StufPeer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def answer(self, body: bytes) -> tuple[int, bytes]:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        version = "1.1" if root.tag == f"{{{ENVS['1.1']}}}Envelope" else "1.2"
        text = body.decode("utf-8", "replace")
        if "SEND-XXE" in text:
            return 200, XXE_REPLY
        if "SEND-LAUGHS" in text:
            return 200, LAUGHS_REPLY
        if "FAIL-FO02" in text:
            if version == "1.1":
                fault = (f"<env:Fault><faultcode>env:Client</faultcode><faultstring>Berichtbody is niet conform"
                         f"</faultstring><detail>{_fo('Fo02')}</detail></env:Fault>")
            else:
                fault = ("<env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason>"
                         f'<env:Text xml:lang="nl">Berichtbody is niet conform</env:Text></env:Reason>'
                         f"<env:Detail>{_fo('Fo02')}</env:Detail></env:Fault>")
            return 500, _envelope(version, fault)
        if "FAIL-FO01" in text:
            return 200, _envelope(version, _fo("Fo01"))
        if "FAIL-PLAIN" in text:
            return 500, _envelope(version, "<env:Fault><faultcode>env:Server</faultcode><faultstring>Policy Falsified"
                                           "</faultstring></env:Fault>" if version == "1.1" else
                                  "<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason>"
                                  "<env:Text>Policy Falsified</env:Text></env:Reason></env:Fault>")
        ref = root.findtext(f".//{{{STUF}}}referentienummer") or ""
        zender = root.find(f".//{{{STUF}}}zender")
        ontvanger = root.find(f".//{{{STUF}}}ontvanger")

        def party(element: Any, name: str) -> str:
            inner = "".join(etree.tostring(child).decode() for child in element) if element is not None else ""
            return f"<StUF:{name}>{inner}</StUF:{name}>"

        answer = ('<BG:npsLa01 xmlns:BG="http://www.egem.nl/StUF/sector/bg/0310"><BG:stuurgegevens>'
                  "<StUF:berichtcode>La01</StUF:berichtcode>"
                  f"{party(ontvanger, 'zender')}{party(zender, 'ontvanger')}"
                  f"<StUF:crossRefnummer>{ref}</StUF:crossRefnummer></BG:stuurgegevens>"
                  '<BG:antwoord><BG:object StUF:entiteittype="NPS"><BG:geslachtsnaam>Jansen</BG:geslachtsnaam>'
                  "</BG:object></BG:antwoord></BG:npsLa01>")
        return 200, _envelope(version, answer)

    def asgi(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            self.requests.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
            status, reply = self.answer(body)
            media_type = request.headers.get("content-type", "text/xml").split(";")[0]
            return Response(reply, status_code=status, media_type=media_type)

        return Starlette(routes=[Route("/stuf/{endpoint}", endpoint, methods=["POST"])])
