"""SOAP calls/s: ``build_soap_client`` vs zeep on a ``requests.Session`` (Open Forms' way).

Both clients call the same spyne service (SOAP 1.1, ``Add``) behind HTTP Basic, served by
uvicorn on 127.0.0.1 in its own process, in the same run. Two shapes:

* **a client per call** — what Open Forms' code does (``build_client(service)`` each time it
  prefills or registers): zeep fetches and parses the WSDL for every client; interlink
  reuses the parsed WSDL (cached per WSDL URL and credentials).
* **one client, many calls** — both kept open (one keep-alive connection each).

Each figure is the best of three alternating rounds (the machine is shared).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

PER_CALL = 150
LONG_LIVED = 1500


TESTS = Path(__file__).resolve().parent.parent / "tests"
_SERVE = (
    "import sys; sys.path[:0] = [{tests!r}, {peers!r}]\n"
    "import uvicorn, soap_server\n"
    "uvicorn.run(soap_server.SoapPeer(), host='127.0.0.1', port={port}, interface='wsgi', log_level='warning')\n"
)


def _peers():
    for path in (str(TESTS), str(TESTS / "peers")):
        if path not in sys.path:
            sys.path.insert(0, path)
    import servers
    import soap_server

    return servers, soap_server


def _start_server(servers) -> tuple[subprocess.Popen, str]:
    """The spyne peer in its own process, so that it does not share the client's GIL."""
    port = servers.free_port()
    code = _SERVE.format(tests=str(TESTS), peers=str(TESTS / "peers"), port=port)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    servers.wait_until_serving(url + "/soap11/?wsdl", process)
    return process, url


ROUNDS = 3


def _rate(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return calls / (time.perf_counter() - start)


def _compare(ours, theirs, calls: int) -> tuple[float, float]:
    """Best of ROUNDS alternating runs each: the machine is shared, so both sides get the same
    quiet and busy moments."""
    ours(), theirs()  # warm up: connect, load the WSDL once
    best = [0.0, 0.0]
    for _ in range(ROUNDS):
        best[0] = max(best[0], _rate(ours, calls // ROUNDS))
        best[1] = max(best[1], _rate(theirs, calls // ROUNDS))
    return best[0], best[1]


class _Record:
    auth_type = "basic"
    timeout = 10.0

    def __init__(self, base_url: str, username: str, secret: str) -> None:
        self.base_url, self.username, self.secret = base_url, username, secret
        self.options = {"soap": {"version": "1.1", "wsdl": "?wsdl"}}

    def get_secret(self) -> str:
        return self.secret


def run() -> str:
    import requests
    import zeep
    from zeep.transports import Transport

    from interlink.soap import build_soap_client, clear_wsdl_cache

    servers, soap_server = _peers()
    process, root = _start_server(servers)
    url = root + "/basic/"
    user, password = soap_server.BASIC_USER, soap_server.BASIC_PASSWORD
    record = _Record(url, user, password)

    def open_forms_client() -> zeep.Client:
        # Open Forms' soap.client.build_client: a configured requests session in zeep's Transport
        session = requests.Session()
        session.auth = (user, password)
        transport = Transport(session=session, timeout=10, operation_timeout=10)
        return zeep.Client(url + "?wsdl", transport=transport)

    try:
        clear_wsdl_cache()

        def ours_per_call() -> None:
            with build_soap_client(record) as client:
                assert client.service.Add(20, 22) == 42

        def theirs_per_call() -> None:
            client = open_forms_client()
            assert client.service.Add(20, 22) == 42
            client.transport.session.close()

        per_call = _compare(ours_per_call, theirs_per_call, PER_CALL)

        theirs_client = open_forms_client()
        with build_soap_client(record) as client:
            ours_long, theirs_long = _compare(lambda: client.service.Add(20, 22),
                                              lambda: theirs_client.service.Add(20, 22), LONG_LIVED)
        theirs_client.transport.session.close()
    finally:
        process.terminate()
        process.wait(10)

    lines = [
        "## SOAP (`interlink.soap`)",
        "",
        "zeep `Add` calls against the same spyne service behind HTTP Basic (uvicorn in its own process, loopback): "
        "`build_soap_client(record)` vs zeep on a `requests.Session` as Open Forms builds it; "
        "best of three alternating rounds.",
        "",
        "| shape | interlink calls/s | Open Forms' way calls/s | ratio | goal |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| a client per call ({PER_CALL} calls; Open Forms' code path) | {per_call[0]:,.0f} | {per_call[1]:,.0f} "
        f"| {per_call[0] / per_call[1]:.2f}× | ≥ 1.5× |",
        f"| one client, {LONG_LIVED} calls on one connection | {ours_long:,.0f} | {theirs_long:,.0f} "
        f"| {ours_long / theirs_long:.2f}× | |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
