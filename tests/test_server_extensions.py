"""The framework-free call pipeline and the extension seam.

The pipeline is driven here with no web framework at all (a plain ``Request``), the way the
Django shell will drive it; a small extension written against ``interlink.server.Extension``
shows every part of the seam (routes, a call hook with its own ``CallSlot``, OpenAPI parts, a
lifespan) on a real uvicorn; and ``import interlink.callbacks`` is checked, in a fresh process,
not to load the server.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from interlink.errors import BadArguments, Forbidden, NotAuthorised
from interlink.identity import Backend
from interlink.server import ApiServer, Call, CallHook, CallSlot, Extension, Method, OpenApiDocument, Pipeline, Request, Site
from interlink.store import MemoryKeys, Role

KEY = ("k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST")


class Reader(Role):
    def has(self, permission: str) -> bool:
        return permission == "read"


def memory_api() -> ApiServer:
    return ApiServer(authenticator=MemoryKeys({KEY[0]: (KEY[1], Reader(name="reader"))}), docs=False)


def bearer() -> str:
    return f"Bearer {KEY[0]}:{KEY[1]}"


# -- the pipeline without a web framework ---------------------------------------------------------


def test_the_pipeline_runs_a_call_from_a_plain_request() -> None:
    api = memory_api()

    @api.method(module="home", requires=["read"])
    def add(rl: Role, a: int, b: int = 1) -> dict[str, Any]:
        return {"sum": a + b, "role": rl.name}

    @api.method(module="home", requires=["write"])
    async def erase(rl: Role) -> None:
        raise AssertionError("never called")

    pipeline = Pipeline(api)
    pipeline.setup()

    async def call(route: str, request: Request) -> Any:
        return await pipeline.call(pipeline.dispatch[route], request)

    async def go() -> None:
        # A form body, the key as the authorisation field: the field is taken out before decoding.
        form = [("a", "2"), ("b", "40"), ("authorisation", f"{KEY[0]}:{KEY[1]}")]
        assert await call("home/add", Request([], form=form)) == {"sum": 42, "role": "reader"}
        # A JSON body, the key in the Authorization header.
        assert await call("home/add", Request([], json={"a": 1}, authorization=bearer())) == {"sum": 2, "role": "reader"}
        with pytest.raises(NotAuthorised):
            await call("home/add", Request([], form=[("a", "1")]))
        with pytest.raises(BadArguments) as bad:
            await call("home/add", Request([], form=[("a", "x")], authorization=bearer()))
        assert bad.value.field == "a"
        with pytest.raises(Forbidden, match="write"):
            await call("home/erase", Request([], authorization=bearer()))
        with pytest.raises(BadArguments, match="more than once"):
            await call("home/add", Request([], query=[("authorisation", "k-1:x")], form=[("authorisation", "k-2:y")]))

    anyio.run(go)


def test_a_transaction_ends_in_one_place_whichever_way_the_method_runs(database: Any) -> None:
    """def and async def methods with a Call: committed when they return, rolled back when they raise."""
    from sqlalchemy import func, select

    from interlink.store import User, create_key, create_role, create_user

    with database.session() as session:
        key, secret = create_key(session, create_role(session, create_user(session, "owner"), "owner"))
        credentials = f"Bearer {key.key_id}:{secret.decode()}"
    api = ApiServer(database=database, docs=False)

    @api.method(module="users")
    def add_def(rl: Role, call: Call, name: str, fail: bool = False) -> str:
        create_user(call.db, name)
        if fail:
            raise ValueError("after the insert")
        return name

    @api.method(module="users")
    async def add_async(rl: Role, call: Call, name: str, fail: bool = False) -> str:
        create_user(call.db, name)
        if fail:
            raise ValueError("after the insert")
        return name

    pipeline = Pipeline(api)
    pipeline.setup()

    async def go() -> None:
        for route in ("users/add_def", "users/add_async"):
            dispatch = pipeline.dispatch[route]
            name = route.rpartition("_")[2]
            assert await pipeline.call(dispatch, Request([], form=[("name", name)], authorization=credentials)) == name
            with pytest.raises(ValueError, match="after the insert"):
                await pipeline.call(dispatch, Request([], form=[("name", name + "-x"), ("fail", "1")], authorization=credentials))

    anyio.run(go)
    with database.session() as session:
        names = set(session.scalars(select(User.username)))
        assert names == {"owner", "def", "async"}
        assert session.scalar(select(func.count()).select_from(User)) == 3


# -- an extension written against the seam --------------------------------------------------------


class Audit(Extension):
    """Records each call of the methods it watches, in its own slot of the Call; serves the
    record at /audit; documents itself; runs while the app serves."""

    slot: CallSlot[list[str]] = CallSlot("audit")

    def __init__(self, api: ApiServer, watched: str) -> None:
        self.api = api
        self.watched = watched
        self.asked: list[str] = []
        self.log: list[str] = []
        self.running = False
        self.bound_to: Backend | None = None
        api.add_extension(self)

    def bind(self, pipeline: Pipeline, backend: Backend) -> None:
        self.bound_to = backend

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        self.running = True
        try:
            yield
        finally:
            self.running = False

    def call_hook(self, method: Method) -> CallHook | None:
        self.asked.append(method.name)
        if method.name != self.watched:
            return None

        def begin(call: Call, request: Request, kwargs: dict[str, Any]) -> None:
            notes = [f"{call.method} from {request.client} with {sorted(kwargs)}"]
            self.slot.set(call, notes)
            call.before_commit.append(lambda done: self.log.extend(notes + [f"returned {done.response!r}"]))

        return begin

    def routes(self) -> list[Route]:
        async def audit(request: Any) -> PlainTextResponse:
            return PlainTextResponse("\n".join(self.log))

        return [Route("/audit", audit)]

    def openapi(self, document: OpenApiDocument) -> None:
        method = self.api.methods[self.watched]
        document.operation(method)["x-audited"] = {"calls": document.schema({"type": "integer"})}
        document.document["x-audit"] = "/audit"


def test_an_extension_plugs_in_through_the_seam(live_server: Any) -> None:
    api = memory_api()
    audit = Audit(api, watched="home.double")
    seen: list[list[str] | None] = []

    @api.method(module="home")
    def double(rl: Role, call: Call, n: int) -> int:
        seen.append(Audit.slot.get(call))  # the extension's own, typed state of this call
        return 2 * n

    @api.method(module="home")
    async def ping() -> str:
        return "pong"

    url = live_server(api)
    assert audit.running and audit.bound_to is not None
    assert sorted(audit.asked) == ["home.double", "home.ping"]  # asked once per method, at setup
    for n in (1, 2, 3):
        answer = httpx.post(f"{url}/api/home/double", data={"n": n}, headers={"authorization": bearer()})
        assert answer.json() == 2 * n
    assert httpx.post(f"{url}/api/home/ping").json() == "pong"
    assert sorted(audit.asked) == ["home.double", "home.ping"]  # ... and never per call
    assert seen == [["home.double from 127.0.0.1 with ['call', 'n', 'rl']"]] * 3
    assert httpx.get(f"{url}/audit").text.splitlines()[-1] == "returned 6"
    document = httpx.get(f"{url}/api/openapi.json").json()
    audited = document["paths"]["/api/home/double"]["post"]["x-audited"]
    assert audited["calls"]["format"] == "int64"  # integers are bounded after the extensions add theirs
    assert "x-audited" not in document["paths"]["/api/home/ping"]["post"]
    assert document["x-audit"] == "/audit"


def test_site_pages_attach_through_the_seam() -> None:
    api = memory_api()
    site = Site(api)
    site.page("/users", "interlink/base.html")
    assert api.routes == [] and api.extensions == [site]  # nothing of the api was changed
    assert [route.path for route in site.routes()] == ["/login", "/logout", "/users"]  # type: ignore[attr-defined]

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
            return await client.get("/login")  # no lifespan: the app binds the site before serving it

    answer = anyio.run(go)
    assert answer.status_code == 200 and 'name="csrf_token"' in answer.text


# -- what moved, and callbacks without their extension ---------------------------------------------


def test_moved_callback_settings_say_where_they_went() -> None:
    with pytest.raises(TypeError, match=r"Callbacks\(api, allowed_networks=\.\.\.\)"):
        ApiServer(callback_allowed_networks="127.0.0.0/8")
    with pytest.raises(TypeError, match=r"Callbacks\(api, delivery_worker=\.\.\.\)"):
        ApiServer(delivery_worker=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        ApiServer(colour="blue")
    api = ApiServer()
    with pytest.raises(AttributeError, match=r"callbacks\.webhook"):
        api.webhook("invoice.paid")
    with pytest.raises(AttributeError, match=r"callbacks\.emit"):
        api.emit("invoice.paid", {})
    with pytest.raises(AttributeError, match="no attribute 'colour'"):
        api.colour  # noqa: B018


def test_declared_callbacks_need_the_callbacks_extension() -> None:
    from interlink.callbacks import Callback, Callbacks

    hook = Callback("{$request.body#/url}", body=dict)
    api = memory_api()

    @api.method(module="jobs", callbacks=[hook])
    def start(url: str) -> str:
        return url

    with pytest.raises(TypeError, match=r"jobs.start declares callbacks=\[\.\.\.\].*Callbacks\(api\)"):
        Pipeline(api).setup()
    callbacks = Callbacks(api, delivery_worker=False)
    with pytest.raises(ValueError, match="has its Callbacks already"):
        Callbacks(api)
    assert Callbacks.of(api) is callbacks
    assert callbacks.call_hook(api.methods["jobs.start"]) is not None

    @api.method(module="jobs")
    def plain() -> str:
        return "lean"

    assert callbacks.call_hook(api.methods["jobs.plain"]) is None  # no webhooks: the lean path
    callbacks.webhook("job.done", body=dict)
    assert callbacks.call_hook(api.methods["jobs.plain"]) is not None  # emit() joins its transaction


def test_importing_callbacks_does_not_load_the_server() -> None:
    """A FastAPI user of interlink.callbacks needs none of the interlink server."""
    code = (
        "import sys\n"
        "import interlink.callbacks\n"
        "from interlink.callbacks import FastAPICallbacks, Outbox, Callback\n"
        "print(sorted(m for m in sys.modules if m.startswith('interlink.server')))\n"
        "interlink.callbacks.Callbacks\n"
        "print('interlink.server._api' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["[]", "True"]  # nothing of the server until Callbacks (which needs it) is used


def test_start_up_objects_are_kept_out_of_full_collections() -> None:
    """A full collection on a busy server walked every start-up object and stopped it for
    ~60 ms about once a second; after the lifespan starts they are frozen, once per process,
    and the young generation's threshold is raised from Python's 700."""
    code = (
        "import asyncio, gc\n"
        "from interlink.server import ApiServer\n"
        "from interlink.store import MemoryKeys\n"
        "api = ApiServer(authenticator=MemoryKeys({}), docs=False)\n"
        "before = len(gc.get_objects())\n"
        "async def serve():\n"
        "    async with api.app.lifespan(api.app.site):\n"
        "        print(before, len(gc.get_objects()), gc.get_freeze_count(), gc.get_threshold()[0])\n"
        "asyncio.run(serve())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    before, after, frozen, young = map(int, out)
    assert frozen > before / 2 and after < before / 10, (before, after, frozen)
    assert young == 10_000  # the young generation is not collected every few dozen calls
