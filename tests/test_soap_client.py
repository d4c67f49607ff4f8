"""build_soap_client: zeep on interlink's configured client, against a real spyne server."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from soap_fixtures import Record
from zeep import exceptions as zeep_exceptions

from interlink.http import ClientError, InvalidURLError
from interlink.soap import (
    SoapFault,
    SoapReplyError,
    SoapTransportError,
    build_async_soap_client,
    build_soap_client,
    clear_wsdl_cache,
)

BINDING = "{urn:interlink:test}Application"


def record(url: str, path: str = "soap11", **kwargs) -> Record:
    kwargs.setdefault("options", {"soap": {"wsdl": "?wsdl"}})
    return Record(base_url=f"{url}/{path}/", **kwargs)


@pytest.mark.parametrize("path", ["soap11", "soap12"])
def test_calls_over_soap_11_and_12(soap_peer, path) -> None:
    client = build_soap_client(record(soap_peer.url, path))
    assert client.service.Echo("hallo") == "hallo"
    assert client.service.Add(2, 40) == 42


def test_a_soap11_fault_is_a_soap_fault_with_code_message_detail(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url))
    with pytest.raises(SoapFault) as caught:
        client.service.Fail("Client.BadInput", "no such zaak")
    fault = caught.value
    assert fault.code.endswith("Client.BadInput")
    assert fault.message == "no such zaak"
    assert fault.detail is not None and "asked to fail" in "".join(fault.detail.itertext())
    # the one error tree, and still what a zeep user catches
    assert isinstance(fault, ClientError) and isinstance(fault, zeep_exceptions.Fault)
    assert str(fault) == f"{fault.code}: no such zaak"


def test_a_soap12_fault_keeps_its_code_and_subcodes(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url, "soap12"))
    with pytest.raises(SoapFault) as caught:
        client.service.Fail("Client.BadInput", "bad 1.2")
    assert caught.value.code.endswith("Sender")
    assert caught.value.message == "bad 1.2"
    assert caught.value.subcodes


def test_basic_auth_applies_to_the_wsdl_and_the_calls(soap_peer) -> None:
    from soap_server import BASIC_PASSWORD, BASIC_USER

    client = build_soap_client(record(soap_peer.url, "basic", auth_type="basic", username=BASIC_USER,
                                      secret=BASIC_PASSWORD), cache_seconds=0)
    assert client.service.Echo("in") == "in"
    assert any(line.startswith("authorization: Basic ") for line in client.service.Headers())


def test_without_credentials_the_wsdl_is_refused(soap_peer) -> None:
    with pytest.raises(SoapTransportError) as caught:
        build_soap_client(record(soap_peer.url, "basic"), cache_seconds=0)
    assert caught.value.status_code == 401


def test_mtls_with_the_records_certificate_and_ca(soap_mtls_peer, tls_pki) -> None:
    client = build_soap_client(record(soap_mtls_peer.url, client_certificate=tls_pki.client_cert_pem,
                                      client_private_key=tls_pki.client_key_pem, server_ca=tls_pki.ca_pem))
    assert client.service.Echo("tls") == "tls"


def test_mtls_without_a_client_certificate_is_refused(soap_mtls_peer, tls_pki) -> None:
    with pytest.raises(httpx.TransportError):
        build_soap_client(record(soap_mtls_peer.url, server_ca=tls_pki.ca_pem), cache_seconds=0)


def test_the_records_headers_are_sent_and_not_overwritten(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url, extra_headers={"X-Tenant": "t-1", "User-Agent": "mine/1"}))
    headers = client.service.Headers()
    assert "x-tenant: t-1" in headers
    assert "user-agent: mine/1" in headers


def test_the_async_client_keeps_the_records_headers(soap_peer) -> None:
    # zeep's AsyncTransport replaces a given client's headers with its User-Agent; ours does not
    async def main() -> list[str]:
        async with build_async_soap_client(record(soap_peer.url, extra_headers={"X-Tenant": "t-2"})) as client:
            return await client.service.Headers()

    headers = asyncio.run(main())
    assert "x-tenant: t-2" in headers
    assert any(line.startswith("user-agent: Zeep/") for line in headers)


def test_async_calls_and_faults(soap_peer) -> None:
    async def main() -> None:
        client = build_async_soap_client(record(soap_peer.url, "soap12"))
        assert await client.service.Add(1, 2) == 3
        with pytest.raises(SoapFault):
            await client.service.Fail("Client.X", "async fault")
        await client.transport.aclose()

    asyncio.run(main())


def test_operation_timeout_applies_to_calls(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url, options={"soap": {"wsdl": "?wsdl", "operation_timeout": 0.2}}))
    assert client.service.Slow(10) == "done"
    with pytest.raises(httpx.ReadTimeout):
        client.service.Slow(1500)


def test_the_async_client_honours_operation_timeout(soap_peer) -> None:
    # zeep's AsyncTransport drops operation_timeout when given a client; ours passes it per call
    async def main() -> None:
        client = build_async_soap_client(
            record(soap_peer.url, options={"soap": {"wsdl": "?wsdl", "operation_timeout": 0.2}}))
        with pytest.raises(httpx.ReadTimeout):
            await client.service.Slow(1500)

    asyncio.run(main())


def test_the_records_timeout_applies_without_operation_timeout(soap_peer) -> None:
    # 1 s, not less: the WSDL is fetched with the same timeout, and a busy machine must not
    # time that out before the operation under test is called.
    client = build_soap_client(record(soap_peer.url, timeout=1.0))
    with pytest.raises(httpx.ReadTimeout):
        client.service.Slow(3500)


def test_the_base_url_guard_refuses_an_address_outside_the_record(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url))
    elsewhere = client.create_service(BINDING, "http://127.0.0.2:9/steal")
    with pytest.raises(InvalidURLError):
        elsewhere.Echo("credentials stay home")


def test_the_wsdl_is_parsed_once_per_record_and_cached(soap_peer) -> None:
    clear_wsdl_cache()
    counter = soap_peer.app.counter
    before = counter.count
    one = record(soap_peer.url, "counted")
    for _ in range(3):
        assert build_soap_client(one).service.Echo("x") == "x"
    assert counter.count == before + 1
    # other credentials: loaded for them, not handed the first record's document
    build_soap_client(record(soap_peer.url, "counted", extra_headers={"X-Other": "1"}))
    assert counter.count == before + 2
    clear_wsdl_cache()
    build_soap_client(one)
    assert counter.count == before + 3


def test_replies_over_the_size_bound_are_refused(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url, options={"soap": {"wsdl": "?wsdl", "max_reply_bytes": 15000}}))
    assert len(client.service.Big(100)) == 100
    with pytest.raises(SoapReplyError, match="over the limit"):
        client.service.Big(40000)


@pytest.mark.parametrize("kind", ["xxe", "laughs"])
def test_replies_with_a_dtd_are_refused(soap_peer, kind) -> None:
    client = build_soap_client(Record(base_url=f"{soap_peer.url}/", options={"soap": {"wsdl": "soap11/?wsdl"}}))
    hostile = client.create_service(BINDING, f"{soap_peer.url}/hostile/{kind}")
    with pytest.raises(SoapReplyError):
        hostile.Echo("x")


def test_with_block_keeps_one_connection(soap_peer) -> None:
    with build_soap_client(record(soap_peer.url)) as client:
        for n in range(5):
            assert client.service.Add(n, 1) == n + 1
        assert client.transport.session._interlink_transport.keep_alive


def test_a_local_wsdl_file_and_nothing_outside_its_directory(soap_peer, tmp_path) -> None:
    wsdl = httpx.get(f"{soap_peer.url}/soap11/?wsdl").content
    path = tmp_path / "service.wsdl"
    path.write_bytes(wsdl)
    client = build_soap_client(record(soap_peer.url), wsdl=path)
    assert client.service.Echo("local") == "local"
    with pytest.raises(SoapReplyError, match="local file"):
        client.transport.load("/etc/hostname")


def test_bad_soap_options_are_refused_with_the_key(soap_peer) -> None:
    with pytest.raises(ValueError, match="pasword_digest"):
        build_soap_client(record(soap_peer.url, options={"soap": {"wsse": {"pasword_digest": True}}}))


def test_clients_of_one_record_share_a_pool_other_settings_do_not(soap_peer) -> None:
    first = build_soap_client(record(soap_peer.url))
    second = build_soap_client(record(soap_peer.url))
    assert first.transport.session is second.transport.session
    with second:
        second.service.Echo("x")
    assert not first.transport.session.is_closed  # the shared pool outlives one client's with
    assert first.service.Echo("still") == "still"
    slower = build_soap_client(record(soap_peer.url, timeout=3))
    assert slower.transport.session is not first.transport.session
    own = build_soap_client(record(soap_peer.url), share_connections=False)
    assert own.transport.session is not first.transport.session
    assert (own.transport.shared, first.transport.shared) == (False, True)
    with own:
        assert own.service.Echo("own") == "own"


_ENVELOPE = "<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body>{}</e:Body></e:Envelope>"


def test_fuzz_replies_give_a_result_or_a_soap_error_only(soap_peer) -> None:
    """Replies from a real server that answers whatever bytes the test asks for: the client
    returns a value or raises a SoapError — never IndexError & co. from zeep's reader."""
    import base64

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from interlink.soap import SoapError

    client = build_soap_client(Record(base_url=f"{soap_peer.url}/", options={"soap": {"wsdl": "soap11/?wsdl"}}))
    service = client.create_service(BINDING, f"{soap_peer.url}/hostile/echo")
    texts = st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass"))
    replies = st.one_of(
        st.binary(max_size=200),
        texts.map(lambda t: _ENVELOPE.format(t.decode("utf-8", "replace")).encode()),
        texts.map(lambda t: _ENVELOPE.format(
            "<tns:EchoResponse xmlns:tns='urn:interlink:test'><tns:EchoResult>"
            f"{t.decode('utf-8', 'replace')}</tns:EchoResult></tns:EchoResponse>").encode()),
        texts.map(lambda t: _ENVELOPE.format(f"<e:Fault><faultcode>{t.decode('utf-8', 'replace')}</faultcode>"
                                             "</e:Fault>").encode()),
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(replies, st.sampled_from(["200", "500"]))
    def check(reply: bytes, status: str) -> None:
        with client.settings(extra_http_headers={"X-Reply": base64.b64encode(reply).decode(),
                                                 "X-Reply-Status": status}):
            try:
                service.Echo("x")
            except SoapError:
                pass

    check()


def test_bad_arguments_stay_the_callers_type_error(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url))
    with pytest.raises(TypeError):
        client.service.Echo(nonsense=1)


def test_api_key_from_the_record(soap_peer) -> None:
    client = build_soap_client(record(soap_peer.url, auth_type="api_key", api_key_header="X-Api-Key",
                                      secret="k-123"))
    assert "x-api-key: k-123" in client.service.Headers()


def test_oauth2_client_credentials_from_the_record(soap_peer, oidc_provider) -> None:
    # a real OpenID provider issues the token; the SOAP call carries it
    client = build_soap_client(record(soap_peer.url, auth_type="oauth2_client_credentials",
                                      token_url=f"{oidc_provider.issuer}/token", client_id="svc-basic",
                                      secret="svc-basic-secret", scope="api"))
    bearer = [line for line in client.service.Headers() if line.startswith("authorization: Bearer ")]
    assert len(bearer) == 1 and len(bearer[0]) > len("authorization: Bearer ") + 10
