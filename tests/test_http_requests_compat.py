"""Coming from ape-pie / zgw-consumers: what a requests user writes works, against real peers.

Every test runs against servers on 127.0.0.1: a Starlette app under uvicorn (plain HTTP and
HTTPS with trustme certificates), a forward proxy and a TLS token endpoint on
``http.server`` (the token endpoint must see whether a client certificate was presented,
which ASGI does not expose).
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import socket
import ssl
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from interlink.http import (
    REQUEST_ERRORS,
    APIClient,
    AsyncAPIClient,
    InvalidURLError,
    JWTBearerAuth,
    PaginationError,
    TokenRequestError,
    build_client,
    connection_check,
    pagination_helper,
)
from interlink.http import _service_client
from interlink.urls import is_inside
from servers import UvicornThread


# -- peers ------------------------------------------------------------------------------------
class CompatState:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.zgw_rejected: set[str] = set()
        self.zgw_reject_all = False
        self.tokens: list[str] = []
        self.token_auth: list[str] = []


def compat_app(state: CompatState) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    async def echo(request: Request) -> Response:
        body = await request.body()
        record = {"method": request.method, "path": request.url.path, "query": request.url.query,
                  "body": body.decode("utf-8", "replace"), "headers": dict(request.headers)}
        state.seen.append(record)
        return JSONResponse(record)

    async def redirect(request: Request) -> Response:
        return RedirectResponse("/api/echo", status_code=302)

    async def zgw(request: Request) -> Response:
        """403 for a token seen for the first time (once each), or for every token."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        state.tokens.append(token)
        if state.zgw_reject_all or token not in state.zgw_rejected:
            state.zgw_rejected.add(token)
            if state.zgw_reject_all or len(state.zgw_rejected) == 1:
                return JSONResponse({"detail": "forbidden"}, status_code=403)
        return JSONResponse({"ok": True})

    async def token(request: Request) -> Response:
        state.token_auth.append(request.headers.get("authorization", ""))
        return JSONResponse({"access_token": f"tok-{len(state.token_auth)}", "token_type": "Bearer",
                             "expires_in": 300})

    async def books(request: Request) -> Response:
        page = int(request.query_params.get("page", "1"))
        base = str(request.base_url).rstrip("/") + "/api/books"
        nxt = {1: f"{base}?page=2", 2: f"{base}?page=3", 3: None}[page]
        return JSONResponse({"count": 3, "next": nxt, "previous": None, "results": [{"n": page}]})

    async def loop(request: Request) -> Response:
        return JSONResponse({"next": str(request.url), "results": [1]})

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[
        Route("/api/redirect", redirect, methods=methods),
        Route("/api/zgw", zgw, methods=methods),
        Route("/api/books", books),
        Route("/api/loop", loop),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/{path:path}", echo, methods=methods),
    ])


class Peer:
    def __init__(self, url: str, state: CompatState) -> None:
        self.url, self.state, self.api = url, state, url + "/api/"


@pytest.fixture
def peer() -> Iterator[Peer]:
    state = CompatState()
    server = UvicornThread(compat_app(state))
    url = server.start()
    yield Peer(url, state)
    server.stop()


@pytest.fixture
def tls_peer(tls_pki) -> Iterator[Peer]:
    """HTTPS with a certificate from the test CA (not trusted by default), no client cert asked."""
    state = CompatState()
    server = UvicornThread(compat_app(state), ssl_certfile=str(tls_pki.directory / "server.pem"),
                           ssl_keyfile=str(tls_pki.directory / "server.key"))
    url = server.start("https")
    yield Peer(url, state)
    server.stop()


class _ThreadedServer:
    def __init__(self, handler: type, context: ssl.SSLContext | None = None) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.seen: list[Any] = []
        self.httpd.seen = self.seen  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """A forward proxy stand-in: answers itself, recording the absolute-form target."""

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        body = json.dumps({"proxied": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    """A TLS token endpoint recording whether the client presented a certificate."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        peer = self.connection.getpeercert()  # type: ignore[attr-defined]
        self.server.seen.append({"client_cert": bool(peer), "auth": self.headers.get("Authorization")})  # type: ignore[attr-defined]
        body = json.dumps({"access_token": "idp-token", "token_type": "Bearer", "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[_ThreadedServer]:
    server = _ThreadedServer(_ProxyHandler)
    yield server
    server.stop()


def _record(**fields: Any) -> types.SimpleNamespace:
    """A service record read duck-typed, as ``build_client`` reads ``interlink.store.Service``."""
    base = dict(auth_type="no_auth", secret="", username="", client_id="", token_url="", scope="",
                client_auth_method="", api_key_header="", api_key_query="", jwt_lifetime=43200, user_id="",
                user_representation="", client_certificate=None, client_private_key=None, server_ca=None,
                timeout=None, extra_headers={})
    base.update(fields)
    return types.SimpleNamespace(**base)


# -- per-call requests keywords ---------------------------------------------------------------
def test_per_call_verify(tls_peer, tls_pki) -> None:
    ca = str(tls_pki.directory / "ca.pem")
    with APIClient(tls_peer.api, {"trust_env": False}) as client:
        waits: list[float] = []
        client._interlink_transport._sleep = waits.append
        with pytest.raises(httpx.ConnectError):
            client.get("x")  # the test CA is not trusted by default
        assert waits == []  # a refused certificate is not retried: it would be refused again
        assert client.get("x", verify=ca).json()["path"] == "/api/x"
        assert client.get("y", verify=False).json()["path"] == "/api/y"
        with pytest.raises(httpx.ConnectError):
            client.get("z")  # the per-call setting did not stick


def test_per_call_cert(mtls_server, tls_pki, tmp_path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text(tls_pki.client_cert_pem)
    key.write_text(tls_pki.client_key_pem)
    with APIClient(mtls_server.url + "/api/", {"verify": str(tls_pki.directory / "ca.pem"), "retries": 0}) as client:
        with pytest.raises(httpx.HTTPError):
            client.get("x")  # the server demands a client certificate
        assert client.get("x", cert=(str(cert), str(key))).status_code == 200


def test_per_call_and_session_proxies(peer, proxy) -> None:
    proxy_url = f"http://127.0.0.1:{proxy.port}"
    with APIClient(peer.api) as client:
        assert client.get("direct").json()["path"] == "/api/direct"
        assert client.get("a", proxies={"http": proxy_url}).json() == {"proxied": peer.api + "a"}
        client.proxies["http"] = proxy_url  # requests reads the session's proxies on every call
        assert client.get("b").json() == {"proxied": peer.api + "b"}
        client.proxies = {}
        assert client.get("c").json()["path"] == "/api/c"
    assert proxy.seen == [peer.api + "a", peer.api + "b"]


def test_environment_proxies_as_requests_reads_them(peer, proxy, monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    with APIClient(peer.api) as client:
        assert client.get("env").json() == {"proxied": peer.api + "env"}
    with APIClient(peer.api, {"trust_env": False}) as client:
        assert client.get("direct").json()["path"] == "/api/direct"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with APIClient(peer.api) as client:
        assert client.get("excluded").json()["path"] == "/api/excluded"
    assert proxy.seen == [peer.api + "env"]


def test_per_call_and_session_stream(peer) -> None:
    with APIClient(peer.api) as client:
        response = client.get("s", stream=True)
        assert not response.is_stream_consumed
        assert json.loads(response.read())["path"] == "/api/s"
        response.close()
        client.stream = True
        assert bool(client.stream) and client.stream == True  # noqa: E712 - requests' flag
        lazy = client.get("t")
        assert not lazy.is_stream_consumed
        lazy.close()
        with client.stream("GET", "u") as streamed:  # httpx's stream() still works
            assert json.loads(streamed.read())["path"] == "/api/u"


def test_allow_redirects(peer) -> None:
    with APIClient(peer.api) as client:
        assert client.get("redirect").status_code == 302
        followed = client.get("redirect", allow_redirects=True)
        assert followed.status_code == 200 and followed.json()["path"] == "/api/echo"
    with APIClient(peer.api, {"allow_redirects": True}) as client:
        assert client.get("redirect").status_code == 200


def test_hooks_per_call_and_on_the_session(peer) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(response: httpx.Response, **kwargs: Any) -> None:
        calls.append((response.json()["path"], kwargs))

    def replace(response: httpx.Response, *args: Any, **kwargs: Any) -> httpx.Response:
        return httpx.Response(299, request=response.request)

    with APIClient(peer.api) as client:
        client.hooks = {"response": record}  # a single callable, as requests allows
        client.get("a")
        client.hooks = {"response": []}
        assert client.get("b", hooks={"response": [replace]}).status_code == 299
        client.hooks["response"].append(record)
        client.get("c")
    assert [path for path, _ in calls] == ["/api/a", "/api/c"]
    assert set(calls[0][1]) == {"timeout", "verify", "proxies", "stream", "cert"}
    with pytest.raises(ValueError, match="'request'"):
        APIClient(peer.api, {"hooks": {"request": []}})


def test_data_on_get_and_requests_positional_arguments(peer) -> None:
    with APIClient(peer.api) as client:
        seen = client.get("q", data={"a": "1"}).json()
        assert seen["method"] == "GET" and seen["body"] == "a=1"
        assert client.get("q", {"page": "2"}).json()["query"] == "page=2"  # params positional
        assert client.post("p", {"b": "2"}).json()["body"] == "b=2"  # data positional
        assert client.post("p", b"raw bytes").json()["body"] == "raw bytes"
        assert client.put("p", [("k", "1"), ("k", "2")]).json()["body"] == "k=1&k=2"
        assert client.request("PATCH", "p", None, "text body").json()["body"] == "text body"
        with pytest.raises(TypeError, match="verfy"):
            client.get("q", verfy=False)


def test_none_per_call_means_the_client_setting(peer) -> None:
    with APIClient(peer.api, {"auth": ("u", "p"), "timeout": 7}) as client:
        response = client.get("n", auth=None, timeout=None)
    assert response.json()["headers"]["authorization"].startswith("Basic ")
    assert response.request.extensions["timeout"]["read"] == 7


# -- requests-style attributes are honoured or refused ----------------------------------------
def test_setting_verify_and_cert_after_construction_is_honoured(tls_peer, mtls_server, tls_pki, tmp_path) -> None:
    with APIClient(tls_peer.api, {"trust_env": False}) as client:
        with pytest.raises(httpx.ConnectError):
            client.get("x")
        client.verify = False
        assert client.verify is False and client.get("x").status_code == 200
        client.verify = str(tls_pki.directory / "ca.pem")
        assert client.get("x").status_code == 200
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text(tls_pki.client_cert_pem)
    key.write_text(tls_pki.client_key_pem)
    with APIClient(mtls_server.url + "/api/", {"verify": str(tls_pki.directory / "ca.pem")}) as client:
        client.cert = (str(cert), str(key))
        assert client.cert == (str(cert), str(key))
        assert client.get("x").status_code == 200


def test_attributes_read_back_as_requests_has_them(peer) -> None:
    client = APIClient(peer.api, {"auth": ("u", "p"), "params": {"a": "1"}, "timeout": (3, 9)})
    assert client.auth == ("u", "p") and client.params == {"a": "1"}
    assert client.timeout == httpx.Timeout(9, connect=3)
    client.timeout = (2, 4)  # requests' (connect, read)
    assert client.timeout == httpx.Timeout(4, connect=2)
    assert client.verify is True and client.cert is None and client.proxies == {}
    assert client.hooks == {"response": []} and client.max_redirects == 30
    with pytest.raises(AttributeError, match="trust_env"):
        client.trust_env = False
    with pytest.raises(AttributeError, match="transport"):
        client.adapters = {}  # requests' transport adapters: refused, not silently kept
    with pytest.raises(AttributeError, match="retries"):
        client.mount("https://", object())


# -- URLs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["documents:search", "urn:uuid:0b5d5f2e-1c1e-4a53-9d8e-8a0f6f5d3a11",
                                  "zaken/1:bulk?x=1", "https:not-a-host"])
def test_colon_paths_join_under_the_base(peer, path) -> None:
    with APIClient(peer.api) as client:
        seen = client.get(path).json()
    assert seen["path"] == "/api/" + path.split("?")[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abz09:/.%?#@[]~-_ ")), max_size=40))
def test_any_relative_text_stays_under_the_base_or_is_refused(text) -> None:
    """Whatever a caller passes (colons, dots, slashes, ``@``, brackets), the URL sent to is
    under the base, or the client refuses it: it never leaves with the credentials."""
    client = APIClient("https://h.example/api/v1/")
    try:
        url = client.to_absolute_url(text)
    except ValueError:  # InvalidURLError, or text urlsplit cannot parse
        return
    assert is_inside("https://h.example/api/v1/", url.split("?")[0].split("#")[0])


def test_the_send_time_check_runs_for_every_request(peer) -> None:
    """The URL is checked again as httpx parsed it, also on the requests-style path."""

    class Leaky(APIClient):  # stands in for a parser difference between our check and httpx
        def to_absolute_url(self, maybe_relative_url: Any) -> str:
            return "http://elsewhere.example/api/x"

    with pytest.raises(InvalidURLError):
        Leaky(peer.api).get("x")


def test_requests_send_keywords(tls_peer, tls_pki) -> None:
    with APIClient(tls_peer.api, {"trust_env": False, "retries": 0}) as client:
        request = client.build_request("GET", "sent")
        response = client.send(request, verify=str(tls_pki.directory / "ca.pem"), timeout=(2, 3),
                               allow_redirects=False)
        assert response.json()["path"] == "/api/sent"
        assert response.request.extensions["timeout"]["connect"] == 2


def test_only_real_absolute_urls_are_checked_against_the_base(peer) -> None:
    client = APIClient(peer.api)
    assert client.to_absolute_url("documents:search") == peer.api + "documents:search"
    with pytest.raises(InvalidURLError):
        client.get("http://example.com/api/x")
    with pytest.raises(InvalidURLError):
        client.get("ftp://127.0.0.1/api/x")


# -- lifecycle --------------------------------------------------------------------------------
def test_client_works_after_its_with_block_and_enters_again(peer) -> None:
    client = APIClient(peer.api)
    assert client.get("before").status_code == 200  # used first without with ...
    with client:  # ... then entered
        assert client.get("one").status_code == 200
    assert client.get("after").status_code == 200
    with client:
        assert client.get("two").status_code == 200
    client.close()
    assert client.get("closed").status_code == 200  # close() ends pools, not the client
    assert [s["path"] for s in peer.state.seen] == ["/api/before", "/api/one", "/api/after", "/api/two", "/api/closed"]


def test_async_client_works_after_its_with_block(peer) -> None:
    async def main() -> list[int]:
        client = AsyncAPIClient(peer.api)
        codes = [(await client.get("a")).status_code]
        async with client:
            codes.append((await client.get("b", data={"x": "1"})).status_code)
        codes.append((await client.get("c")).status_code)
        async with client:
            codes.append((await client.get("d")).status_code)
        return codes

    assert asyncio.run(main()) == [200, 200, 200, 200]
    assert peer.state.seen[1]["body"] == "x=1"


def test_an_owner_keeping_connections_alive_outside_with_is_respected(resource_server) -> None:
    """``interlink.rest`` keeps long-lived clients without ``with`` and their connections alive."""
    client = APIClient(resource_server.url + "/api/")
    client._interlink_transport.keep_alive = True
    for _ in range(3):
        assert client.get("x").status_code == 200
    assert resource_server.server.open_connections() == 1
    client.close()


def test_streamed_response_outside_with_survives_the_pool_closing(peer) -> None:
    client = APIClient(peer.api)
    response = client.get("streamed", stream=True)  # outside ``with``: pools close after the call
    assert json.loads(response.read())["path"] == "/api/streamed"
    response.close()
    assert client.get("next").status_code == 200


def test_async_per_call_keywords(tls_peer, tls_pki) -> None:
    seen: list[int] = []

    async def main() -> None:
        async with AsyncAPIClient(tls_peer.api, {"trust_env": False, "retries": 0}) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("x")
            response = await client.get("x", verify=str(tls_pki.directory / "ca.pem"),
                                        hooks={"response": lambda r, **kw: seen.append(r.status_code)})
            assert response.json()["path"] == "/api/x"
            assert (await client.post("p", {"a": "1"}, verify=False)).json()["body"] == "a=1"
            client.verify = False  # honoured on the async client too; its old pool is closed
            assert (await client.get("after")).status_code == 200

    asyncio.run(main())
    assert seen == [200]


def test_certificate_files_are_read_when_connecting(mtls_server, tls_pki, tmp_path) -> None:
    cert, key, ca = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    client = APIClient(mtls_server.url + "/api/", {"cert": (str(cert), str(key)), "verify": str(ca)})
    with pytest.raises(FileNotFoundError, match="could not find the TLS CA file") as error:
        client.get("x")
    assert error.value.filename == str(ca)
    ca.write_text(tls_pki.ca_pem)
    cert.write_text(tls_pki.client_cert_pem)
    key.write_text(tls_pki.client_key_pem)
    assert client.get("x").status_code == 200


# -- errors -----------------------------------------------------------------------------------
def test_request_errors_catch_what_requests_exception_caught(peer) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}/api/"
    dead.close()
    failures = [
        lambda: APIClient(peer.api).get("http://elsewhere.example/x"),
        lambda: APIClient(dead_url, {"retries": 0}).get("x"),
        lambda: APIClient(peer.api).get("zgw").raise_for_status(),  # 403
        lambda: APIClient(peer.api, {"auth": _service_client.OAuth2ClientCredentials(
            peer.api + "echo", "c", "s")}).get("x"),  # a "token endpoint" answering no token
    ]
    caught = []
    for failure in failures:
        try:
            failure()
        except REQUEST_ERRORS as exc:
            caught.append(type(exc).__name__)
    assert caught == ["InvalidURLError", "ConnectError", "HTTPStatusError", "TokenRequestError"]
    assert issubclass(InvalidURLError, ValueError) and issubclass(TokenRequestError, REQUEST_ERRORS[-1])


# -- zgw-consumers names ----------------------------------------------------------------------
class MyClient(APIClient):
    def __init__(self, base_url: str, request_kwargs: Any = None, *, label: str = "", **kwargs: Any) -> None:
        super().__init__(base_url, request_kwargs, **kwargs)
        self.label = label


def test_build_client_client_factory(peer) -> None:
    record = _record(base_url=peer.api)
    client = build_client(record, client_factory=MyClient, label="zaken")
    assert type(client) is MyClient and client.label == "zaken"
    assert type(build_client(record, MyClient)) is MyClient  # positional, as in zgw-consumers
    assert type(build_client(record, client_class=AsyncAPIClient)) is AsyncAPIClient
    with pytest.raises(TypeError, match="not both"):
        build_client(record, client_factory=MyClient, client_class=APIClient)
    with pytest.raises(TypeError, match="configure_from"):
        build_client(record, client_factory=dict)


def test_auth_type_names_of_zgw_consumers_and_aliases(monkeypatch, database, database_url) -> None:
    from cryptography.fernet import Fernet

    from interlink.cli import main
    from interlink.store import Service, find_service

    monkeypatch.setenv("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    for given, stored in [("no_auth", "no_auth"), ("none", "no_auth"), ("zgw", "zgw"), ("jwt", "zgw"),
                          ("api_key", "api_key"), ("oauth2_client_credentials", "oauth2_client_credentials")]:
        assert Service(slug="s", base_url="https://h/", auth_type=given).auth_type == stored
    with pytest.raises(ValueError, match="no_auth"):
        Service(slug="s", base_url="https://h/", auth_type="nope")
    monkeypatch.setenv("ZGW_SECRET", "a-secret-that-is-long-enough-for-hs256!!")
    result = CliRunner().invoke(main, ["--database", database_url, "services", "add", "zrc",
                                       "https://zrc.example/api/v1", "--auth", "zgw", "--client-id", "me",
                                       "--secret-env", "ZGW_SECRET"])
    assert result.exit_code == 0, result.output
    with database.session() as session:
        record = find_service(session, "zrc")
        assert record.auth_type == "zgw" and record.client_auth_method == "client_secret_basic_raw"
        auth = _service_client.ServiceConfigAdapter(record).auth()
    assert isinstance(auth, JWTBearerAuth)


def test_zgw_jwt_minted_once_per_client(peer) -> None:
    record = _record(base_url=peer.api, auth_type="zgw", client_id="me",
                     secret="a-secret-that-is-long-enough-for-hs256!!")
    with build_client(record) as client:
        first = client.get("echo").json()["headers"]["authorization"]
        second = client.get("echo").json()["headers"]["authorization"]
    assert first == second and first.startswith("Bearer ")


def test_zgw_jwt_refreshed_and_retried_once_on_403(peer) -> None:
    now = [1_000_000.0]

    def clock() -> float:
        now[0] += 1  # every token minted in a new second, so a refresh differs
        return now[0]

    auth = JWTBearerAuth("me", "a-secret-that-is-long-enough-for-hs256!!", clock=clock)
    with APIClient(peer.api, {"auth": auth}) as client:
        response = client.post("zgw", json={"a": 1})
        assert response.status_code == 200
        assert len(peer.state.tokens) == 2 and peer.state.tokens[0] != peer.state.tokens[1]
        assert client.get("zgw").status_code == 200 and peer.state.tokens[2] == peer.state.tokens[1]
        peer.state.zgw_reject_all = True
        assert client.get("zgw").status_code == 403  # refreshed once, then the 403 is the answer
    assert len(peer.state.tokens) == 5


def test_oauth2_client_secret_sent_as_requests_oauthlib_does(peer) -> None:
    _service_client._oauth2_cache.clear()
    record = _record(base_url=peer.api, auth_type="oauth2_client_credentials", client_id="my client",
                     secret="s+e/c=r%t", token_url=peer.url + "/oauth/token")
    with build_client(record) as client:
        assert client.get("echo").json()["headers"]["authorization"] == "Bearer tok-1"
    # requests.auth.HTTPBasicAuth: "id:secret" as given, latin-1, base64 (no form-urlencoding)
    assert peer.state.token_auth == ["Basic " + base64.b64encode(b"my client:s+e/c=r%t").decode()]
    _service_client._oauth2_cache.clear()


def test_oauth2_token_endpoint_uses_default_trust_and_no_client_certificate(
    mtls_server, tls_pki, tmp_path, monkeypatch
) -> None:
    """The service has a private CA and a client certificate; the identity provider has a
    certificate from another CA, standing in for a public one: ``SSL_CERT_FILE`` is set here
    to that CA, so it plays the system store (no public CA can sign a loopback server)."""
    import trustme

    idp_ca = trustme.CA()
    idp_cert = idp_ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    idp_cert.configure_cert(context)
    tls_pki.ca.configure_trust(context)  # would accept the service's client certificate
    context.verify_mode = ssl.CERT_OPTIONAL
    idp = _ThreadedServer(_TokenHandler, context)
    idp_ca_file = tmp_path / "idp-ca.pem"
    idp_ca.cert_pem.write_to_path(str(idp_ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(idp_ca_file))
    _service_client._oauth2_cache.clear()
    try:
        record = _record(base_url=mtls_server.url + "/api/", auth_type="oauth2_client_credentials",
                         client_id="svc", secret="svc-secret", token_url=f"https://127.0.0.1:{idp.port}/token",
                         client_certificate=tls_pki.client_cert_pem, client_private_key=tls_pki.client_key_pem,
                         server_ca=tls_pki.ca_pem)
        with build_client(record) as client:
            assert client.get("protected").json()["ok"]
        assert idp.seen[0]["client_cert"] is False
        assert mtls_server.state.tokens_seen == ["idp-token"]
        # A record may say the identity provider is the service's own: its TLS then applies.
        _service_client._oauth2_cache.clear()
        record.token_use_client_tls = True
        record.token_url = mtls_server.url + "/oauth/token"
        with build_client(record) as client:
            assert client.get("protected").json()["ok"]
        assert mtls_server.state.hits["token"] == 1
    finally:
        idp.stop()
        _service_client._oauth2_cache.clear()


def test_connection_check(peer) -> None:
    assert connection_check(_record(base_url=peer.api)) == 200
    assert connection_check(_record(base_url=peer.api, api_connection_check_path="redirect")) == 302
    assert connection_check(_record(base_url=peer.api), path="zgw") == 403
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    assert connection_check(_record(base_url=f"http://127.0.0.1:{port}/", timeout=1)) is None


def test_pagination_helper(peer) -> None:
    with build_client(_record(base_url=peer.api)) as client:
        first = client.get("books").json()
        assert list(pagination_helper(client, first)) == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert list(pagination_helper(client, first, max_requests=1)) == [{"n": 1}, {"n": 2}]
        assert list(pagination_helper(client, {"results": [9]})) == [9]  # no next link
        with pytest.raises(PaginationError, match="already followed"):
            list(pagination_helper(client, client.get("loop").json()))
        with pytest.raises(InvalidURLError):
            list(pagination_helper(client, {"results": [], "next": "https://elsewhere.example/api/x"}))


def test_service_timeout_as_zgw_consumers(peer) -> None:
    assert build_client(_record(base_url=peer.api)).timeout == httpx.Timeout(10.0)  # connect 10 s too
    assert build_client(_record(base_url=peer.api, timeout=3)).timeout == httpx.Timeout(3.0)


def test_docs_have_a_line_for_each_item() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "http-clients.md").read_text()
    section = text.split("## Coming from ape-pie / zgw-consumers", 1)[1].split("\n## ", 1)[0]
    for needle in ["verify", "cert", "proxies", "stream", "allow_redirects", "hooks", "data=", "trust_env",
                   "documents:search", "with", "connecting", "REQUEST_ERRORS", "client_factory", "no_auth",
                   "zgw", "403", "requests-oauthlib", "token_use_client_tls", "connection_check",
                   "pagination_helper", "10 s", "HTTPS_PROXY", "mount"]:
        assert needle in section, needle
