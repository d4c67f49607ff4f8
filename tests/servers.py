"""uvicorn on 127.0.0.1 in a background thread: the one way the tests run a real server in-process."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any


def free_port() -> int:
    """A port free right now, for servers started in another process (which must be told one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UvicornThread:
    """Serves ``app`` on 127.0.0.1 (a port the kernel picks unless given); ``start()`` -> base URL.

    As ``interlink serve`` runs uvicorn, unless a test says otherwise: interlink's HTTP protocol
    (which answers an ApiServer's method calls directly), no X-Forwarded-For middleware and no
    uvicorn access log (a test adding a handler to ``uvicorn.access`` gets its lines all the same).
    tests/test_http_protocol_direct.py checks the answers against uvicorn's own protocol."""

    def __init__(self, app: Any, port: int = 0, **config: Any) -> None:
        import uvicorn

        from interlink.server._http_protocol import InterlinkHttpProtocol

        config.setdefault("lifespan", "auto")
        config.setdefault("log_level", "warning")
        config.setdefault("http", InterlinkHttpProtocol)
        config.setdefault("proxy_headers", False)
        config.setdefault("access_log", False)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.port = port

    def start(self, scheme: str = "http") -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"{scheme}://127.0.0.1:{self.port}"

    def open_connections(self) -> int:
        return len(self.server.server_state.connections)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_until_serving(url: str, process: Any, seconds: float = 30) -> None:
    """Poll ``url`` until a server started as ``process`` (a Popen) answers; fail if it exits."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                stream = process.stdout or process.stderr
                raise RuntimeError(f"{url} did not start: {stream.read() if stream else ''}") from None
            time.sleep(0.1)


class LogLines(logging.Handler):
    """The messages of the records a logger passes on (add it to ``uvicorn.access`` and the like)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
