"""``Telemetry``: traces and metrics of an ApiServer, attached through the extension seam."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio.to_thread
from opentelemetry import trace
from opentelemetry.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from interlink.identity import Backend
from interlink.server import ApiServer, Call, CallHook, CallRunner, Extension, Method, Pipeline, Request

from ._calls import wrap_call
from ._enable import enable
from ._logs import TraceIdsFilter
from ._metrics import Metrics
from ._names import ROLE

__all__ = ["Telemetry"]


class Telemetry(Extension):
    """Traces and metrics of ``api``'s calls, of interlink's clients, callbacks and syncs.

    ``tracing``: a server span per call, client spans with ``traceparent`` for every outgoing
    request, delivery and sync spans. ``tracer_provider``: where spans go — OpenTelemetry's
    global provider unless given; when that is still the no-op one and the ``OTEL_*``
    environment names an exporter, one is made from it (OTLP/HTTP, batched).
    ``metrics``: serve Prometheus metrics at ``metrics_path`` (``registry``: the
    prometheus-client registry to keep them in, a new one unless given).
    ``log_ids``: log records carry ``trace_id`` and ``span_id`` (the root logger's handlers).

    Attach it before the app is built (``api.app``), like every extension with routes.
    """

    def __init__(self, api: ApiServer, *, tracing: bool = True, tracer_provider: TracerProvider | None = None,
                 metrics: bool = False, metrics_path: str = "/metrics", registry: CollectorRegistry | None = None,
                 log_ids: bool = False) -> None:
        if not tracing and not metrics:
            raise ValueError("Telemetry with neither tracing nor metrics does nothing: leave it out")
        self.api = api
        self.metrics = Metrics(registry) if metrics else None
        self.metrics_path = metrics_path
        self.observer = enable(tracing=tracing, tracer_provider=tracer_provider, metrics=self.metrics)
        self.tracer = self.observer.tracer
        if log_ids:
            for handler in logging.getLogger().handlers:
                if not any(isinstance(f, TraceIdsFilter) for f in handler.filters):
                    handler.addFilter(TraceIdsFilter())
        api.add_extension(self)

    # -- the seam ---------------------------------------------------------------------------

    def bind(self, pipeline: Pipeline, backend: Backend) -> None:
        if self.metrics is not None and backend.database is not None and _has_store():
            self.metrics.watch_outbox(backend.database)

    def wrap_call(self, call: CallRunner) -> CallRunner:
        return wrap_call(call, self.tracer, self.metrics)

    def call_hook(self, method: Method) -> CallHook | None:
        if self.tracer is None or method.role_parameter is None:
            return None
        if method.callbacks and not any(other is not self and other.call_hook(method) is not None
                                        for other in self.api.extensions):
            # Nothing delivers its callbacks: the server says so at setup, unless a hook of
            # ours made the method look watched.
            return None

        def note_role(call: Call, request: Request, kwargs: dict[str, object]) -> None:
            role = call.role
            if role is not None:  # who called, by the role's public id: never the key
                trace.get_current_span().set_attribute(ROLE, role.api_id)

        return note_role

    def routes(self) -> Sequence[BaseRoute]:
        if self.metrics is None:
            return ()
        metrics = self.metrics

        async def scrape(request: StarletteRequest) -> Response:
            # The outbox is counted with a query: off the event loop.
            body = await anyio.to_thread.run_sync(metrics.exposition)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

        return [Route(self.metrics_path, scrape, methods=["GET"])]

    def __repr__(self) -> str:
        return f"<Telemetry tracing={self.tracer is not None} metrics={self.metrics is not None}>"


def _has_store() -> bool:
    try:
        import interlink.store  # noqa: F401
    except ImportError:
        return False
    return True
