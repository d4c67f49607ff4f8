"""A server span per API call, and the call's metrics: the wrapper ``Telemetry`` gives the pipeline.

The span starts before the credentials are read, so a refused key (401), a missing permission
(403), the failed-login limit (429) and bad arguments (400) are spans too; it continues the
caller's trace when the request carries ``traceparent``. It is current while the method runs
(in a worker thread too: the pool runs each job in a copy of the caller's context), so the
method's own outgoing calls and the callbacks it queues join the trace.
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, set_span_in_context

from interlink.errors import ApiError
from interlink.server import CallRunner, Dispatch, Request

from ._headers import RAW_HEADERS
from ._metrics import Metrics
from ._names import ERROR_TYPE, HTTP_STATUS, METHOD

__all__ = ["outcome_of", "wrap_call"]

#: Headers that carry a caller's context (W3C trace context and baggage).
_CONTEXT_HEADERS = frozenset((b"traceparent", b"tracestate", b"baggage"))

#: The status of a call whose client went away (nginx's convention); never sent.
CANCELLED = 499


def outcome_of(error: BaseException) -> tuple[int, str]:
    """(HTTP status, error type) of a call that raised ``error``: the ApiError's own status and
    code, 500 and the class name for a bug. Never the message: it may quote a value."""
    if isinstance(error, ApiError):
        return error.status, error.code
    if isinstance(error, asyncio.CancelledError):
        return CANCELLED, "cancelled"
    return 500, type(error).__qualname__


def wrap_call(call: CallRunner, tracer: Tracer | None, metrics: Metrics | None) -> CallRunner:
    """``call`` in a span of ``tracer`` and timed into ``metrics``; either may be None."""
    extract = propagate.extract

    if tracer is None:
        assert metrics is not None
        record = metrics.record_call

        async def measured(dispatch: Dispatch, request: Request) -> Any:
            start = perf_counter()
            status = 200
            try:
                return await call(dispatch, request)
            except BaseException as error:
                status = outcome_of(error)[0]
                raise
            finally:
                record(dispatch.method.name, status, perf_counter() - start)

        return measured

    start_span = tracer.start_span
    # The span is made current by hand: the SDK's start_as_current_span is a context manager
    # built per call, a measurable part of a traced call (docs/observability.md).
    attach, detach = otel_context.attach, otel_context.detach

    async def traced(dispatch: Dispatch, request: Request) -> Any:
        name = dispatch.method.name
        headers = request.headers
        parent = None
        for header, _ in headers:  # most calls carry no trace context: no propagator asked then
            if header in _CONTEXT_HEADERS:
                parent = extract(headers, getter=RAW_HEADERS)
                break
        start = perf_counter()
        span = start_span(name, context=parent, kind=SpanKind.SERVER, attributes={METHOD: name})
        token = attach(set_span_in_context(span, parent))
        status = 200
        kind = None
        try:
            return await call(dispatch, request)
        except BaseException as error:
            status, kind = outcome_of(error)
            raise
        finally:
            detach(token)
            if kind is None:
                span.set_attribute(HTTP_STATUS, status)
            else:
                span.set_attributes({HTTP_STATUS: status, ERROR_TYPE: kind})
                if status >= 500:  # a server span's 4xx is the caller's mistake, not an error here
                    span.set_status(Status(StatusCode.ERROR, kind))
            span.end()
            if metrics is not None:
                metrics.record_call(name, status, perf_counter() - start)

    return traced
