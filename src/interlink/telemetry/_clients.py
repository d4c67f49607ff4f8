"""Client spans for every outgoing request of interlink's clients, with ``traceparent`` sent.

Every interlink client — the site client (``API``), ``APIClient`` and service clients, the
rest clients, SOAP, token requests, callback deliveries — sends through an ``httpx``
``HTTPTransport`` at the bottom of its bounded (and retrying) transport. OpenTelemetry's
maintained httpx instrumentation wraps exactly that, so each attempt is a client span whose
context goes out in ``traceparent``; interlink adds what only it knows: whether the request
asks for a token (and counts those in the metrics).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor, RequestInfo, ResponseInfo
from opentelemetry.trace import Span, TracerProvider

from interlink.http import TOKEN_REQUEST as TOKEN_REQUEST_EXTENSION
from interlink.urls import redact_url

from ._metrics import Metrics
from ._names import TOKEN_REQUEST

__all__ = ["instrument_clients", "uninstrument_clients"]

#: Where the instrumentation puts the URL: the stable HTTP conventions' name and the older one.
_URL_ATTRIBUTES = ("url.full", "http.url")

_metrics: list[Metrics] = []  # where token requests are counted (the last Telemetry's metrics)


def _is_token_request(info: RequestInfo | ResponseInfo) -> bool:
    extensions = info.extensions
    return bool(extensions and extensions.get(TOKEN_REQUEST_EXTENSION))


def _request_hook(span: Span, request: RequestInfo) -> None:
    if _is_token_request(request):
        span.set_attribute(TOKEN_REQUEST, True)
    # The instrumentation records the URL with its query; a receiver's or a peer's URL may carry
    # a credential there (?access_token=…, ?api_key=…): interlink's one redaction rule applies.
    url = str(request.url)
    safe = redact_url(url)
    if safe != url:
        recorded = getattr(span, "attributes", None) or {}
        for name in _URL_ATTRIBUTES:
            if name in recorded:
                span.set_attribute(name, safe)


def _response_hook(span: Span, request: RequestInfo, response: ResponseInfo) -> None:
    if _metrics and _is_token_request(request):
        _metrics[-1].token_requests.labels(str(response.status_code)).inc()


async def _async_request_hook(span: Span, request: RequestInfo) -> None:
    _request_hook(span, request)


async def _async_response_hook(span: Span, request: RequestInfo, response: ResponseInfo) -> None:
    _response_hook(span, request, response)


def instrument_clients(tracer_provider: TracerProvider | None = None, metrics: Metrics | None = None) -> None:
    """Client spans (and ``traceparent``) for every httpx transport from now on; idempotent.
    ``tracer_provider``: OpenTelemetry's global one unless given."""
    if metrics is not None:
        _metrics.append(metrics)
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    options: dict[str, Any] = {
        "request_hook": _request_hook, "response_hook": _response_hook,
        "async_request_hook": _async_request_hook, "async_response_hook": _async_response_hook,
    }
    if tracer_provider is not None:
        options["tracer_provider"] = tracer_provider
    instrumentor.instrument(**options)


def uninstrument_clients() -> None:
    """Undo :func:`instrument_clients` (tests, or an application that turns tracing off)."""
    _metrics.clear()
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
