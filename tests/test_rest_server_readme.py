"""rest-tools' README server examples, run as written but for the import line, over real HTTP.

The first runs as a script in its own process (it starts the asyncio loop itself); only the
address and port are swapped for a free loopback port. The second's handler class is taken
verbatim; ``get_fruit`` and ``add_to_basket`` are the user's own functions in the README, so
the test supplies them and records what they were called with.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from rest_servers import TornadoThread
from servers import free_port, wait_until_serving

FIRST = """
import asyncio
from interlink.rest import RestServer, RestHandler
class Fruits(RestHandler):
    def post(self):
        # handle a new fruit
        self.write({})
server = RestServer()
server.add_route('/fruits', Fruits)
server.startup(address='my.site.here', port=8080)
asyncio.get_event_loop().run_forever()
"""

SECOND = """
from interlink.rest import RestHandler, ArgumentHandler, ArgumentSource
class Fruits(RestHandler):
    def get(self):
        argo = ArgumentHandler(ArgumentSource.QUERY_ARGUMENTS, self)
        argo.add_argument('name', type=str) # de-facto required
        argo.add_argument('alias', dest='other_names', type=str, nargs='*', default=[]) # list
        argo.add_argument('is-citrus', type=bool, default=False)
        argo.add_argument('amount', type=float, required=True)
        args = argo.parse_args()
        fruit = get_fruit(args.name, args.other_names, args.is_citrus, args.amount)
        ...
    def post(self):
        argo = ArgumentHandler(ArgumentSource.JSON_BODY_ARGUMENTS, self)
        argo.add_argument('name', type=str) # de-facto required
        argo.add_argument('other-names', type=list, default=[])
        argo.add_argument('supply', type=dict, required=True)
        def _origin(val):
            try:
                return {'USA': 'United States of America', 'MEX': 'Mexico'}[val]
            except KeyError:
                # raise a ValueError or TypeError to propagate a 400 Error
                raise ValueError('Invalid origin')
        argo.add_argument('country_code', dest='origin', type=_origin, required=True)
        args = argo.parse_args()
        add_to_basket(args.name, args.other_names, args.supply, args.origin)
        ...
"""


def test_first_example_serves_as_a_script() -> None:
    port = free_port()
    script = FIRST.replace("'my.site.here'", "'127.0.0.1'").replace("port=8080", f"port={port}")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/fruits", process)
        response = httpx.post(f"http://127.0.0.1:{port}/fruits", json={"name": "banana"}, trust_env=False)
        assert response.status_code == 200
        assert response.json() == {}
        # Without RestHandlerSetup no Server header is configured: none is sent (not Tornado's).
        assert "Server" not in response.headers
        # Nor on the answers the server gives itself: an unknown path, a method not implemented.
        unknown = httpx.get(f"http://127.0.0.1:{port}/vegetables", trust_env=False)
        assert unknown.status_code == 404
        assert unknown.headers["Content-Type"].startswith("application/json")
        assert "Server" not in unknown.headers
        not_implemented = httpx.get(f"http://127.0.0.1:{port}/fruits", trust_env=False)
        assert not_implemented.status_code == 405
        assert "Server" not in not_implemented.headers
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def fruits() -> Iterator[tuple[str, list[tuple[str, tuple[Any, ...]]]]]:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    namespace: dict[str, Any] = {
        "get_fruit": lambda *args: calls.append(("get_fruit", args)),
        "add_to_basket": lambda *args: calls.append(("add_to_basket", args)),
    }
    exec(textwrap.dedent(SECOND), namespace)  # noqa: S102 - the README's code, as a user writes it

    def build() -> Any:
        from interlink.rest import RestServer

        server = RestServer()
        server.add_route("/fruits", namespace["Fruits"])
        return server

    server = TornadoThread(build)
    url = server.start()
    yield url, calls
    server.stop()


def test_second_example_query_arguments(fruits: tuple[str, list]) -> None:
    url, calls = fruits
    query = "name=apple&alias=malus&alias=pomme&is-citrus=No&amount=2.5"
    response = httpx.get(f"{url}/fruits?{query}", trust_env=False)
    assert response.status_code == 200
    assert calls[-1] == ("get_fruit", ("apple", ["malus", "pomme"], False, 2.5))
    httpx.get(f"{url}/fruits?name=lime&is-citrus=TRUE&amount=1", trust_env=False)
    assert calls[-1] == ("get_fruit", ("lime", [], True, 1.0))


def test_second_example_json_body(fruits: tuple[str, list]) -> None:
    url, calls = fruits
    body = {"name": "banana", "supply": {"crates": 3}, "country_code": "MEX"}
    assert httpx.post(f"{url}/fruits", json=body, trust_env=False).status_code == 200
    assert calls[-1] == ("add_to_basket", ("banana", [], {"crates": 3}, "Mexico"))


@pytest.mark.parametrize(
    ("method", "target", "body", "reason"),
    [
        ("GET", "/fruits?name=apple", None, "the following arguments are required: amount"),
        ("GET", "/fruits?amount=1", None, "the following arguments are required: name"),
        ("GET", "/fruits?name=a&amount=lots", None, "argument amount: invalid type"),
        ("GET", "/fruits?name=a&amount=1&is-citrus=maybe", None, "argument is-citrus: invalid type"),
        ("GET", "/fruits?name=a&amount=1&colour=red&taste=sweet", None, "unrecognized arguments: colour, taste"),
        # fixed on purpose: no prefix matching (rest-tools took ?amo= for amount) and -h is a name
        ("GET", "/fruits?name=a&amo=1", None, "the following arguments are required: amount"),
        ("GET", "/fruits?name=a&amount=1&h=1", None, "unrecognized arguments: h"),
        ("POST", "/fruits", {"name": "b", "supply": {}, "country_code": "FRA"}, "argument country_code: invalid type"),
        ("POST", "/fruits", {"name": "b", "supply": 5, "country_code": "USA"}, "argument supply: invalid type"),
        ("POST", "/fruits", {"supply": {}}, "the following arguments are required: name, country_code"),
    ],
)
def test_second_example_refusals(fruits: tuple[str, list], method: str, target: str, body: Any, reason: str) -> None:
    url, _ = fruits
    response = httpx.request(method, url + target, json=body, trust_env=False)
    assert response.status_code == 400
    assert response.reason_phrase == reason
    assert response.json() == {"code": 400, "error": reason}
