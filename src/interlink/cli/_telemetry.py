"""Tracing for the commands that serve or work, when OpenTelemetry's environment asks for it.

``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the other standard ``OTEL_*`` variables that name an
exporter) set: ``interlink serve`` attaches ``Telemetry`` to the ApiServer and ``interlink
worker`` reports its deliveries. Nothing of OpenTelemetry is imported when no ``OTEL_*``
variable is set at all.
"""

from __future__ import annotations

import os
from typing import Any

import click

__all__ = ["telemetry_from_environment"]


def telemetry_from_environment(api: Any = None) -> bool:
    """Turn tracing on as the environment says (on ``api``'s calls too, when given, unless it
    has its own ``Telemetry``); whether it did. Without the otel extra: one line on stderr."""
    if not any(name.startswith("OTEL_") for name in os.environ):
        return False
    try:
        from interlink.telemetry import Telemetry, configured_by_environment, enable
    except ImportError:
        click.echo("OTEL_* is set, but tracing needs the otel extra: pip install 'interlink[otel]'", err=True)
        return False
    if not configured_by_environment():
        return False
    if api is None:
        enable()
    elif not any(isinstance(extension, Telemetry) for extension in api.extensions):
        Telemetry(api)
    return True
