"""Peers we do not control: every outbound exchange ends by its deadline and stays within its
size bound, whatever the peer does (interlink.http's bounded transport, used by every client).

Each test runs a real misbehaving server on 127.0.0.1 (tests/hostile_peers.py) and asserts
the time bound, what the caller sees and, for the large answers, the peak memory of a child
process doing the call. Callbacks and flows have their own hostile-peer modules.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time

import httpx
import pytest

from hostile_peers import (
    answering,
    dripping_body,
    dripping_headers,
    gzip_bomb,
    huge_body,
    peak_rss_of,
    redirect_to,
    serve,
)
from interlink.http import (
    DEADLINE,
    MAX_RESPONSE_BYTES,
    APIClient,
    AsyncAPIClient,
    BoundedTransport,
    DeadlineExceeded,
    OAuth2ClientCredentials,
    ResponseTooLarge,
    read_at_most,
)

TESTS = os.path.dirname(__file__)
MiB = 1024 * 1024


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.started


# -- the deadline: dripping peers are cut off ------------------------------------------------


@pytest.mark.parametrize("peer", [dripping_headers, dripping_body], ids=["headers", "body"])
def test_a_dripping_answer_ends_at_the_deadline(peer) -> None:
    # One byte every 0.2 s never trips httpx's 1-second read timeout; the deadline does.
    with peer(0.2) as url, Timer() as timer:
        with pytest.raises(DeadlineExceeded) as caught:
            APIClient(url, {"timeout": 1, "retries": 0}).get("slow")
    assert 0.9 < timer.seconds < 2.5
    assert isinstance(caught.value, httpx.TimeoutException)  # what callers already catch
    assert "did not arrive in full" in str(caught.value)


@pytest.mark.parametrize("peer", [dripping_headers, dripping_body], ids=["headers", "body"])
def test_a_dripping_answer_ends_at_the_deadline_async(peer) -> None:
    async def call(url: str) -> None:
        async with AsyncAPIClient(url, {"timeout": 1, "retries": 0}) as client:
            await client.get("slow")

    with peer(0.2) as url, Timer() as timer:
        with pytest.raises(DeadlineExceeded):
            asyncio.run(call(url))
    assert 0.9 < timer.seconds < 2.5


def test_the_deadline_extension_overrides_the_timeout() -> None:
    with dripping_body(0.1) as url, Timer() as timer:
        with pytest.raises(DeadlineExceeded):
            APIClient(url, {"timeout": 30, "retries": 0}).get("slow", extensions={DEADLINE: 0.5})
    assert timer.seconds < 1.5


def test_each_retry_gets_its_own_deadline_and_all_of_them_end() -> None:
    # rest-tools counts a full timeout for every attempt; so do we: 1 + 2 retries of 0.5 s.
    with dripping_headers(0.1) as url, Timer() as timer:
        with pytest.raises(DeadlineExceeded):
            APIClient(url, {"timeout": 0.5, "retries": 2, "backoff_factor": 0}).get("slow")
    assert len(url.requests_seen) == 3
    assert 1.4 < timer.seconds < 3.5


def test_a_bounded_transport_around_httpx_own_transport_cuts_dripping_headers() -> None:
    # The guarantee is the transport's, not the client's: plain httpx gets it too.
    with dripping_headers(0.2) as url, Timer() as timer:
        with httpx.Client(transport=BoundedTransport(), timeout=1) as client:
            with pytest.raises(DeadlineExceeded):
                client.get(url)
    assert timer.seconds < 2.5


def test_a_healthy_slow_answer_within_the_deadline_is_read_whole() -> None:
    body = b'{"ok": true}'
    with dripping_body(0.05, body=body) as url:
        response = APIClient(url, {"timeout": 3, "retries": 0}).get("x")
    assert response.json() == {"ok": True}


# -- the size bound: huge answers and gzip bombs are refused before they are buffered --------


def test_a_declared_huge_answer_is_refused_before_its_body_is_read() -> None:
    with huge_body(384 * MiB) as url, Timer() as timer:
        with pytest.raises(ResponseTooLarge) as caught:
            APIClient(url, {"retries": 0}).get("huge")
    assert caught.value.limit == 64 * MiB
    assert timer.seconds < 1


def test_an_answer_over_the_bound_is_not_asked_for_again() -> None:
    # A retry would get the same answer: the bound is final, unlike a timeout.
    with huge_body(2 * MiB) as url:
        with pytest.raises(ResponseTooLarge):
            APIClient(url, {"max_response_size": MiB, "retries": 3}).get("x")
    assert len(url.requests_seen) == 1


def test_the_client_option_sets_the_bound_and_none_lifts_it() -> None:
    with huge_body(2 * MiB, declare_length=False) as url:
        with pytest.raises(ResponseTooLarge):
            APIClient(url, {"max_response_size": MiB, "retries": 0}).get("x")
        assert len(APIClient(url, {"max_response_size": None}).get("x").content) == 2 * MiB
        assert len(APIClient(url).get("x", extensions={MAX_RESPONSE_BYTES: 3 * MiB}).content) == 2 * MiB


CALL_IN_CHILD = """
import sys
from interlink.http import APIClient, ResponseTooLarge
try:
    APIClient(sys.argv[1] if len(sys.argv) > 1 else {url!r}, {{"retries": 0, "timeout": 60}}).get("x")
except ResponseTooLarge as error:
    print("refused", error.limit)
"""


def test_memory_stays_flat_while_a_peer_streams_384_mib() -> None:
    with huge_body(384 * MiB, declare_length=False) as url:
        stdout, peak = peak_rss_of(CALL_IN_CHILD.format(url=str(url)))
    assert stdout.split() == ["refused", str(64 * MiB)]
    assert peak < 200 * MiB, f"peak RSS {peak / MiB:.0f} MiB"


def test_a_gzip_bomb_is_refused_at_the_bound_of_decoded_bytes() -> None:
    with gzip_bomb(512 * MiB) as url:
        stdout, peak = peak_rss_of(CALL_IN_CHILD.format(url=str(url)))
    assert stdout.split() == ["refused", str(64 * MiB)]
    assert peak < 200 * MiB, f"peak RSS {peak / MiB:.0f} MiB"


def test_a_gzip_answer_within_the_bound_is_decoded() -> None:
    with gzip_bomb(MiB) as url:
        response = APIClient(url).get("x")
    assert response.content == b"\0" * MiB
    assert "content-encoding" not in response.headers  # decoded by the transport, once


def test_an_encoding_that_was_not_asked_for_is_refused() -> None:
    with answering(200, b"\x00\x01", headers={"Content-Encoding": "br"}) as url:
        with pytest.raises(httpx.DecodingError, match="'br' was not asked for"):
            APIClient(url, {"retries": 0}).get("x")
        assert b"accept-encoding: gzip, deflate\r\n" in url.requests_seen[0].lower()


def test_read_at_most_reads_an_excerpt_and_hangs_up() -> None:
    with huge_body(384 * MiB, declare_length=False) as url, Timer() as timer:
        with httpx.Client(transport=BoundedTransport(max_response_bytes=None)) as client:
            with client.stream("GET", url) as response:
                excerpt = read_at_most(response, 1000)
    assert excerpt == b" " * 1000
    assert timer.seconds < 2


# -- credentials stay with the service they belong to ----------------------------------------


def test_a_redirect_to_another_host_carries_no_credentials() -> None:
    with serve(lambda connection, request: connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")) as elsewhere:
        with redirect_to(f"{elsewhere}collect") as url:
            client = APIClient(url, {"auth": ("svc", "s3cret-password"), "retries": 0})
            with pytest.raises(Exception) as caught:
                client.get("x").raise_for_status()
    secret = base64.b64encode(b"svc:s3cret-password")
    assert secret in url.requests_seen[0]
    assert all(secret not in seen and b"s3cret" not in seen for seen in elsewhere.requests_seen)
    assert "outside the client's base URL" in str(caught.value) or caught.value.__class__.__name__ == "HTTPStatusError"


# -- every client on the mechanism: token endpoints, SOAP/StUF, the site and rest clients ----


def test_a_dripping_token_endpoint_ends_at_the_deadline() -> None:
    with dripping_body(0.2, body=b'{"access_token": "' + b"a" * 1000 + b'"}') as token_url:
        with answering(200, b"{}") as service:
            auth = OAuth2ClientCredentials(f"{token_url}token", "client", "secret")
            client = APIClient(service, {"auth": auth, "timeout": 1, "retries": 0})
            with Timer() as timer, pytest.raises(httpx.TimeoutException):
                client.get("x")
    assert timer.seconds < 2.5
    assert service.requests_seen == []  # nothing went out without a token


def test_a_huge_token_answer_is_refused_at_one_mib() -> None:
    with huge_body(50 * MiB, declare_length=False) as token_url:
        with answering(200, b"{}") as service:
            auth = OAuth2ClientCredentials(f"{token_url}token", "client", "secret")
            client = APIClient(service, {"auth": auth, "retries": 0})
            with pytest.raises(Exception) as caught:
                client.get("x")
    assert isinstance(caught.value, ResponseTooLarge) or isinstance(caught.value.__cause__, ResponseTooLarge)
    assert service.requests_seen == []


def test_a_dripped_soap_reply_ends_at_operation_timeout(soap_peer) -> None:
    from soap_fixtures import Record

    from interlink.soap import build_soap_client

    real = f"{soap_peer.url}/soap11/"
    wsdl = httpx.get(f"{real}?wsdl", verify=False).content
    # The WSDL must name the address it is served from: serve it from the dripping peer.
    holder: dict[str, bytes] = {}

    def handler(connection, request: bytes) -> None:
        if request.startswith(b"GET"):
            body = holder["wsdl"]
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            return
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n<")
        while not dripper.stop.wait(0.25):
            connection.sendall(b" ")

    with serve(handler) as dripper:
        holder["wsdl"] = wsdl.replace(real.rstrip("/").encode(), str(dripper).rstrip("/").encode())
        client = build_soap_client(Record(base_url=str(dripper), options={"soap": {"wsdl": "?wsdl", "operation_timeout": 1}}))
        with Timer() as timer, pytest.raises(httpx.TimeoutException):
            client.service.Echo("hallo")
    assert timer.seconds < 2.5


def test_a_dripped_stuf_reply_ends_at_operation_timeout() -> None:
    from soap_fixtures import Record

    from interlink.stuf import StUFClient

    parties = {"sector_alias": "bg", "zender": {"organisatie": "X", "applicatie": "interlink"},
               "ontvanger": {"organisatie": "X", "applicatie": "BRP"},
               "endpoints": {"vrije_berichten": "VrijeBerichten"}}
    with dripping_body(0.25, content_type="text/xml", body=b"<" + b" " * 10_000) as url:
        record = Record(base_url=f"{url}stuf/", options={"soap": {"operation_timeout": 1}, "stuf": parties})
        client = StUFClient(record, templates=os.path.join(TESTS, "stuf_templates"))
        with Timer() as timer, pytest.raises(httpx.TimeoutException):
            client.soap_request("x", b"<a/>")
    assert timer.seconds < 2.5


def test_a_huge_stuf_reply_is_refused_at_its_bound() -> None:
    from soap_fixtures import Record

    from interlink.soap import SoapReplyError
    from interlink.stuf import StUFClient

    parties = {"sector_alias": "bg", "zender": {"organisatie": "X", "applicatie": "interlink"},
               "ontvanger": {"organisatie": "X", "applicatie": "BRP"},
               "endpoints": {"vrije_berichten": "VrijeBerichten"}}
    with huge_body(64 * MiB, content_type="text/xml", declare_length=False) as url:
        record = Record(base_url=f"{url}stuf/", options={"soap": {"max_reply_bytes": MiB}, "stuf": parties})
        client = StUFClient(record, templates=os.path.join(TESTS, "stuf_templates"))
        with pytest.raises(SoapReplyError, match="over the limit of 1048576 bytes"):
            client.soap_request("x", b"<a/>")


def test_the_site_client_ends_a_dripping_call_at_its_timeout() -> None:
    from interlink.client import API

    with dripping_body(0.2) as url, Timer() as timer:
        api = API(f"{url}api", timeout=1, retries=0)
        with pytest.raises(Exception) as caught:
            api.home.list_users()
    assert timer.seconds < 2.5
    assert isinstance(caught.value, httpx.TimeoutException) or "timed out" in str(caught.value).lower() \
        or "deadline" in str(caught.value)


def test_the_rest_client_ends_a_dripping_call_at_its_timeout() -> None:
    from interlink.rest import RestClient

    with dripping_body(0.2) as url, Timer() as timer:
        client = RestClient(str(url).rstrip("/"), timeout=1, retries=0)
        with pytest.raises(Exception) as caught:
            client.request_seq("GET", "/x")
    assert timer.seconds < 2.5
    assert isinstance(caught.value, httpx.TimeoutException) or isinstance(caught.value.__cause__, httpx.TimeoutException)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-p", "no:xdist"]))
