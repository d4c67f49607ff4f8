"""Fixtures for the sync-flow tests: the JSON:API target and REST source peers, clients, a store.

Each test gets its own source and target (uvicorn threads on random loopback ports; starting
them costs milliseconds) so counts of requests are the test's own; the OpenID provider is the
session's (``peers_fixtures.oidc_provider``). At the end, misbehaving variants of both for the
hostile-peer tests (``test_hostile_peers_flows.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from servers import UvicornThread

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from jsonapi_peer import SourceState, TargetState, jsonapi_app, source_app  # noqa: E402


@dataclass
class Peers:
    source: SourceState
    target: TargetState
    source_url: str
    target_url: str
    issuer: str

    def service(self) -> Any:
        """A service record for the target: OAuth2 client credentials, secret in the body."""
        return SimpleNamespace(
            base_url=self.target_url, auth_type="oauth2_client_credentials", token_url=f"{self.issuer}/token",
            client_id="svc-post", secret="svc-post-secret", client_auth_method="client_secret_post", scope="api",
        )

    def customers(self) -> list[dict[str, Any]]:
        return list(self.target.all("customers").values())


@pytest.fixture
def peers(oidc_provider: Any) -> Iterator[Peers]:
    source, target = SourceState(), TargetState(issuer=oidc_provider.issuer)
    servers = [UvicornThread(source_app(source)), UvicornThread(jsonapi_app(target))]
    urls = [server.start() for server in servers]
    yield Peers(source, target, urls[0], urls[1], oidc_provider.issuer)
    for server in servers:
        server.stop()


@pytest.fixture
def sync_database(tmp_path: Path) -> Any:
    from interlink.store import Database

    database = Database(f"sqlite:///{tmp_path / 'sync.db'}")
    database.migrate()
    yield database
    database.dispose()


# -- misbehaving peers ------------------------------------------------------------------------
# A source and a JSON:API target that answer wrongly on purpose, each a real Starlette app under
# uvicorn on a random loopback port. Sizes and slowness are tests/hostile_peers.py's (raw
# sockets); these misbehave in what they say: links in circles, links that never end, creates
# answered without an id.


@dataclass
class LoopingSource:
    """A source whose ``next`` links misbehave.

    ``circle``: page 1 → page 2 → page 1 … (absolute links, as Django REST framework writes them);
    ``endless``: page n → page n + 1 for ever (empty pages after the first); ``single``: one page,
    no link (a well-behaved source, for the tests of misbehaving targets).
    """

    mode: str
    records: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def looping_source_app(state: LoopingSource) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def customers(request: Request) -> JSONResponse:
        state.requests.append(str(request.url))
        page = int(request.query_params.get("page", "1"))
        following = (2 if page == 1 else 1) if state.mode == "circle" else page + 1
        next_url = None if state.mode == "single" else str(request.url.include_query_params(page=following))
        results = state.records if page == 1 or state.mode == "circle" else []
        return JSONResponse({"count": len(state.records), "next": next_url, "results": results})

    return Starlette(routes=[Route("/api/customers", customers)])


@dataclass
class MisbehavingTarget:
    """A JSON:API target (no auth) that answers creates and reads wrongly, as configured.

    ``create``: what a ``POST /customers`` gets: ``"ok"``, ``"no-id"`` (201 with a resource
    without ``id``; the record *is* stored), ``"wrong-type"``, ``"not-json"``.
    ``links``: ``None``, ``"circle"`` (page 1 → 2 → 1 …) or ``"endless"`` for every collection read.
    ``filters``: ``"apply"``, ``"ignore"`` (every row, as a server answers a filter it does not
    know) or ``"nothing"`` (no rows for any filter).
    """

    create: str = "ok"
    links: str | None = None
    filters: str = "apply"
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    next_id: int = 0

    def paths(self) -> list[str]:
        return [r.split("?", 1)[0] for r in self.requests]


def misbehaving_target_app(state: MisbehavingTarget) -> Any:
    import json

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    media = "application/vnd.api+json"

    def document(body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status, media_type=media)

    async def collection(request: Request) -> Response:
        state.requests.append(f"{request.method} {request.url.path}?{request.url.query}")
        if request.method == "POST":
            attributes = (json.loads(await request.body()).get("data") or {}).get("attributes") or {}
            state.next_id += 1
            id_ = str(state.next_id)
            state.rows[id_] = attributes
            if state.create == "not-json":
                return Response("<html>Created, thank you</html>", 201, media_type="text/html")
            resource: dict[str, Any] = {"type": "customers", "attributes": attributes}
            if state.create == "wrong-type":
                resource.update(type="orders", id=id_)
            elif state.create != "no-id":
                resource["id"] = id_
            return document({"data": resource}, 201)
        params = request.query_params
        rows = list(state.rows.items())
        for key, value in params.items():
            if key.startswith("filter[") and key.endswith("]") and state.filters != "ignore":
                name, wanted = key[7:-1], set(value.split(","))
                rows = [(i, a) for i, a in rows
                        if (i if name == "id" else str(a.get(name))) in wanted and state.filters == "apply"]
        page = int(params.get("page[number]", "1"))
        links: dict[str, Any] = {}
        if state.links == "circle":
            links["next"] = f"/customers?page%5Bnumber%5D={2 if page == 1 else 1}"
        elif state.links == "endless":
            links["next"] = f"/customers?page%5Bnumber%5D={page + 1}"
        data = [{"type": "customers", "id": i, "attributes": a} for i, a in rows] if page == 1 else []
        return document({"data": data, "links": links})

    async def item(request: Request) -> Response:
        state.requests.append(f"{request.method} {request.url.path}")
        id_ = request.path_params["id"]
        if id_ not in state.rows:
            return document({"errors": [{"status": "404", "title": "Not Found"}]}, 404)
        attributes = (json.loads(await request.body()).get("data") or {}).get("attributes") or {}
        state.rows[id_].update(attributes)
        return document({"data": {"type": "customers", "id": id_, "attributes": state.rows[id_]}})

    return Starlette(routes=[Route("/customers", collection, methods=["GET", "POST"]),
                             Route("/customers/{id}", item, methods=["PATCH"])])


@pytest.fixture
def rest_source() -> Iterator[tuple[SourceState, str]]:
    """A paged REST source alone (no target, no OpenID provider): its state and URL."""
    state = SourceState()
    server = UvicornThread(source_app(state))
    yield state, server.start()
    server.stop()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a random loopback port, for the length of the block."""
    server = UvicornThread(app)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


# -- Django REST framework JSON:API ----------------------------------------------------------
# A JSON:API server nobody here wrote, at its stock settings (tests/drf_jsonapi_peer/): Django,
# DRF and DRF JSON:API served by gunicorn in a child process on a socket bound here (a random
# loopback port, passed as fd://N: no race for the port), a bearer token required.


@dataclass
class DrfPeer:
    url: str
    token: str
    database: Path
    formatting: str  # "stock" (type Customer, external_id) or "camelize" (customers, externalId)

    @property
    def type(self) -> str:
        return "customers" if self.formatting == "camelize" else "Customer"

    @property
    def match(self) -> str:
        return "externalId" if self.formatting == "camelize" else "external_id"

    def client(self, token: str | None = None) -> Any:
        from interlink.http import APIClient, BearerAuth

        return APIClient(self.url, {"auth": BearerAuth(self.token if token is None else token)})

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read or change the peer's rows directly (as another user of the target would)."""
        import sqlite3

        with sqlite3.connect(self.database, timeout=30) as connection:
            return connection.execute(query, args).fetchall()

    def customers(self) -> list[dict[str, Any]]:
        rows = self.sql("SELECT id, name, external_id FROM drf_jsonapi_peer_customer ORDER BY id")
        return [{"id": str(i), "name": n, "external_id": e} for i, n, e in rows]

    def insert(self, name: str, external_id: str | None) -> str:
        self.sql("INSERT INTO drf_jsonapi_peer_customer (name, email, external_id, updated_at) "
                 "VALUES (?, '', ?, '2026-01-01 00:00:00')", name, external_id)
        return str(self.sql("SELECT max(id) FROM drf_jsonapi_peer_customer")[0][0])

    def clear(self) -> None:
        self.sql("DELETE FROM drf_jsonapi_peer_customer")


@contextmanager
def drf_peer_server(directory: Path, formatting: str = "stock") -> Iterator[DrfPeer]:
    import os
    import secrets
    import socket
    import subprocess
    import time

    import httpx

    tests = Path(__file__).resolve().parent
    token = secrets.token_urlsafe(24)
    database = directory / "drf_peer.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "drf_jsonapi_peer.settings", "DRF_PEER_DATABASE": str(database),
           "DRF_PEER_TOKEN": token, "DRF_PEER_FORMAT": formatting,
           "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v", "0"], env=env, check=True,
                   timeout=180, cwd=directory)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "drf_jsonapi_peer.wsgi:application", "--bind", f"fd://{listener.fileno()}",
         "--worker-class", "gthread", "--workers", "1", "--threads", "8", "--no-control-socket",
         "--log-level", "warning"],
        env=env, pass_fds=(listener.fileno(),), cwd=directory)
    listener.close()
    try:
        deadline = time.monotonic() + 120  # a loaded machine: the worker may take long to boot
        while True:
            try:
                if httpx.get(f"{url}/customers", timeout=10).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the DRF JSON:API peer did not start (exit status {process.poll()})")
            time.sleep(0.2)
        yield DrfPeer(url, token, database, formatting)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


@pytest.fixture(scope="module", params=["stock", "camelize"])
def drf_server(request: Any, tmp_path_factory: Any) -> Iterator[DrfPeer]:
    with drf_peer_server(tmp_path_factory.mktemp(f"drf-{request.param}"), request.param) as peer:
        yield peer


@pytest.fixture
def drf_peer(drf_server: DrfPeer) -> DrfPeer:
    """The module's DRF JSON:API peer (each formatting in turn), emptied for this test."""
    drf_server.clear()
    return drf_server
