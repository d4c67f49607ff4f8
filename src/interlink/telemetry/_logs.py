"""Log records that carry the trace and span ids of the work they were written in."""

from __future__ import annotations

import logging

from opentelemetry import trace

__all__ = ["TraceIdsFilter"]


class TraceIdsFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex; empty outside a span) to every record it sees,
    for a format such as ``%(message)s trace=%(trace_id)s span=%(span_id)s``.

    Put it on a handler (``handler.addFilter(TraceIdsFilter())``): a handler's filters see the
    records of every logger that reaches it. ``Telemetry(api, log_ids=True)`` puts it on the
    root logger's handlers. Only ids are added: the record's message is left as it was
    (interlink's log redaction keeps secrets out of it).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        else:
            record.trace_id = record.span_id = ""
        return True
