"""The real network that replaces requests-mock in zgw-consumers' ported tests.

A programmable HTTP server on 127.0.0.1 in its own *process* (zgw-consumers' tests freeze
the clock with freezegun, which would also freeze an in-process server's event loop). Tests
register answers and read what it received through ``/__mock__/`` control routes, sent with
a plain httpx client; ``Mocker`` gives them requests-mock's shape (``m.get(url, ...)``,
``m.post``, ``m.request_history``, ``m.last_request``).

Run as a script: ``python fake_network.py`` prints the port it listens on.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# -- the server (stdlib only: it runs as a script) --------------------------------------------
_lock = threading.Lock()
_routes: list[dict[str, Any]] = []
_history: list[dict[str, Any]] = []


def _matches(route: dict[str, Any], method: str, path: str, query: str) -> bool:
    if route["method"] not in ("*", method) or route["path"] not in ("*", path):
        return False
    wanted = sorted(parse_qsl(route["query"], keep_blank_values=True))
    got = sorted(parse_qsl(query, keep_blank_values=True))
    if route["complete_qs"]:
        return wanted == got
    return all(item in got for item in wanted)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        if parts.path.startswith("/__mock__/"):
            return self._control(parts.path, body)
        with _lock:
            _history.append({"method": self.command, "path": parts.path, "query": parts.query,
                             "headers": dict(self.headers.items()), "body": body.decode("latin-1")})
            route = next((r for r in reversed(_routes) if _matches(r, self.command, parts.path, parts.query)), None)
        if route is None:
            return self._answer(501, b'{"detail": "no answer registered"}')
        self._answer(route["status"], base64.b64decode(route["body"]), route["content_type"])

    def _control(self, path: str, body: bytes) -> None:
        with _lock:
            if path == "/__mock__/register":
                _routes.append(json.loads(body))
                answer: Any = {"ok": True}
            elif path == "/__mock__/reset":
                _routes.clear()
                _history.clear()
                answer = {"ok": True}
            else:
                answer = list(_history)
        self._answer(200, json.dumps(answer).encode())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, *args: Any) -> None:
        pass


def serve() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


# -- the test side: requests-mock's shape ------------------------------------------------------
#: The server's root URL ("http://127.0.0.1:PORT"), set by conftest.py once it is up.
ROOT = ""

class SeenRequest:
    def __init__(self, root: str, record: dict[str, Any]) -> None:
        import httpx

        self.method = record["method"]
        self.url = root + record["path"] + (f"?{record['query']}" if record["query"] else "")
        self.headers = httpx.Headers(record["headers"])  # case-insensitive, as requests' are
        self.body = record["body"]


class Mocker:
    """``requests_mock.Mocker()`` / the ``requests_mock`` fixture, on the real server."""

    ANY = object()

    def __init__(self, root: str) -> None:
        self.root = root
        self._control("POST", "/__mock__/reset")

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request to the server's control routes; no connection outlives it (the ported
        tests run with warnings as errors, so a socket left for the collector would fail them)."""
        import httpx

        with httpx.Client(base_url=self.root, trust_env=False) as client:
            return client.request(method, path, **kwargs).raise_for_status()

    def __enter__(self) -> Mocker:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        pass

    def register_uri(self, method: str, url: str, *, status_code: int = 200, json: Any = None,
                     text: str | None = None, complete_qs: bool = False) -> None:
        import json as jsonlib

        parts = urlsplit("*" if url is self.ANY else url)
        if json is not None:
            body, content_type = jsonlib.dumps(json).encode(), "application/json"
        else:
            body, content_type = (text or "").encode(), "text/plain"
        route = {"method": "*" if method is self.ANY else method.upper(), "path": parts.path or "/", "query": parts.query,
                 "complete_qs": complete_qs, "status": status_code, "content_type": content_type,
                 "body": base64.b64encode(body).decode()}
        self._control("POST", "/__mock__/register", json=route)

    def get(self, url: str, **kwargs: Any) -> None:
        self.register_uri("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> None:
        self.register_uri("POST", url, **kwargs)

    @property
    def request_history(self) -> list[SeenRequest]:
        records = self._control("GET", "/__mock__/history").json()
        return [SeenRequest(self.root, record) for record in records]

    @property
    def last_request(self) -> SeenRequest:
        return self.request_history[-1]


class RequestsMockModule:
    """Stands in for ``import requests_mock`` in the ported modules."""

    ANY = Mocker.ANY

    @staticmethod
    def Mocker() -> Mocker:  # noqa: N802 - requests-mock's name
        return Mocker(ROOT)


requests_mock = RequestsMockModule()


if __name__ == "__main__":
    sys.exit(serve())
