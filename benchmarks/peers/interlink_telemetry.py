"""The default path's method with interlink.telemetry on (``interlink serve``, keys in the store).

``api_traced``: a span per call through a batching processor, as a deployment exports them; the
exporter drops the batches, so the row is what tracing costs the server, not a collector's
network. ``api_metrics``: Prometheus metrics only. With tracing off — the otel extra installed,
nothing configured — ``Telemetry`` is not attached and the server is the default path itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from interlink import ApiServer
from interlink.telemetry import Telemetry

from benchmarks.peers.interlink_default import list_users


class Dropped(SpanExporter):
    """Takes every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(Dropped()))

api_traced = ApiServer(docs=False)
Telemetry(api_traced, tracer_provider=provider)
api_traced.method(module="home")(list_users)

api_metrics = ApiServer(docs=False)
Telemetry(api_metrics, tracing=False, metrics=True)
api_metrics.method(module="home")(list_users)
