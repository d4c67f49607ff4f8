"""Real peers for the http/rest client tests: an OpenID provider and loopback resource servers.

* ``oidc_provider`` / ``oidc_provider_short``: ``tests/peers/oidc_provider.mjs`` (oidc-provider
  from npm) under Node on a random loopback port; the short one issues access tokens that
  live 2 seconds, so expiry and refresh happen for real.
* ``resource_server``: a Starlette app under uvicorn (``resource_app``) that echoes requests,
  fails on demand, streams NDJSON and checks bearer tokens.
* ``tls_pki`` + ``mtls_server``: the same app over TLS requiring a client certificate from a
  test CA (trustme).
* ``complete_device_login``: plays the user's part of a device login through the provider's
  own HTML pages over HTTP.
"""

from __future__ import annotations

from servers import UvicornThread

import json
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

PEERS = Path(__file__).resolve().parent / "peers"


# -- OpenID provider ------------------------------------------------------------------------
@dataclass
class OIDCProvider:
    issuer: str
    process: subprocess.Popen

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.issuer}/_test/stats").json()

    def token_requests(self, grant: str | None = None) -> int:
        stats = self.stats()
        return stats["token"] if grant is None else stats["byGrant"].get(grant, 0)


def start_oidc_provider(**env: str) -> OIDCProvider:
    if not (PEERS / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("tests/peers/node_modules is missing: run `make node-deps`")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed; `make test` needs Node.js for the OpenID provider")
    process = subprocess.Popen(
        [node, str(PEERS / "oidc_provider.mjs")],
        cwd=PEERS,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"OpenID provider did not start: {line!r}")
    return OIDCProvider(line.split()[1], process)


def stop_oidc_provider(provider: OIDCProvider) -> None:
    provider.process.terminate()
    try:
        provider.process.wait(5)
    except subprocess.TimeoutExpired:
        provider.process.kill()
        provider.process.wait(5)
    if provider.process.stdout is not None:
        provider.process.stdout.close()  # no ResourceWarning under -W error


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OIDCProvider]:
    provider = start_oidc_provider(OIDC_ACCESS_TTL="600", OIDC_INTERVAL="1")
    yield provider
    stop_oidc_provider(provider)


@pytest.fixture(scope="session")
def oidc_provider_short() -> Iterator[OIDCProvider]:
    provider = start_oidc_provider(OIDC_ACCESS_TTL="2", OIDC_INTERVAL="1")
    yield provider
    stop_oidc_provider(provider)


def complete_device_login(verification_uri: str, user_code: str, login: str = "alice") -> None:
    """Do what the user does in a browser: enter the code, confirm, sign in, consent."""
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        page = browser.get(verification_uri)
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text).group(1)
        page = browser.post(verification_uri, data={"xsrf": xsrf, "user_code": user_code})
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text).group(1)
        page = browser.post(verification_uri, data={"xsrf": xsrf, "user_code": user_code, "confirm": "yes"})
        for prompt in ("login", "consent"):
            action = re.search(r'action="([^"]+)"', page.text).group(1)
            form = {"prompt": prompt}
            if prompt == "login":
                form.update(login=login, password="any")
            page = browser.post(page.url.join(action), data=form)
        if "Sign-in Success" not in page.text:
            raise AssertionError(f"device login did not complete: {page.text[:500]}")


# -- a resource server ----------------------------------------------------------------------
class ResourceState:
    def __init__(self) -> None:
        self.hits: dict[str, int] = defaultdict(int)
        self.revoked: set[str] = set()
        self.tokens_seen: list[str] = []
        self.lock = threading.Lock()


def resource_app(state: ResourceState) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def echo(request: Request) -> Response:
        body = await request.body()
        peer_cert = None
        transport = request.scope.get("extensions", {}).get("tls")
        if transport:
            peer_cert = True
        return JSONResponse({
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "args": dict(request.query_params),
            "authorization": request.headers.get("authorization"),
            "headers": {k: v for k, v in request.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "json": json.loads(body) if body and request.headers.get("content-type", "").startswith("application/json") else None,
            "tls": peer_cert,
        })

    async def flaky(request: Request) -> Response:
        key = request.query_params.get("key", "default")
        fail = int(request.query_params.get("fail", "1"))
        status = int(request.query_params.get("status", "503"))
        with state.lock:
            state.hits[key] += 1
            hit = state.hits[key]
        if hit <= fail:
            headers = {}
            if "retry_after" in request.query_params:
                headers["Retry-After"] = request.query_params["retry_after"]
            return JSONResponse({"error": "try again", "hit": hit}, status_code=status, headers=headers)
        return JSONResponse({"ok": True, "hit": hit})

    async def hits(request: Request) -> Response:
        return JSONResponse({"hits": state.hits.get(request.path_params["key"], 0)})

    async def status(request: Request) -> Response:
        code = int(request.path_params["code"])
        with state.lock:
            state.hits[f"status-{code}"] += 1
        return JSONResponse({"status": code}, status_code=code)

    async def empty(request: Request) -> Response:
        return Response(status_code=200)

    async def protected(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if not header.startswith("Bearer ") or not token or token in state.revoked or "*" in state.revoked:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        state.tokens_seen.append(token)
        claims = _claims(token)
        if claims is not None and claims.get("exp", 0) < time.time():
            return JSONResponse({"error": "expired"}, status_code=401)
        body = await request.body()
        return JSONResponse({"ok": True, "sub": (claims or {}).get("sub"), "body": body.decode() if body else None,
                             "args": dict(request.query_params)})

    async def revoke(request: Request) -> Response:
        token = (await request.body()).decode()
        state.revoked.add(token)
        return JSONResponse({"revoked": True})

    async def token(request: Request) -> Response:
        """A client-credentials token endpoint for TLS tests (the OpenID provider speaks HTTP)."""
        with state.lock:
            state.hits["token"] += 1
            number = state.hits["token"]
        return JSONResponse({"access_token": f"tok-{number}", "token_type": "Bearer", "expires_in": 300})

    async def stream(request: Request) -> Response:
        count = int(request.query_params.get("n", "3"))

        async def lines():
            for i in range(count):
                yield json.dumps({"i": i}) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[
        Route("/api/flaky", flaky, methods=methods),
        Route("/api/hits/{key}", hits),
        Route("/api/status/{code:int}", status, methods=methods),
        Route("/api/empty", empty, methods=methods),
        Route("/api/protected", protected, methods=methods),
        Route("/api/stream", stream, methods=methods),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/_test/revoke", revoke, methods=["POST"]),
        Route("/{path:path}", echo, methods=methods),
    ])


def _claims(token: str) -> dict[str, Any] | None:
    from interlink.http._jwt import unverified_claims

    return unverified_claims(token)


@dataclass
class ResourceServer:
    url: str
    state: ResourceState
    server: UvicornThread


@pytest.fixture
def resource_server() -> Iterator[ResourceServer]:
    state = ResourceState()
    server = UvicornThread(resource_app(state))
    url = server.start()
    yield ResourceServer(url, state, server)
    server.stop()


# -- TLS ------------------------------------------------------------------------------------
@dataclass
class TLSMaterial:
    ca: Any  # trustme.CA
    server_cert: Any
    client_cert_pem: str
    client_key_pem: str
    ca_pem: str
    directory: Path


@pytest.fixture(scope="session")
def tls_pki(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    import trustme

    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.org")
    ca.cert_pem.write_to_path(directory / "ca.pem")
    server_cert.cert_chain_pems[0].write_to_path(directory / "server.pem")
    for blob in server_cert.cert_chain_pems[1:]:
        blob.write_to_path(directory / "server.pem", append=True)
    server_cert.private_key_pem.write_to_path(directory / "server.key")
    return TLSMaterial(
        ca=ca,
        server_cert=server_cert,
        client_cert_pem="".join(b.bytes().decode() for b in client.cert_chain_pems),
        client_key_pem=client.private_key_pem.bytes().decode(),
        ca_pem=ca.cert_pem.bytes().decode(),
        directory=directory,
    )


@pytest.fixture
def mtls_server(tls_pki: TLSMaterial) -> Iterator[ResourceServer]:
    """The resource app over HTTPS, refusing clients without a certificate from the test CA."""
    state = ResourceState()
    server = UvicornThread(
        resource_app(state),
        ssl_certfile=str(tls_pki.directory / "server.pem"),
        ssl_keyfile=str(tls_pki.directory / "server.key"),
        ssl_ca_certs=str(tls_pki.directory / "ca.pem"),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    url = server.start("https")
    yield ResourceServer(url, state, server)
    server.stop()
