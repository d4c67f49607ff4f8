"""StUFClient: template-built StUF messages against a real StUF peer on loopback; safe replies."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from soap_fixtures import Record

from interlink.http import ClientError, InvalidURLError
from interlink.soap import SoapError, SoapFault, SoapReplyError, parse_reply
from interlink.stuf import AsyncStUFClient, EndpointType, StUFClient, StUFFault

TEMPLATES = os.path.join(os.path.dirname(__file__), "stuf_templates")
STUF = "http://www.egem.nl/StUF/StUF0301"
PARTIES = {
    "sector_alias": "bg",
    "zender": {"organisatie": "Gemeente X", "applicatie": "interlink", "gebruiker": "svc"},
    "ontvanger": {"organisatie": "Gemeente X", "applicatie": "BRP", "administratie": "bg"},
    "endpoints": {"beantwoord_vraag": "BeantwoordVraag", "vrije_berichten": "VrijeBerichten",
                  "ontvang_asynchroon": "OntvangAsynchroon"},
}


def stuf_record(url: str, version: str = "1.2", wsse: dict | None = None, **kwargs) -> Record:
    soap = {"version": version}
    if wsse:
        soap["wsse"] = wsse
    return Record(base_url=f"{url}/stuf/", options={"soap": soap, "stuf": PARTIES}, **kwargs)


def client_for(url: str, **kwargs) -> StUFClient:
    return StUFClient(stuf_record(url, **kwargs), templates=TEMPLATES)


@pytest.mark.parametrize("version,env", [("1.1", "http://schemas.xmlsoap.org/soap/envelope/"),
                                         ("1.2", "http://www.w3.org/2003/05/soap-envelope")])
def test_a_templated_request_round_trip(stuf_peer, version, env) -> None:
    with client_for(stuf_peer.url, version=version) as client:
        reply = client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "111222333"},
                                         endpoint_type=EndpointType.beantwoord_vraag)
    sent = stuf_peer.app.requests[-1]
    assert sent["path"] == "/stuf/BeantwoordVraag"
    assert sent["headers"]["soapaction"] == "http://www.egem.nl/StUF/sector/bg/0310/npsLv01"
    expected_type = "text/xml" if version == "1.1" else "application/soap+xml"
    assert sent["headers"]["content-type"].startswith(expected_type)
    request = etree.fromstring(sent["body"])
    assert request.tag == f"{{{env}}}Envelope"
    ns = {"StUF": STUF}
    assert request.findtext(".//StUF:zender/StUF:applicatie", namespaces=ns) == "interlink"
    assert request.findtext(".//StUF:zender/StUF:gebruiker", namespaces=ns) == "svc"
    assert request.findtext(".//StUF:ontvanger/StUF:administratie", namespaces=ns) == "bg"
    assert request.find(".//StUF:zender/StUF:administratie", ns) is None  # empty fields left out
    ref = request.findtext(".//StUF:referentienummer", namespaces=ns)
    assert len(ref) == 36
    assert len(request.findtext(".//StUF:tijdstipBericht", namespaces=ns)) == 14
    # the answer is parsed and handed back
    assert reply.body.tag.endswith("npsLa01")
    assert reply.xpath("//StUF:crossRefnummer/text()") == [ref]
    assert reply.xpath("//BG:geslachtsnaam/text()", BG="http://www.egem.nl/StUF/sector/bg/0310") == ["Jansen"]


def test_each_endpoint_type_goes_to_its_endpoint(stuf_peer) -> None:
    client = client_for(stuf_peer.url)
    for kind, path in [("vrije_berichten", "VrijeBerichten"), ("ontvang_asynchroon", "OntvangAsynchroon")]:
        client.templated_request("x", "bg/nps_vraag.xml", {"bsn": "1"}, endpoint_type=kind)
        assert stuf_peer.app.requests[-1]["path"] == f"/stuf/{path}"
    with pytest.raises(InvalidURLError):
        client.soap_request("x", "<a/>", endpoint_type="nope")


def test_user_input_is_escaped_and_stripped_of_illegal_characters(stuf_peer) -> None:
    client = client_for(stuf_peer.url)
    hostile = "</BG:opmerking><BG:inp.bsn>999</BG:inp.bsn>&amp; \x00\x0b\x1b done \ufffe"
    client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "1", "opmerking": hostile})
    request = etree.fromstring(stuf_peer.app.requests[-1]["body"])
    ns = {"BG": "http://www.egem.nl/StUF/sector/bg/0310"}
    expected = "</BG:opmerking><BG:inp.bsn>999</BG:inp.bsn>&amp;  done "
    assert request.findtext(".//BG:opmerking", namespaces=ns) == expected
    assert [e.text for e in request.findall(".//BG:inp.bsn", ns)] == ["1"]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_fault_with_fo02_is_a_stuf_fault(stuf_peer, version) -> None:
    client = client_for(stuf_peer.url, version=version)
    with pytest.raises(StUFFault) as caught:
        client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "FAIL-FO02"})
    fault = caught.value
    assert (fault.berichtcode, fault.code, fault.plek) == ("Fo02", "StUF055", "client")
    assert fault.omschrijving == "Berichtbody is niet conform schema in sectormodel"
    assert "medewerkeridentificatie" in fault.details
    assert fault.soap_code.endswith(("Client", "Sender"))
    assert isinstance(fault, SoapFault) and isinstance(fault, ClientError)


def test_a_bare_fo01_is_a_stuf_fault(stuf_peer) -> None:
    with pytest.raises(StUFFault) as caught:
        client_for(stuf_peer.url).templated_request("x", "bg/nps_vraag.xml", {"bsn": "FAIL-FO01"})
    assert caught.value.berichtcode == "Fo01" and caught.value.soap_code is None


def test_a_plain_fault_is_a_soap_fault(stuf_peer) -> None:
    with pytest.raises(SoapFault) as caught:
        client_for(stuf_peer.url, version="1.1").templated_request("x", "bg/nps_vraag.xml", {"bsn": "FAIL-PLAIN"})
    assert not isinstance(caught.value, StUFFault)
    assert caught.value.message == "Policy Falsified"


@pytest.mark.parametrize("marker", ["SEND-XXE", "SEND-LAUGHS"])
def test_xxe_and_billion_laughs_replies_are_refused(stuf_peer, marker) -> None:
    with pytest.raises(SoapReplyError, match="DTD"):
        client_for(stuf_peer.url).templated_request("x", "bg/nps_vraag.xml", {"bsn": marker})


def test_ws_security_username_token_and_timestamp_in_the_header(stuf_peer) -> None:
    client = client_for(stuf_peer.url, wsse={"username_token": True, "password_digest": True, "timestamp": 300},
                        username="stuf-user", secret="pw")
    client.templated_request("x", "bg/nps_vraag.xml", {"bsn": "1"})
    request = etree.fromstring(stuf_peer.app.requests[-1]["body"])
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    security = request.find(f".//{{{wsse}}}Security")
    assert security[0].tag == f"{{{wsu}}}Timestamp"
    assert security.findtext(f".//{{{wsse}}}Username") == "stuf-user"
    password = security.find(f".//{{{wsse}}}Password")
    assert password.get("Type").endswith("#PasswordDigest") and password.text != "pw"


def test_the_async_client(stuf_peer) -> None:
    async def main() -> None:
        async with AsyncStUFClient(stuf_record(stuf_peer.url), templates=TEMPLATES) as client:
            reply = await client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "2"})
            assert reply.body.tag.endswith("npsLa01")
            with pytest.raises(StUFFault):
                await client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "FAIL-FO02"})

    asyncio.run(main())


def test_parse_reply_refuses_oversized_and_non_xml() -> None:
    with pytest.raises(SoapReplyError, match="over the limit"):
        parse_reply(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)
    with pytest.raises(SoapReplyError, match="not well-formed"):
        parse_reply(b"<a><b></a>")
    deep = b"<a>" * 10_000 + b"</a>" * 10_000
    with pytest.raises(SoapReplyError):
        parse_reply(deep)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(
        lambda t: f"<?xml version='1.0'?><!DOCTYPE a [{t}]><a>{t}</a>".encode("utf-8", "surrogatepass")),
    st.text(max_size=200).map(lambda t: ("<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body>"
                                         f"<e:Fault><faultcode>{t}</faultcode></e:Fault></e:Body></e:Envelope>"
                                         ).encode("utf-8", "surrogatepass")),
))
def test_fuzz_the_reply_reader_raises_only_its_own_errors(data: bytes) -> None:
    client = StUFClient(stuf_record("http://127.0.0.1:9"), templates=TEMPLATES)
    try:
        client.read_reply(200, None, data)  # type: ignore[arg-type]
    except SoapError:
        pass


def test_mtls_from_the_record(stuf_mtls_peer, tls_pki) -> None:
    record = Record(base_url=f"{stuf_mtls_peer.url}/stuf/", client_certificate=tls_pki.client_cert_pem,
                    client_private_key=tls_pki.client_key_pem, server_ca=tls_pki.ca_pem,
                    options={"stuf": PARTIES})
    reply = StUFClient(record, templates=TEMPLATES).templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "3"})
    assert reply.body.tag.endswith("npsLa01")
    without_cert = Record(base_url=record.base_url, server_ca=tls_pki.ca_pem, options={"stuf": PARTIES})
    with pytest.raises(httpx.TransportError):
        StUFClient(without_cert, templates=TEMPLATES).templated_request("x", "bg/nps_vraag.xml", {"bsn": "3"})


def test_signed_stuf_messages_and_unsigned_replies(stuf_peer, soap_keys) -> None:
    from zeep.wsse.signature import MemorySignature

    keys = dict(client_certificate=soap_keys.client_cert, client_private_key=soap_keys.client_key)
    strict = client_for(stuf_peer.url, wsse={"signature": "signature", "timestamp": 60}, **keys)
    with pytest.raises(SoapReplyError, match="not signed"):  # the peer answers unsigned
        strict.templated_request("x", "bg/nps_vraag.xml", {"bsn": "1"})
    sent = etree.fromstring(stuf_peer.app.requests[-1]["body"])
    MemorySignature(b"", soap_keys.client_cert.encode()).verify(sent)  # raises when it does not verify
    lenient = client_for(stuf_peer.url, wsse={"signature": "binary", "accept_unsigned_replies": True}, **keys)
    assert lenient.templated_request("x", "bg/nps_vraag.xml", {"bsn": "1"}).body.tag.endswith("npsLa01")
