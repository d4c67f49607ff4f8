"""``RestServer``: rest-tools' Tornado server setup.

``RestServer(**settings)`` passes Tornado ``Application`` settings through; ``add_route`` adds
``(pattern, Handler, kwargs)`` routes; ``startup(address=, port=)`` binds and starts serving on
the running (or current) IOLoop, which the caller runs; ``await stop()`` stops.

Fixed on purpose: ``max_body_size`` is enforced (rest-tools accepted it and ignored it, so
Tornado's 100 MiB applied); it defaults to 10 MiB, as interlink's API server. A larger body, announced by ``Content-Length`` or streamed in chunks, is answered
``413 {"code": 413, "error": "Payload Too Large"}`` and the connection is closed, before the
handler runs. ``port=0`` picks a free port; ``server.port`` tells which.

``server_header`` (interlink's) is the ``Server`` header of the answers the server gives before
any handler runs: unknown paths (404, in JSON) and too-large bodies (413). Its default is none,
as a route without ``RestHandlerSetup`` sends none; never Tornado's ``TornadoServer/…``.
"""

from __future__ import annotations

import binascii
import json
import logging
import socket
from typing import Any

import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web

__all__ = ["RestServer", "tornado_logger"]

LOGGER = logging.getLogger("interlink.rest")
_TORNADO_DEFAULT_BODY = 100 * 1024 * 1024
DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024


def tornado_logger(handler: tornado.web.RequestHandler) -> None:
    """One log line per request: status, method, URI, client and time (rest-tools' format)."""
    status = handler.get_status()
    log = LOGGER.info if status < 400 else LOGGER.warning if status < 500 else LOGGER.error
    log("%d %s %.2fms", status, handler._request_summary(), 1000.0 * handler.request.request_time())


class RestServer:
    """A Tornado application with routes, served by ``startup()``."""

    def __init__(
        self,
        log_function: Any = None,
        cookie_secret: str | None = None,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        *,
        server_header: str = "",
        **kwargs: Any,
    ) -> None:
        self.routes: list[tuple[Any, ...]] = []
        self.http_server: tornado.httpserver.HTTPServer | None = None
        if max_body_size is not None and max_body_size < 0:
            raise ValueError("max_body_size must be zero or more bytes")
        self.max_body_size = max_body_size
        self.server_header = server_header
        self.address: str | None = None
        self.port: int | None = None
        self.app_args: dict[str, Any] = dict(kwargs)
        self.app_args["log_function"] = log_function or tornado_logger
        if "default_handler_class" not in self.app_args:
            # Fixed on purpose: an unknown path answers like every other error, in JSON.
            from interlink.rest._handler import RestHandler

            class NotFound(RestHandler):
                def prepare(self) -> None:
                    raise tornado.web.HTTPError(404)

            self.app_args["default_handler_class"] = NotFound
            self.app_args["default_handler_args"] = {"server_header": server_header}
        if cookie_secret:
            self.app_args["xsrf_cookies"] = True
            self.app_args["cookie_secret"] = binascii.unhexlify(cookie_secret)

    def add_route(self, *args: Any) -> None:
        """``add_route(pattern, Handler[, kwargs])`` as Tornado's routing rules."""
        self.routes.append(tuple(args))

    def application(self) -> tornado.web.Application:
        return tornado.web.Application(self.routes, **self.app_args)

    def startup(self, address: str = "localhost", port: int = 8080) -> None:
        """Bind ``address:port`` (IPv4) and serve; the IOLoop is started by the caller."""
        LOGGER.warning("tornado bound to %s:%d", address, port)
        delegate: Any = self.application()
        limit = self.max_body_size
        if limit is not None:
            delegate = _BodyLimit(delegate, limit, self.server_header)
        if self.http_server:
            self.http_server.stop()
        self.http_server = tornado.httpserver.HTTPServer(
            delegate, xheaders=True, max_body_size=max(limit or 0, _TORNADO_DEFAULT_BODY)
        )
        sockets = tornado.netutil.bind_sockets(port, address=address, family=socket.AF_INET)
        self.address, self.port = sockets[0].getsockname()[:2]
        self.http_server.add_sockets(sockets)

    async def stop(self) -> None:
        if self.http_server:
            self.http_server.stop()
            await self.http_server.close_all_connections()
        self.http_server = None


class _BodyLimit(tornado.httputil.HTTPServerConnectionDelegate):
    """The application, behind a check of each request body's size."""

    def __init__(self, application: tornado.web.Application, limit: int, server_header: str) -> None:
        self.application = application
        self.limit = limit
        self.server_header = server_header

    def start_request(self, server_conn: object, request_conn: Any) -> tornado.httputil.HTTPMessageDelegate:
        inner = self.application.start_request(server_conn, request_conn)
        return _LimitedMessage(inner, request_conn, self.limit, self.server_header)

    def on_close(self, server_conn: object) -> None:
        self.application.on_close(server_conn)


class _LimitedMessage(tornado.httputil.HTTPMessageDelegate):
    def __init__(self, inner: Any, connection: Any, limit: int, server_header: str) -> None:
        self.inner = inner
        self.connection = connection
        self.limit = limit
        self.server_header = server_header
        self.received = 0
        self.started = False
        self.refused = False

    def headers_received(self, start_line: Any, headers: tornado.httputil.HTTPHeaders) -> Any:
        length = headers.get("Content-Length", "")
        if length.strip().isascii() and length.strip().isdigit() and int(length) > self.limit:
            self._refuse()
            return None
        self.started = True
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        if self.refused:
            return None
        self.received += len(chunk)
        if self.received > self.limit:  # a chunked body, or one longer than announced
            self._refuse()
            return None
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if self.started:
            self.inner.on_connection_close()

    def _refuse(self) -> None:
        self.refused = True
        if self.started:
            self.inner.on_connection_close()  # drop what the handler's delegate gathered
            self.started = False
        body = json.dumps({"code": 413, "error": "Payload Too Large"}).encode()
        headers = tornado.httputil.HTTPHeaders(
            {"Content-Type": "application/json; charset=UTF-8", "Content-Length": str(len(body)), "Connection": "close"}
        )
        if self.server_header:
            headers["Server"] = self.server_header
        # Past this, Tornado reads and drops the rest of the body until the answer is sent,
        # then closes the connection (the response finished before the request did).
        self.connection.set_max_body_size(2**63)
        self.connection.write_headers(
            tornado.httputil.ResponseStartLine("HTTP/1.1", 413, "Payload Too Large"), headers, body
        )
        self.connection.finish()
