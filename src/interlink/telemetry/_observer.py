"""The observer interlink's parts report to (``interlink.observe``), as spans and metrics."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping
from contextvars import Token

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

from interlink.observe import Delivery, Handling, Observer, SyncRun

from ._metrics import Metrics
from ._names import ATTEMPT, DELIVERY_KIND, EVENT, HANDLER, HTTP_METHOD, HTTP_STATUS, MESSAGE_ID, OUTCOME, SYNC

__all__ = ["TelemetryObserver"]

# What of a trace context is kept with an outbox row: W3C's two headers, nothing else (baggage
# may carry anything an application put there).
_KEPT = ("traceparent", "tracestate")
#: The most an outbox row's trace context may be (its column's length).
MAX_TRACE_CONTEXT = 512


class _SpanDelivery(Delivery):
    def __init__(self, span: trace.Span, metrics: Metrics | None, kind: str) -> None:
        self.span = span
        self.metrics = metrics
        self.kind = kind
        self.outcome = ""

    def finished(self, outcome: str, status: int | None = None) -> None:
        self.outcome = outcome
        span = self.span
        span.set_attribute(OUTCOME, outcome)
        if status is not None:
            span.set_attribute(HTTP_STATUS, status)
        if outcome != "delivered":
            span.set_status(Status(StatusCode.ERROR, outcome if status is None else f"{outcome}: HTTP {status}"))
        if self.metrics is not None:
            self.metrics.delivery_attempts.labels(self.kind, outcome).inc()


class _SpanSyncRun(SyncRun):
    def __init__(self, span: trace.Span, metrics: Metrics | None, sync: str) -> None:
        self.span = span
        self.metrics = metrics
        self.sync = sync

    def event(self, name: str, attributes: Mapping[str, str | int | float | bool]) -> None:
        self.span.add_event(name, dict(attributes))

    def finished(self, counts: Mapping[str, int], error: BaseException | None = None) -> None:
        for outcome, count in counts.items():
            self.span.set_attribute(f"interlink.sync.{outcome}", count)
            if self.metrics is not None and count:
                self.metrics.sync_records.labels(self.sync, outcome).inc(count)
        if error is not None:
            self.span.set_status(Status(StatusCode.ERROR, type(error).__name__))


class _SpanHandling(Handling):
    def __init__(self, span: trace.Span, token: Token[Context]) -> None:
        self.span = span
        self.token = token

    def finished(self, status: int) -> None:
        self.span.set_attribute(HTTP_STATUS, status)
        if status >= 500:
            self.span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))

    def __exit__(self, *exc: object) -> None:
        otel_context.detach(self.token)
        self.span.end()


class TelemetryObserver(Observer):
    """Reports as spans of ``tracer`` (None: no spans) and counts in ``metrics`` (None: none)."""

    def __init__(self, tracer: Tracer | None, metrics: Metrics | None = None) -> None:
        self.tracer = tracer
        self.metrics = metrics

    def queued(self, *, kind: str, event: str, message_id: str) -> str | None:
        if self.tracer is None:
            return None
        span = trace.get_current_span()
        if not span.get_span_context().is_valid:
            return None
        span.add_event("interlink.queued", {DELIVERY_KIND: kind, EVENT: event, MESSAGE_ID: message_id})
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        kept = {name: carrier[name] for name in _KEPT if name in carrier}
        text = json.dumps(kept, separators=(",", ":")) if kept else None
        return text if text is None or len(text) <= MAX_TRACE_CONTEXT else None

    @contextlib.contextmanager
    def delivery(self, trace_context: str | None, *, kind: str, event: str, message_id: str,
                 attempt: int) -> Iterator[Delivery]:
        if self.tracer is None:
            report = _SpanDelivery(trace.INVALID_SPAN, self.metrics, kind)
            yield report
            return
        parent = None
        links: list[Link] = []
        if trace_context:
            try:
                carrier = json.loads(trace_context)
            except ValueError:
                carrier = None
            if isinstance(carrier, dict):
                parent = propagate.extract({k: v for k, v in carrier.items() if isinstance(v, str)})
                queued_by = trace.get_current_span(parent).get_span_context()
                if queued_by.is_valid:
                    links.append(Link(queued_by, {"interlink.link": "queued by"}))
                else:
                    parent = None
        attributes: dict[str, str | int] = {DELIVERY_KIND: kind, EVENT: event, MESSAGE_ID: message_id, ATTEMPT: attempt}
        # A child of the call that queued it (one trace: call → queued → attempts), and linked
        # to it, as OpenTelemetry's messaging conventions link a message's sends to its creation.
        with self.tracer.start_as_current_span(
            f"deliver {kind} {event}", context=parent if parent is not None else trace.set_span_in_context(trace.INVALID_SPAN),
            kind=SpanKind.PRODUCER, links=links, attributes=attributes, record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield _SpanDelivery(span, self.metrics, kind)

    def handling(self, name: str, method: str, headers: Mapping[str, str]) -> contextlib.AbstractContextManager[Handling]:
        if self.tracer is None:
            return super().handling(name, method, headers)
        parent = propagate.extract(headers)
        span = self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER,
                                      attributes={HANDLER: name, HTTP_METHOD: method})
        return _SpanHandling(span, otel_context.attach(trace.set_span_in_context(span, parent)))

    @contextlib.contextmanager
    def sync_run(self, sync: str) -> Iterator[SyncRun]:
        if self.tracer is None:
            yield _SpanSyncRun(trace.INVALID_SPAN, self.metrics, sync)
            return
        with self.tracer.start_as_current_span(f"sync {sync}", attributes={SYNC: sync, **_prefect_run()},
                                               record_exception=False, set_status_on_exception=False) as span:
            yield _SpanSyncRun(span, self.metrics, sync)


def _prefect_run() -> dict[str, str]:
    """The Prefect flow run this sync runs in, if any: its id and its page in Prefect's UI
    (Prefect keeps its own record of the run; the span links to it)."""
    if "prefect" not in sys.modules:  # never import Prefect for this
        return {}
    try:
        from prefect.runtime import flow_run

        run_id, url = flow_run.get_id(), flow_run.get_flow_run_ui_url()
    except Exception:  # noqa: BLE001 - a link is a courtesy; never fail the run for it
        return {}
    found = {}
    if run_id:
        found["prefect.flow_run.id"] = str(run_id)
    if url:
        found["prefect.flow_run.url"] = str(url)
    return found
