"""interlink.telemetry: traces (OpenTelemetry) and metrics (Prometheus) of interlink's own work.

Off unless configured: nothing of OpenTelemetry or prometheus-client is imported until this
package is, and a server pays nothing until ``Telemetry(api)`` is attached to it (docs/observability.md).

    from interlink.telemetry import Telemetry
    Telemetry(api, metrics=True)     # spans per call, client spans with traceparent, /metrics
"""

try:
    import opentelemetry.trace  # noqa: F401
    import prometheus_client  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.telemetry needs the otel extra ({error}): pip install 'interlink[otel]'") from error

from ._clients import instrument_clients, uninstrument_clients
from ._enable import enable
from ._environment import configure_from_environment, configured_by_environment
from ._extension import Telemetry
from ._logs import TraceIdsFilter
from ._metrics import Metrics
from ._observer import TelemetryObserver

__all__ = ["Metrics", "Telemetry", "TelemetryObserver", "TraceIdsFilter", "configure_from_environment",
           "configured_by_environment", "enable", "instrument_clients", "uninstrument_clients"]
