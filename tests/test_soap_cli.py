"""``interlink services add`` for SOAP and StUF records; ``services check`` calls a SOAP endpoint."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from interlink.cli import main
from interlink.soap import build_soap_client
from interlink.store import find_service
from interlink.stuf import StUFClient


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("INTERLINK_SECRET_KEY", key)
    return key


def invoke(database_url: str, *args: str):
    return CliRunner().invoke(main, ["--database", database_url, *args])


def test_add_and_check_a_soap_record_behind_basic_auth(database, database_url, secret_key, soap_peer,
                                                       monkeypatch) -> None:
    from soap_server import BASIC_PASSWORD, BASIC_USER

    monkeypatch.setenv("SOAP_PW", BASIC_PASSWORD)
    result = invoke(database_url, "services", "add", "echo", f"{soap_peer.url}/basic/", "--auth", "basic",
                    "--username", BASIC_USER, "--secret-env", "SOAP_PW", "--soap-version", "1.1", "--wsdl", "?wsdl",
                    "--operation-timeout", "5")
    assert result.exit_code == 0, result.output
    with database.session() as session:
        service = find_service(session, "echo")
        assert service.options == {"soap": {"version": "1.1", "wsdl": "?wsdl", "operation_timeout": 5.0}}
        assert build_soap_client(service, cache_seconds=0).service.Add(1, 1) == 2

    result = invoke(database_url, "services", "check", "echo")
    assert result.exit_code == 0, result.output
    assert "WSDL loaded" in result.output and "Echo" in result.output
    result = invoke(database_url, "services", "check", "echo", "--operation", "Echo", "--arg", "text=hello")
    assert result.exit_code == 0 and "Echo -> 'hello'" in result.output, result.output
    result = invoke(database_url, "services", "check", "echo", "--operation", "Fail", "--arg", "code=Client.X",
                    "--arg", "message=broken on purpose")
    assert result.exit_code == 1
    assert "SOAP Fault" in result.output and "broken on purpose" in result.output and "Traceback" not in result.output


def test_check_reports_refused_credentials_in_one_line(database, database_url, secret_key, soap_peer) -> None:
    assert invoke(database_url, "services", "add", "nocreds", f"{soap_peer.url}/basic/", "--wsdl", "?wsdl",
                  "--soap-version", "1.1").exit_code == 0
    result = invoke(database_url, "services", "check", "nocreds")
    assert result.exit_code == 1 and "401" in result.output and "Traceback" not in result.output


def test_add_a_stuf_record_the_stuf_client_uses(database, database_url, secret_key, stuf_peer) -> None:
    import os

    result = invoke(database_url, "services", "add", "brp", f"{stuf_peer.url}/stuf/", "--soap-version", "1.2",
                    "--stuf-sector", "bg", "--stuf-zender", "applicatie=interlink", "--stuf-zender", "organisatie=X",
                    "--stuf-ontvanger", "applicatie=BRP", "--stuf-endpoint", "beantwoord_vraag=BeantwoordVraag")
    assert result.exit_code == 0, result.output
    with database.session() as session:
        client = StUFClient(find_service(session, "brp"),
                            templates=os.path.join(os.path.dirname(__file__), "stuf_templates"))
        reply = client.templated_request("npsLv01", "bg/nps_vraag.xml", {"bsn": "1"}, endpoint_type="beantwoord_vraag")
    assert reply.body.tag.endswith("npsLa01")
    listing = invoke(database_url, "services", "list").output
    assert "stuf" in listing.split("brp", 1)[1].splitlines()[0]
    sent = stuf_peer.app.requests[-1]
    assert sent["path"] == "/stuf/BeantwoordVraag"
    assert sent["headers"]["soapaction"].endswith("/bg/0310/npsLv01")


def test_bad_protocol_options_are_refused(database, database_url, secret_key) -> None:
    result = invoke(database_url, "services", "add", "bad", "https://x.example/", "--stuf-endpoint", "nope=Here")
    assert result.exit_code == 1 and "nope" in result.output
    result = invoke(database_url, "services", "add", "bad2", "https://x.example/", "--stuf-zender", "applicatie")
    assert result.exit_code == 2 and "NAME=VALUE" in result.output
