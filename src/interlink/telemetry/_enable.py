"""Telemetry for work outside a server: a delivery worker, a sync run, a script's clients."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Tracer, TracerProvider

from interlink.observe import set_observer

from ._clients import instrument_clients
from ._environment import configure_from_environment, configured_by_environment
from ._metrics import Metrics
from ._names import TRACER
from ._observer import TelemetryObserver

__all__ = ["enable", "tracer_for"]


def tracer_for(tracer_provider: TracerProvider | None) -> Tracer:
    """interlink's tracer of ``tracer_provider``: OpenTelemetry's global provider unless given;
    when that is still the no-op one and the ``OTEL_*`` environment names an exporter, one is
    made from the environment first (OTLP/HTTP, batched)."""
    if tracer_provider is None and _is_no_op(trace.get_tracer_provider()) and configured_by_environment():
        tracer_provider = configure_from_environment()
    return trace.get_tracer(TRACER, tracer_provider=tracer_provider)


def enable(*, tracing: bool = True, tracer_provider: TracerProvider | None = None,
           metrics: Metrics | None = None) -> TelemetryObserver:
    """Report interlink's work in this process — client spans with ``traceparent``, delivery
    attempts, sync runs — as spans (``tracing``) and into ``metrics``; the observer installed.
    ``Telemetry(api)`` does this for a server; call it yourself in a worker or a sync script."""
    tracer = tracer_for(tracer_provider) if tracing else None
    if tracing:
        instrument_clients(tracer_provider, metrics)
    observer = TelemetryObserver(tracer, metrics)
    set_observer(observer)
    return observer


def _is_no_op(provider: TracerProvider) -> bool:
    return type(provider).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider")
