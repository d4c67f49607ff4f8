"""WS-Security on zeep clients: UsernameToken (text, digest), Timestamp, signatures both ways.

The peer (tests/peers/soap_server.py ``WsseChecker``) checks the header the client sent,
then answers unsigned, signed with the server's key, or signed with a key nobody trusts.
"""

from __future__ import annotations

import pytest
from soap_fixtures import SOAP_PASSWORD, Record

from interlink.soap import SoapFault, SoapReplyError, build_soap_client

BINDING = "{urn:interlink:test}Application"


def client(peer, reply: str = "plain", **wsse):
    record = Record(base_url=f"{peer.url}/", username="ws-user", secret=wsse.pop("password", SOAP_PASSWORD),
                    client_certificate=wsse.pop("cert", None), client_private_key=wsse.pop("key", None),
                    options={"soap": {"wsdl": "soap11/?wsdl", "wsse": wsse}})
    return build_soap_client(record).create_service(BINDING, f"{peer.url}/wsse/{reply}")


@pytest.mark.parametrize("digest", [False, True])
def test_username_token_text_and_digest(soap_peer, digest) -> None:
    service = client(soap_peer, username_token=True, password_digest=digest)
    assert service.Echo("ok") == "ok"
    seen = soap_peer.app.mount.apps["wsse"].seen[-1]
    assert seen["username"] == "ws-user" and seen["password_ok"]
    assert seen["password_type"] == ("PasswordDigest" if digest else "PasswordText")
    assert not seen["timestamp"]


def test_a_wrong_password_is_a_fault(soap_peer) -> None:
    with pytest.raises(SoapFault, match="security header refused"):
        client(soap_peer, username_token=True, password="wrong").Echo("x")


def test_timestamp(soap_peer) -> None:
    assert client(soap_peer, timestamp=120).Echo("t") == "t"
    assert soap_peer.app.mount.apps["wsse"].seen[-1]["timestamp"]


@pytest.mark.parametrize("mode", ["signature", "binary"])
def test_signed_request_and_verified_signed_reply(soap_peer, soap_keys, mode) -> None:
    service = client(soap_peer, "signed", signature=mode, timestamp=60, cert=soap_keys.client_cert,
                     key=soap_keys.client_key, reply_certificate=soap_keys.server_cert)
    assert service.Echo("signed") == "signed"
    seen = soap_peer.app.mount.apps["wsse"].seen[-1]
    assert seen["signed"] and seen["signature_ok"]


def test_an_unsigned_reply_is_refused_unless_the_record_accepts_it(soap_peer, soap_keys) -> None:
    keys = dict(signature="signature", cert=soap_keys.client_cert, key=soap_keys.client_key,
                reply_certificate=soap_keys.server_cert)
    with pytest.raises(SoapReplyError, match="not signed"):
        client(soap_peer, "plain", **keys).Echo("x")
    assert client(soap_peer, "plain", accept_unsigned_replies=True, **keys).Echo("y") == "y"


def test_a_reply_signed_by_another_key_is_refused(soap_peer, soap_keys) -> None:
    service = client(soap_peer, "forged", signature="signature", cert=soap_keys.client_cert,
                     key=soap_keys.client_key, reply_certificate=soap_keys.server_cert, accept_unsigned_replies=True)
    with pytest.raises(SoapReplyError, match="does not verify"):
        service.Echo("x")


def test_signature_needs_the_records_key(soap_peer) -> None:
    with pytest.raises(ValueError, match="client certificate and private key"):
        client(soap_peer, signature="signature")
