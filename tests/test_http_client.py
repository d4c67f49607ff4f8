"""APIClient / AsyncAPIClient against a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import pytest

from interlink.http import APIClient, AsyncAPIClient, ConfigAdapter, InvalidURLError, RetryPolicy
from interlink.http._options import DEFAULT_TIMEOUT


class DictAdapter:
    def __init__(self, base_url: str, kwargs: dict[str, Any]) -> None:
        self.base_url = base_url
        self.kwargs = kwargs

    def get_client_base_url(self) -> str:
        return self.base_url

    def get_client_session_kwargs(self) -> dict[str, Any]:
        return self.kwargs


def test_relative_urls_resolve_under_the_base_and_keep_their_query(resource_server) -> None:
    with APIClient(resource_server.url + "/api/v1") as client:
        data = client.get("fruits/apple?colour=red&x=%20").json()
        assert data["path"] == "/api/v1/fruits/apple"
        assert data["args"] == {"colour": "red", "x": " "}
        data = client.get("/fruits", params={"page": 2}).json()
        assert data["path"] == "/api/v1/fruits" and data["args"] == {"page": "2"}
        assert client.get(resource_server.url + "/api/v1/abs").json()["path"] == "/api/v1/abs"


@pytest.mark.parametrize("suffix", [".evil.org/api/v1/x", "/api/v1-other", "/api/x"])
def test_urls_outside_the_base_are_refused_before_sending(resource_server, suffix: str) -> None:
    host = resource_server.url  # http://127.0.0.1:PORT
    with APIClient(host + "/api/v1") as client:
        with pytest.raises(InvalidURLError):
            client.get(host + suffix)
        with pytest.raises(InvalidURLError):
            client.get("../../secret")
        with pytest.raises(InvalidURLError):
            client.send(httpx.Request("GET", host + "/api/v1-other"))
    assert resource_server.state.hits == {}


def test_configure_from_reads_the_adapter_without_changing_it(resource_server) -> None:
    kwargs = {"headers": {"X-Service": "fruit"}, "timeout": 7, "params": {"lang": "nl"}}
    adapter = DictAdapter(resource_server.url + "/api/", kwargs)
    assert isinstance(adapter, ConfigAdapter)
    snapshot = {"headers": {"X-Service": "fruit"}, "timeout": 7, "params": {"lang": "nl"}}
    for _ in range(2):
        with APIClient.configure_from(adapter) as client:
            data = client.get("x").json()
            assert data["headers"]["x-service"] == "fruit"
            assert data["args"] == {"lang": "nl"}
            assert client.timeout.read == 7
    assert kwargs == snapshot


def test_a_timeout_is_always_set(resource_server) -> None:
    assert APIClient(resource_server.url).timeout == DEFAULT_TIMEOUT
    assert APIClient(resource_server.url, {"timeout": None}).timeout == DEFAULT_TIMEOUT
    assert APIClient(resource_server.url, {"timeout": (2, 9)}).timeout == httpx.Timeout(9, connect=2)


def test_unknown_options_are_an_error(resource_server) -> None:
    with pytest.raises(TypeError, match="verfy"):
        APIClient(resource_server.url, {"verfy": False})


def test_subclasses_may_take_extra_kwargs(resource_server) -> None:
    class FruitClient(APIClient):
        def __init__(self, base_url: str, request_kwargs: dict | None = None, *, fruit: str = "", **kwargs: Any):
            super().__init__(base_url, request_kwargs, **kwargs)
            self.fruit = fruit

    adapter = DictAdapter(resource_server.url, {})
    with FruitClient.configure_from(adapter, fruit="pear") as client:
        assert client.fruit == "pear"
        assert client.get("ok").status_code == 200


def test_idempotent_requests_retry_on_503_honouring_retry_after(resource_server) -> None:
    waits: list[float] = []
    policy = RetryPolicy(retries=3, backoff_factor=0.01)
    with APIClient(resource_server.url + "/api/", {"retry_policy": policy}) as client:
        client._interlink_transport._sleep = waits.append  # record instead of sleeping
        response = client.get("flaky", params={"key": "a", "fail": 2, "retry_after": "0"})
        assert response.json() == {"ok": True, "hit": 3}
        response = client.get("flaky", params={"key": "b", "fail": 1, "status": 429, "retry_after": "7"})
        assert response.status_code == 200
    assert waits == [0.0, 0.0, 7.0]


def test_retries_run_out_and_the_last_response_is_returned(resource_server) -> None:
    with APIClient(resource_server.url + "/api/", {"retries": 2, "backoff_factor": 0}) as client:
        response = client.get("flaky", params={"key": "c", "fail": 10, "status": 502})
        assert response.status_code == 502
        assert response.json()["hit"] == 3  # first try + 2 retries


def test_post_is_not_retried_on_503(resource_server) -> None:
    with APIClient(resource_server.url + "/api/", {"backoff_factor": 0}) as client:
        assert client.post("flaky", params={"key": "d", "fail": 1}).status_code == 503
    assert resource_server.state.hits["d"] == 1


def test_connection_errors_are_retried_then_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket closes
    waits: list[float] = []
    with APIClient(f"http://127.0.0.1:{port}/", {"retries": 2, "backoff_factor": 0.5}) as client:
        client._interlink_transport._sleep = waits.append
        with pytest.raises(httpx.ConnectError):
            client.post("x", json={})
    assert waits == [0.5, 1.0]


def _wait_for(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_without_with_the_client_keeps_working_and_leaks_no_connection(resource_server) -> None:
    client = APIClient(resource_server.url + "/api/")
    for _ in range(3):
        assert client.get("x").status_code == 200
        assert _wait_for(lambda: resource_server.server.open_connections() == 0)
    with client.stream("GET", "stream") as response:
        assert resource_server.server.open_connections() == 1
        assert list(response.iter_lines()) == ['{"i": 0}', '{"i": 1}', '{"i": 2}']
    assert _wait_for(lambda: resource_server.server.open_connections() == 0)


def test_without_with_the_ca_bundle_is_loaded_once_not_per_call(resource_server, monkeypatch) -> None:
    import httpx._transports.default as transports

    made: list[Any] = []  # contexts made from the CA bundle (verify=True/False), not handed in
    create = httpx.create_ssl_context

    def counting(verify: Any = True, **kwargs: Any) -> Any:
        if isinstance(verify, bool):
            made.append({"verify": verify})
        return create(verify=verify, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    monkeypatch.setattr(transports, "create_ssl_context", counting)
    client = APIClient(resource_server.url + "/api/")
    for _ in range(5):
        assert client.get("x").status_code == 200
    assert len(made) == 1  # each call makes a new pool; they share one TLS context
    client.verify = False  # new settings: a new context, made once again
    for _ in range(2):
        assert client.get("x").status_code == 200
    assert [k["verify"] for k in made] == [True, False]


def test_with_keeps_one_connection_alive_and_closes_it_on_exit(resource_server) -> None:
    with APIClient(resource_server.url + "/api/") as client:
        for _ in range(5):
            assert client.get("x").status_code == 200
        assert resource_server.server.open_connections() == 1
    assert _wait_for(lambda: resource_server.server.open_connections() == 0)


def test_async_client_same_configuration(resource_server) -> None:
    adapter = DictAdapter(resource_server.url + "/api/", {"headers": {"X-A": "1"}, "backoff_factor": 0})

    async def main() -> None:
        async with AsyncAPIClient.configure_from(adapter) as client:
            responses = await asyncio.gather(*(client.get(f"n/{i}?q={i}") for i in range(10)))
            assert [r.json()["path"] for r in responses] == [f"/api/n/{i}" for i in range(10)]
            assert responses[0].json()["headers"]["x-a"] == "1"
            with pytest.raises(InvalidURLError):
                await client.get("https://127.0.0.1.evil.org/api/")
            r = await client.get("flaky", params={"key": "async", "fail": 1})
            assert r.json()["hit"] == 2
        # without `async with`: still usable, connections closed after each response
        client2 = AsyncAPIClient.configure_from(adapter)
        assert (await client2.get("y")).status_code == 200
        assert (await client2.get("z")).status_code == 200

    asyncio.run(main())
    assert _wait_for(lambda: resource_server.server.open_connections() == 0)
