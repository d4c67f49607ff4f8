"""Real peers for the sync-flow tests and benchmark: a JSON:API target and a paged REST source.

**The target** (:func:`jsonapi_app`) is a small but standards-following JSON:API 1.1 server on
Starlette, standing in for OroCommerce's back-office API:

* media type ``application/vnd.api+json`` required on request bodies (415 otherwise, also for
  unknown media type parameters) and sent on every answer; ``jsonapi.ext`` advertises the
  Atomic Operations extension (``https://jsonapi.org/ext/atomic``), served at ``/operations``;
* ``GET /{type}`` with ``filter[id]=1,2``, ``filter[<attribute>]=a,b``, ``page[size]``,
  ``page[number]`` and ``links.next``; ``POST /{type}``; ``GET``/``PATCH``/``DELETE
  /{type}/{id}``; errors as JSON:API ``errors`` objects with ``status``, ``title``, ``detail`` and
  ``source.pointer``; 422 for invalid attributes (``name`` required, at most 255 characters);
* every request needs ``Authorization: Bearer <JWT>``, an RS256 access token issued by the
  test OpenID provider (``tests/peers/oidc_provider.mjs``) for the resource
  ``urn:interlink:test-api``, checked against the provider's JWKS (401 with
  ``WWW-Authenticate`` otherwise).

Why not Django REST framework JSON:API (the obvious real implementation): it brings Django, a
settings module, models and migrations into the test run for one peer, and it does not serve the
Atomic Operations extension, which the loader must be tested against. This server is written to
the JSON:API 1.1 text instead, keeps its rows in memory (a test peer lives one session), and
counts requests so tests can assert what a run sent. ``fail_next`` makes it answer 429/503
(with ``Retry-After``) for the next requests, for the retry tests.

**The source** (:func:`source_app`) is a REST list endpoint as most systems have one:
``GET /api/customers?updated_at__gte=<iso>&page=<n>&page_size=<m>`` ordered by
``(updated_at, id)``, answering ``{"count", "next", "results"}`` (the Django REST framework
page shape). Records can be generated on the fly (``SourceState.generate``) so 100,000 of them
cost the peer no memory.

Run as a script (``python tests/peers/jsonapi_peer.py --issuer URL``) both serve in one process
on random ports and print ``READY <source-url> <target-url>``; the benchmark uses that.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

JSONAPI = "application/vnd.api+json"
ATOMIC = "https://jsonapi.org/ext/atomic"
AUDIENCE = "urn:interlink:test-api"
MAX_BODY = 5 * 1024 * 1024
MAX_OPERATIONS = 1000


# -- the target -----------------------------------------------------------------------------
@dataclass
class TargetState:
    issuer: str
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # type -> id -> attributes
    next_id: int = 0
    requests: Counter = field(default_factory=Counter)  # "POST /customers", "PATCH", "atomic", ...
    tokens: set[str] = field(default_factory=set)
    fail_next: list[tuple[int, str | None]] = field(default_factory=list)
    delay: float = 0.0
    # Re-entrant: an atomic request holds it while its operations create and patch.
    lock: Any = field(default_factory=threading.RLock)

    def all(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.rows.setdefault(type_, {})

    def reset_counts(self) -> None:
        self.requests.clear()


class _Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", pointer: str | None = None) -> None:
        self.status, self.title, self.detail, self.pointer = status, title, detail, pointer

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": str(self.status), "title": self.title}
        if self.detail:
            error["detail"] = self.detail
        if self.pointer:
            error["source"] = {"pointer": self.pointer}
        return error


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _validate(type_: str, attributes: Any, pointer: str, partial: bool) -> dict[str, Any]:
    if not isinstance(attributes, dict):
        raise _Problem(400, "Bad Request", "attributes must be an object", pointer)
    if type_ == "customers":
        if "name" in attributes or not partial:
            name = attributes.get("name")
            if not isinstance(name, str) or not name.strip():
                raise _Problem(422, "Unprocessable Entity", "name may not be blank", f"{pointer}/name")
            if len(name) > 255:
                raise _Problem(422, "Unprocessable Entity", "name is longer than 255 characters", f"{pointer}/name")
    for key in attributes:
        if key in ("id", "type", "updatedAt"):
            raise _Problem(400, "Bad Request", f"{key} is not a writable attribute", f"{pointer}/{key}")
    return attributes


def jsonapi_app(state: TargetState) -> Any:
    import jwt
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    jwks: dict[str, Any] = {}

    def verify(token: str) -> None:
        if token in state.tokens:
            return
        if "client" not in jwks:
            import httpx

            config = httpx.get(f"{state.issuer}/.well-known/openid-configuration", timeout=10).json()
            jwks["client"] = jwt.PyJWKClient(config["jwks_uri"])
        key = jwks["client"].get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=state.issuer)
        state.tokens.add(token)

    def document(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
        body = {"jsonapi": {"version": "1.1", "ext": [ATOMIC]}, **payload}
        return Response(json.dumps(body), status, headers=headers, media_type=JSONAPI)

    def problem(error: _Problem, headers: dict[str, str] | None = None) -> Response:
        return document({"errors": [error.error()]}, error.status, headers)

    def resource(type_: str, id_: str, attributes: dict[str, Any]) -> dict[str, Any]:
        return {"type": type_, "id": id_, "attributes": attributes, "links": {"self": f"/{type_}/{id_}"}}

    async def read_body(request: Request, atomic: bool) -> Any:
        content_type = request.headers.get("content-type", "")
        media, _, params = content_type.partition(";")
        if media.strip() != JSONAPI:
            raise _Problem(415, "Unsupported Media Type", f"send {JSONAPI}")
        params = params.strip()
        if params and not (atomic and params.replace(" ", "") in (f'ext="{ATOMIC}"', f"ext={ATOMIC}")):
            raise _Problem(415, "Unsupported Media Type", f"unsupported media type parameters: {params}")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise _Problem(413, "Payload Too Large")
        try:
            return json.loads(body)
        except ValueError:
            raise _Problem(400, "Bad Request", "the body is not JSON") from None

    def check(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise ValueError("no bearer token")
            verify(token.strip())
        except Exception:  # noqa: BLE001 - any failure is the same 401
            return problem(_Problem(401, "Unauthorized", "a valid bearer token is required"),
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if state.fail_next:
            with state.lock:
                status, retry_after = state.fail_next.pop(0) if state.fail_next else (0, None)
            if status:
                headers = {"Retry-After": retry_after} if retry_after else None
                return problem(_Problem(status, "Try Again"), headers)
        return None

    def create(type_: str, data: Any, pointer: str) -> dict[str, Any]:
        if not isinstance(data, dict) or data.get("type") != type_:
            raise _Problem(409, "Conflict", f"data.type must be {type_!r}", f"{pointer}/type")
        if "id" in data:
            raise _Problem(403, "Forbidden", "client-generated ids are not supported", f"{pointer}/id")
        attributes = dict(_validate(type_, data.get("attributes", {}), f"{pointer}/attributes", False))
        with state.lock:
            state.next_id += 1
            id_ = str(state.next_id)
            attributes["updatedAt"] = _now()
            state.all(type_)[id_] = attributes
        return resource(type_, id_, attributes)

    def patch(type_: str, id_: str, data: Any, pointer: str) -> dict[str, Any]:
        if not isinstance(data, dict) or data.get("type") != type_ or str(data.get("id")) != id_:
            raise _Problem(409, "Conflict", "data.type and data.id must match the URL", pointer)
        attributes = _validate(type_, data.get("attributes", {}), f"{pointer}/attributes", True)
        with state.lock:
            row = state.all(type_).get(id_)
            if row is None:
                raise _Problem(404, "Not Found", f"no {type_} {id_}")
            row.update(attributes)
            row["updatedAt"] = _now()
            return resource(type_, id_, dict(row))

    async def collection(request: Request) -> Response:
        type_ = request.path_params["type"]
        denied = check(request)
        if denied:
            return denied
        if state.delay:
            await asyncio.sleep(state.delay)
        try:
            if request.method == "POST":
                state.requests[f"POST /{type_}"] += 1
                body = await read_body(request, atomic=False)
                return document({"data": create(type_, body.get("data") if isinstance(body, dict) else None, "/data")}, 201)
            state.requests[f"GET /{type_}"] += 1
            params = request.query_params
            rows = list(state.all(type_).items())
            for key, value in params.items():
                if key.startswith("filter[") and key.endswith("]"):
                    name, wanted = key[7:-1], set(value.split(","))
                    rows = [(i, a) for i, a in rows if (i if name == "id" else str(a.get(name))) in wanted]
            size = min(int(params.get("page[size]", "100")), 1000)
            number = max(int(params.get("page[number]", "1")), 1)
            page = rows[(number - 1) * size:number * size]
            links: dict[str, Any] = {}
            if number * size < len(rows):
                query = {k: v for k, v in params.items() if k != "page[number]"}
                links["next"] = f"/{type_}?{urlencode({**query, 'page[number]': number + 1})}"
            return document({"data": [resource(type_, i, a) for i, a in page], "links": links})
        except _Problem as error:
            return problem(error)
        except ValueError:
            return problem(_Problem(400, "Bad Request", "a page parameter is not a number"))

    async def item(request: Request) -> Response:
        type_, id_ = request.path_params["type"], request.path_params["id"]
        denied = check(request)
        if denied:
            return denied
        if state.delay:
            await asyncio.sleep(state.delay)
        state.requests[f"{request.method} /{type_}/id"] += 1
        try:
            if request.method == "PATCH":
                body = await read_body(request, atomic=False)
                return document({"data": patch(type_, id_, body.get("data") if isinstance(body, dict) else None, "/data")})
            with state.lock:
                row = state.all(type_).get(id_)
                if row is None:
                    raise _Problem(404, "Not Found", f"no {type_} {id_}")
                if request.method == "DELETE":
                    del state.all(type_)[id_]
                    return Response(status_code=204)
                return document({"data": resource(type_, id_, dict(row))})
        except _Problem as error:
            return problem(error)

    async def operations(request: Request) -> Response:
        denied = check(request)
        if denied:
            return denied
        state.requests["atomic"] += 1
        try:
            body = await read_body(request, atomic=True)
            ops = body.get("atomic:operations") if isinstance(body, dict) else None
            if not isinstance(ops, list) or not ops:
                raise _Problem(400, "Bad Request", "atomic:operations must be a non-empty list", "/atomic:operations")
            if len(ops) > MAX_OPERATIONS:
                raise _Problem(413, "Payload Too Large", f"at most {MAX_OPERATIONS} operations")
            # All or nothing: every operation is checked first, then all are applied.
            with state.lock:
                checked = []
                for index, op in enumerate(ops):
                    pointer = f"/atomic:operations/{index}"
                    if not isinstance(op, dict):
                        raise _Problem(400, "Bad Request", "an operation must be an object", pointer)
                    data = op.get("data")
                    if not isinstance(data, dict):
                        raise _Problem(400, "Bad Request", "data must be a resource object", f"{pointer}/data")
                    if op.get("op") == "add":
                        type_ = (op.get("ref") or {}).get("type") or data.get("type")
                        if data.get("type") != type_ or "id" in data:
                            raise _Problem(409, "Conflict", "add needs data.type and no id", f"{pointer}/data")
                        _validate(type_, data.get("attributes", {}), f"{pointer}/data/attributes", False)
                    elif op.get("op") == "update":
                        ref = op.get("ref") or data
                        type_, id_ = ref.get("type"), str(ref.get("id"))
                        if data.get("type") != type_ or str(data.get("id")) != id_:
                            raise _Problem(409, "Conflict", "data.type and data.id must match ref", f"{pointer}/data")
                        _validate(type_, data.get("attributes", {}), f"{pointer}/data/attributes", True)
                        if id_ not in state.all(type_):
                            raise _Problem(404, "Not Found", f"no {type_} {id_}", f"{pointer}/ref")
                    else:
                        raise _Problem(400, "Bad Request", "op must be add or update", f"{pointer}/op")
                    checked.append((op["op"], type_, data))
                results = []
                for index, (kind, type_, data) in enumerate(checked):
                    pointer = f"/atomic:operations/{index}/data"
                    if kind == "add":
                        results.append({"data": create(type_, data, pointer)})
                    else:
                        results.append({"data": patch(type_, str(data["id"]), data, pointer)})
        except _Problem as error:
            return problem(error)
        return Response(json.dumps({"atomic:results": results}), 200,
                        media_type=f'{JSONAPI}; ext="{ATOMIC}"')

    async def count(request: Request) -> Response:
        return Response(json.dumps({t: len(rows) for t, rows in state.rows.items()}), media_type="application/json")

    return Starlette(routes=[
        Route("/_test/count", count),
        Route("/operations", operations, methods=["POST"]),
        Route("/{type}", collection, methods=["GET", "POST"]),
        Route("/{type}/{id}", item, methods=["GET", "PATCH", "DELETE"]),
    ])


# -- the source -----------------------------------------------------------------------------
@dataclass
class SourceState:
    """Customers kept as ``id -> record``; ``generate=N`` serves N made-up records instead."""

    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    generate: int = 0
    requests: int = 0
    base_time: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def put(self, id_: int, name: str, when: dt.datetime | None = None, **extra: Any) -> dict[str, Any]:
        when = when or dt.datetime.now(dt.UTC)
        record = {"id": id_, "name": name, "updated_at": when.isoformat(timespec="microseconds"), **extra}
        self.records[id_] = record
        return record

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.records.values(), key=lambda r: (r["updated_at"], r["id"]))

    def generated(self, index: int) -> dict[str, Any]:
        when = self.base_time + dt.timedelta(seconds=index)
        return {"id": index + 1, "name": f"Customer {index + 1}", "email": f"c{index + 1}@example.com",
                "updated_at": when.isoformat(timespec="microseconds")}


def source_app(state: SourceState) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def customers(request: Request) -> JSONResponse:
        state.requests += 1
        params = request.query_params
        try:
            page = max(int(params.get("page", "1")), 1)
            size = min(max(int(params.get("page_size", "100")), 1), 1000)
        except ValueError:
            return JSONResponse({"detail": "page and page_size are numbers"}, 400)
        since = params.get("updated_at__gte")
        start = (page - 1) * size
        if state.generate:
            first = 0
            if since:
                # Generated records are one second apart from base_time: find the first by arithmetic.
                offset = (dt.datetime.fromisoformat(since) - state.base_time).total_seconds()
                first = max(0, int(-(-offset // 1)))
            total = max(0, state.generate - first)
            results = [state.generated(first + i) for i in range(start, min(start + size, total))]
        else:
            rows = state.ordered()
            if since:
                rows = [r for r in rows if r["updated_at"] >= since]
            total = len(rows)
            results = rows[start:start + size]
        next_url = None
        if start + size < total:
            query = {**dict(params), "page": page + 1}
            next_url = str(request.url.replace(query=urlencode(query)))
        return JSONResponse({"count": total, "next": next_url, "results": results})

    async def control(request: Request) -> JSONResponse:
        # For the benchmark, which runs this peer in another process: seed or change records.
        body = await request.json()
        now = dt.datetime.now(dt.UTC)
        if request.path_params["action"] == "seed":
            for i in range(1, int(body["count"]) + 1):
                state.put(i, f"Customer {i}", state.base_time + dt.timedelta(seconds=i))
        else:
            for i in body["ids"]:
                state.put(int(i), f"{state.records[int(i)]['name']} (changed)", now)
        return JSONResponse({"records": len(state.records)})

    return Starlette(routes=[Route("/api/customers", customers),
                             Route("/_test/{action}", control, methods=["POST"])])


if __name__ == "__main__":  # pragma: no cover - used by the benchmark
    import argparse
    import socket
    import sys

    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--generate", type=int, default=0)
    args = parser.parse_args()

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    source, target = SourceState(generate=args.generate), TargetState(issuer=args.issuer)
    ports = port(), port()
    servers = [uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=p, log_level="warning"))
               for app, p in ((source_app(source), ports[0]), (jsonapi_app(target), ports[1]))]
    threads = [threading.Thread(target=s.run, daemon=True) for s in servers]
    for t in threads:
        t.start()
    while not all(s.started for s in servers):
        import time

        time.sleep(0.05)
    print(f"READY http://127.0.0.1:{ports[0]} http://127.0.0.1:{ports[1]}", flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
