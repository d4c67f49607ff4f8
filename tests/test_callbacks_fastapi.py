"""FastAPI's callbacks tutorial app delivering its documented callback through interlink: served by
uvicorn, the callback goes to a real receiver that verifies it with `standardwebhooks`; the
app's OpenAPI document is exactly the tutorial's."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from callbacks_peers import Receiver

HERE = Path(__file__).parent


def load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"{name}_{time.monotonic_ns()}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def delivering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("INTERLINK_DATABASE_URL", f"sqlite:///{tmp_path / 'invoices.db'}")
    monkeypatch.setenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", "127.0.0.0/8")
    return load("fastapi_tutorial_delivering")


def test_documentation_is_the_tutorials(delivering: Any) -> None:
    plain = load("fastapi_tutorial").app.openapi()
    assert delivering.app.openapi() == plain
    assert "{$callback_url}/invoices/{$request.body.id}" in json.dumps(plain)


def test_tutorial_app_delivers_its_callback(delivering: Any, live_server: Any) -> None:
    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    receiver.secrets["/events"] = [delivering.callbacks.secret()]
    api_url = live_server(delivering.app)
    answer = httpx.post(f"{api_url}/invoices/", params={"callback_url": f"{receiver_url}/events"},
                        json={"id": "2expen51ve", "customer": "Mr. Richie Rich", "total": "9999"})
    assert answer.status_code == 200 and answer.json() == {"msg": "Invoice received"}
    deadline = time.monotonic() + 15
    while not receiver.received:
        assert time.monotonic() < deadline, "no callback arrived"
        time.sleep(0.05)
    [got] = receiver.received
    assert got["path"] == "/events/invoices/2expen51ve"
    assert got["verified"] is True
    assert json.loads(got["body"]) == {"description": "Invoice paid", "paid": True}
    # A callback URL to an internal address is refused before anything is queued.
    refused = httpx.post(f"{api_url}/invoices/", params={"callback_url": "http://10.0.0.1/x"},
                         json={"id": "1", "customer": "c", "total": 1})
    assert refused.status_code == 400
    assert refused.json()["detail"][0]["loc"] == ["query", "callback_url"] and "private" in refused.json()["detail"][0]["msg"]
    from interlink.callbacks import list_deliveries

    with delivering.callbacks.database.session() as session:
        assert len(list_deliveries(session)) == 1  # only the first invoice's


def test_a_request_without_the_optional_callback_url_gets_fastapis_answer(delivering: Any, live_server: Any) -> None:
    # FastAPI's tutorial makes callback_url optional: without it the app answers as FastAPI's own
    # does (200), and no callback is queued, since there is nowhere to send it.
    from interlink.callbacks import list_deliveries

    api_url = live_server(delivering.app)
    answer = httpx.post(f"{api_url}/invoices/", json={"id": "1", "customer": "c", "total": 1})
    assert answer.status_code == 200 and answer.json() == {"msg": "Invoice received"}
    with delivering.callbacks.database.session() as session:
        assert list_deliveries(session) == []


def test_require_url_makes_a_missing_callback_url_a_400_naming_it(delivering: Any, live_server: Any) -> None:
    from interlink.callbacks import FastAPICallbacks, list_deliveries

    strict = FastAPICallbacks(signer="invoices", require_url=True)
    assert strict.require_url is True
    delivering.callbacks.require_url = True  # the tutorial app's own instance, made strict
    api_url = live_server(delivering.app)
    answer = httpx.post(f"{api_url}/invoices/", json={"id": "1", "customer": "c", "total": 1})
    assert answer.status_code == 400
    [detail] = answer.json()["detail"]
    assert detail["loc"] == ["query", "callback_url"] and "has no value" in detail["msg"]
    with delivering.callbacks.database.session() as session:
        assert list_deliveries(session) == []
