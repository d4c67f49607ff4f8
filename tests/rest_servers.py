"""Real loopback servers for the REST server tests.

* ``TornadoThread``: an ``interlink.rest.RestServer`` on 127.0.0.1 (a port the kernel picks),
  served by Tornado on its own asyncio loop in a background thread.
* ``JSONFilesServer``: a plain ``http.server`` answering fixed JSON documents by path, for tests
  that need a discovery document or key set of their own making (rest-tools' tests mocked
  ``requests`` for these; here they travel over real HTTP).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class TornadoThread:
    """``build()`` returns a ``RestServer`` with its routes; ``start()`` -> base URL."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self.build = build
        self.server: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="tornado", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop

        async def begin() -> None:
            self.server = self.build()
            self.server.startup(address="127.0.0.1", port=0)

        try:
            loop.run_until_complete(begin())
        except BaseException as exc:  # reported to start()
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        loop.run_forever()
        loop.run_until_complete(self.server.stop())
        loop.close()

    def start(self) -> str:
        self.thread.start()
        if not self.ready.wait(20) or self.error is not None:
            raise RuntimeError(f"Tornado did not start: {self.error!r}")
        return f"http://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class JSONFilesServer:
    """Answers GET ``path`` with the JSON text registered for it; counts requests per path."""

    def __init__(self) -> None:
        self.documents: dict[str, str] = {}
        self.hits: dict[str, int] = {}
        self.posted: list[tuple[str, dict[str, str], bytes]] = []
        documents, hits, posted = self.documents, self.hits, self.posted

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] = hits.get(self.path, 0) + 1
                text = documents.get(self.path)
                body = (text if text is not None else '{"error": "not found"}').encode()
                self.send_response(200 if text is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                posted.append((self.path, dict(self.headers), self.rfile.read(length)))
                self.do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def get(self, url: str, text: str | None = None, json_body: Any = None) -> None:
        """Serve ``text`` (or ``json_body``) at ``url`` (a path, or a URL on this server)."""
        path = url.removeprefix(self.url)
        self.documents[path] = text if text is not None else json.dumps(json_body)

    @property
    def called(self) -> bool:
        return bool(self.hits)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
