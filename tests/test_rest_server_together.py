"""Typed API methods and REST resources in one process, one asyncio loop, one key store: the
ApiServer under uvicorn and a RestServer on Tornado, both answering the same bearer key."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from servers import free_port

from interlink import ApiServer, Role


@pytest.fixture(scope="module")
def together(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import uvicorn

    from interlink.rest import RestHandler, RestHandlerSetup, RestServer, role_authorization
    from interlink.store import Database, KeyAuthenticator, create_key, create_role, create_user

    database = Database(f"sqlite:///{tmp_path_factory.mktemp('together') / 'site.db'}")
    database.migrate()
    with database.session() as session:
        role = create_role(session, create_user(session, "alice"), "buyer")
        key, secret = create_key(session, role)
        credential = f"{key.key_id}:{secret.decode()}"
        session.commit()
    keys = KeyAuthenticator(database)

    api = ApiServer(authenticator=keys, docs=False)
    shop = api.module("shop")

    @shop.method
    async def whoami(rl: Role) -> str:
        return rl.name

    class Basket(RestHandler):
        @role_authorization(roles=["buyer"])
        async def get(self) -> None:
            self.write({"user": self.current_user, "role": self.auth_data["role"]})

    api_port, rest_port = free_port(), free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        rest = RestServer()
        rest.add_route("/basket", Basket, RestHandlerSetup({}, authenticator=keys))
        rest.startup(address="127.0.0.1", port=rest_port)
        uv = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=api_port, log_level="warning"))
        state["uvicorn"] = uv
        task = asyncio.ensure_future(uv.serve())
        while not uv.started:
            await asyncio.sleep(0.01)
        started.set()
        await task
        await rest.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(20), "servers did not start"
    yield {"api": f"http://127.0.0.1:{api_port}", "rest": f"http://127.0.0.1:{rest_port}", "key": credential}
    state["uvicorn"].should_exit = True
    thread.join(10)
    database.engine.dispose()


def test_one_key_for_typed_methods_and_rest_resources(together: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {together['key']}"}
    with httpx.Client(trust_env=False, timeout=10) as http:
        method = http.post(f"{together['api']}/api/shop/whoami", headers=headers, json={})
        resource = http.get(f"{together['rest']}/basket", headers=headers)
        refused = http.get(f"{together['rest']}/basket", headers={"Authorization": "Bearer k-0000000000000000:nope"})
    assert method.status_code == 200, method.text
    assert method.json() == "buyer"
    assert resource.json() == {"user": "alice", "role": "buyer"}
    assert refused.json() == {"code": 403, "error": "authentication failed"}
