"""Local stand-ins for the three systems the example talks to, for ``--demo``.

* a **source**: ``GET /api/customers?updated_at__gte=…&page=…&page_size=…``, pages in Django
  REST framework's shape (``count``, ``next``, ``results``), ordered by ``(updated_at, id)``;
* an **OAuth2 token endpoint**: ``POST /token`` with ``grant_type=client_credentials`` and the
  client's id and secret in the body (``client_secret_post``, as OroCommerce takes them);
* a **JSON:API target** standing in for OroCommerce's back-office API: ``customers`` at
  ``/customers`` (``POST``; ``GET`` with ``filter[id]``/``filter[externalId]``, ``page[size]``
  and ``links.next``) and ``/customers/{id}`` (``GET``, ``PATCH``), every request with a bearer
  token the token endpoint issued.

Each runs under uvicorn on its own free loopback port, in a thread of this process. Small and
in memory: for trying the example, not for testing interlink (its tests run real peers).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

JSONAPI = "application/vnd.api+json"


@dataclass
class Systems:
    """The stand-ins' data: source records, target rows, client credentials, issued tokens."""

    client_id: str = field(default_factory=lambda: "demo-" + secrets.token_hex(4))
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)  # the source's
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # the target's, by id
    tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fill(self, count: int) -> None:
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for i in range(1, count + 1):
            self.put(i, f"Customer {i}", start + dt.timedelta(minutes=i))

    def put(self, id_: int, name: str, when: dt.datetime | None = None) -> None:
        when = when or dt.datetime.now(dt.UTC)
        self.customers[id_] = {"id": id_, "name": name, "updated_at": when.isoformat(timespec="microseconds")}


def source_app(systems: Systems) -> Starlette:
    async def customers(request: Request) -> JSONResponse:
        params = request.query_params
        page, size = max(int(params.get("page", "1")), 1), min(max(int(params.get("page_size", "100")), 1), 1000)
        rows = sorted(systems.customers.values(), key=lambda r: (r["updated_at"], r["id"]))
        if since := params.get("updated_at__gte"):
            rows = [r for r in rows if r["updated_at"] >= since]
        start = (page - 1) * size
        following = None
        if start + size < len(rows):
            following = str(request.url.replace(query=urlencode({**params, "page": page + 1})))
        return JSONResponse({"count": len(rows), "next": following, "results": rows[start:start + size]})

    return Starlette(routes=[Route("/api/customers", customers)])


def token_app(systems: Systems) -> Starlette:
    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if not (secrets.compare_digest(str(form.get("client_id", "")), systems.client_id)
                and secrets.compare_digest(str(form.get("client_secret", "")), systems.client_secret)):
            return JSONResponse({"error": "invalid_client"}, 401)
        issued = secrets.token_urlsafe(32)
        systems.tokens.add(issued)
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})

    return Starlette(routes=[Route("/token", token, methods=["POST"])])


def target_app(systems: Systems) -> Starlette:
    def document(body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status, media_type=JSONAPI)

    def error(status: int, title: str, detail: str = "", pointer: str = "") -> Response:
        item: dict[str, Any] = {"status": str(status), "title": title, "detail": detail}
        if pointer:
            item["source"] = {"pointer": pointer}
        return document({"errors": [item]}, status)

    def resource(id_: str, attributes: dict[str, Any]) -> dict[str, Any]:
        return {"type": "customers", "id": id_, "attributes": attributes}

    def authorised(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token in systems.tokens

    async def attributes_of(request: Request, id_: str | None) -> tuple[dict[str, Any] | None, Response | None]:
        try:
            data = json.loads(await request.body()).get("data") or {}
        except (ValueError, AttributeError):
            return None, error(400, "Bad Request", "the body is not a JSON:API document")
        if data.get("type") != "customers" or (id_ is not None and str(data.get("id")) != id_):
            return None, error(409, "Conflict", "data.type must be 'customers' (and data.id the URL's)", "/data")
        attributes = dict(data.get("attributes") or {})
        if not str(attributes.get("name", "x" if id_ else "")).strip():
            return None, error(422, "Unprocessable Entity", "name may not be blank", "/data/attributes/name")
        return attributes, None

    async def collection(request: Request) -> Response:
        if not authorised(request):
            return error(401, "Unauthorized", "a valid bearer token is required")
        if request.method == "POST":
            attributes, refused = await attributes_of(request, None)
            if refused:
                return refused
            with systems.lock:
                id_ = str(len(systems.rows) + 1)
                systems.rows[id_] = {**(attributes or {}), "updatedAt": dt.datetime.now(dt.UTC).isoformat()}
                return document({"data": resource(id_, systems.rows[id_])}, 201)
        params = request.query_params
        rows = list(systems.rows.items())
        for key, value in params.items():
            if key.startswith("filter[") and key.endswith("]"):
                name, wanted = key[7:-1], set(value.split(","))
                rows = [(i, a) for i, a in rows if (i if name == "id" else str(a.get(name))) in wanted]
        size, number = min(int(params.get("page[size]", "100")), 1000), max(int(params.get("page[number]", "1")), 1)
        links = {}
        if number * size < len(rows):
            links["next"] = str(request.url.replace(query=urlencode({**params, "page[number]": number + 1})))
        page = rows[(number - 1) * size:number * size]
        return document({"data": [resource(i, a) for i, a in page], "links": links})

    async def item(request: Request) -> Response:
        if not authorised(request):
            return error(401, "Unauthorized", "a valid bearer token is required")
        id_ = request.path_params["id"]
        with systems.lock:
            if id_ not in systems.rows:
                return error(404, "Not Found", f"no customer {id_}")
            if request.method == "GET":
                return document({"data": resource(id_, systems.rows[id_])})
        attributes, refused = await attributes_of(request, id_)
        if refused:
            return refused
        with systems.lock:
            systems.rows[id_].update(attributes or {}, updatedAt=dt.datetime.now(dt.UTC).isoformat())
            return document({"data": resource(id_, systems.rows[id_])})

    return Starlette(routes=[Route("/customers", collection, methods=["GET", "POST"]),
                             Route("/customers/{id}", item, methods=["GET", "PATCH"])])


class Serving:
    """An ASGI app under uvicorn on a free loopback port, in a thread: ``url``, ``stop()``."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"a stand-in did not start at {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()
