"""What rest-tools' OpenAPI integration tests need from the server side.

``RestServer``/``RestHandler`` come from ``interlink.rest`` (the Tornado REST server). Where
that is not installed yet, a minimal real Tornado server stands in with the three things the
tests use: ``add_route``/``startup``/``stop``, ``get_argument`` that reads the query and then
the JSON body, and error bodies ``{"code": …, "error": <reason>}`` (the reason also in the
status line). ``port`` is rest-tools' integration fixture: a free ephemeral port.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import tornado.httpserver
import tornado.web

try:
    from interlink.rest.server import RestHandler, RestServer  # type: ignore[attr-defined]
except ImportError:

    class RestHandler(tornado.web.RequestHandler):  # type: ignore[no-redef]
        def write_error(self, status_code: int = 500, **kwargs: Any) -> None:
            self.write({"code": status_code, "error": self._reason})
            self.finish()

        def get_argument(self, name: str, default: Any = tornado.web._ARG_DEFAULT, strip: bool = True) -> Any:  # type: ignore[override]
            if name in self.request.query_arguments:
                return super().get_argument(name, strip=strip)
            body = json.loads(self.request.body) if self.request.body else {}
            if name in body:
                return body[name]
            if default is tornado.web._ARG_DEFAULT:
                raise tornado.web.MissingArgumentError(name)
            return default

    class RestServer:  # type: ignore[no-redef]
        def __init__(self, **kwargs: Any) -> None:
            self.routes: list[tuple[Any, ...]] = []
            self.app_args = kwargs
            self.http_server: tornado.httpserver.HTTPServer | None = None

        def add_route(self, *args: Any) -> None:
            self.routes.append(tuple(args))

        def startup(self, address: str = "localhost", port: int = 8080) -> None:
            app = tornado.web.Application(self.routes, **self.app_args)
            self.http_server = tornado.httpserver.HTTPServer(app, xheaders=True)
            self.http_server.bind(port, address=address, family=socket.AF_INET)
            self.http_server.start()

        async def stop(self) -> None:
            if self.http_server:
                self.http_server.stop()
                await self.http_server.close_all_connections()
            self.http_server = None


@pytest.fixture
def port() -> int:
    """Get an ephemeral port number."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("", 0))
    ephemeral_port = s.getsockname()[1]
    s.close()
    return ephemeral_port
