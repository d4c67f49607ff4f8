"""Tracing configured the standard way: OpenTelemetry's ``OTEL_*`` environment variables.

``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) names a collector,
``OTEL_SERVICE_NAME`` the service; ``OTEL_TRACES_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true``
turn it off. The exporter reads its own variables (headers, timeout, compression).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

__all__ = ["configure_from_environment", "configured_by_environment"]

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configured_by_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces (an OTLP endpoint or ``OTEL_TRACES_EXPORTER``)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return exporter in ("otlp", "otlp_proto_http") or any(env.get(name) for name in _ENDPOINTS)


def configure_from_environment() -> TracerProvider:
    """A TracerProvider exporting over OTLP/HTTP in batches, made OpenTelemetry's global one;
    its resource (service name and attributes) from ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
