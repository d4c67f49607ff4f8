"""Prometheus metrics of a server, its outbox and its workers, and the ``/metrics`` page.

prometheus-client rather than OpenTelemetry's metrics SDK exported to Prometheus: a counter's
``inc()`` is a lock and an addition (the SDK's goes through views, attribute sets and
aggregations on every measurement), the text format is the client's own, and a Prometheus
server scrapes it without a collector in between. Traces stay OpenTelemetry's.

Labels are bounded sets — the server's registered method names (an unknown method never
reaches the pipeline), HTTP statuses, outcomes, sync names — never a caller, a value or a key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from interlink.identity import DatabaseSessions

__all__ = ["Metrics", "OutboxCollector"]

# Seconds: from a cached key's call of a few hundred µs to a slow method's 10 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric interlink keeps, in one registry (its own unless given one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter("interlink_calls", "API calls answered, by method and HTTP status",
                             ["method", "status"], registry=r)
        self.call_seconds = Histogram("interlink_call_duration_seconds",
                                      "Time from credentials to encoded result, by method",
                                      ["method"], buckets=LATENCY_BUCKETS, registry=r)
        self.authentication_failures = Counter(
            "interlink_authentication_failures", "Calls refused for their credentials (401), by method",
            ["method"], registry=r)
        self.rate_limited = Counter(
            "interlink_rate_limited", "Attempts refused by the failed-login limits (429), by method",
            ["method"], registry=r)
        self.delivery_attempts = Counter(
            "interlink_delivery_attempts", "Callback and webhook delivery attempts, by kind and outcome",
            ["kind", "outcome"], registry=r)
        self.token_requests = Counter(
            "interlink_token_requests", "Token requests of interlink's clients that were answered, by HTTP status",
            ["status"], registry=r)
        self.sync_records = Counter(
            "interlink_sync_records", "Records of sync runs, by sync and what became of them",
            ["sync", "outcome"], registry=r)
        self._outbox: OutboxCollector | None = None
        self._children: dict[tuple[str, int], tuple[Callable[[], None], Callable[[float], None],
                                                    Callable[[], None] | None]] = {}

    def watch_outbox(self, database: DatabaseSessions) -> None:
        """Report the outbox of ``database`` (depth, oldest pending age) on every scrape."""
        if self._outbox is None:
            self._outbox = OutboxCollector(database)
            self.registry.register(self._outbox)
        else:
            self._outbox.database = database

    def record_call(self, method: str, status: int, seconds: float) -> None:
        # The labelled children of a (method, status), looked up once: labels() takes a lock
        # and builds its key on every use, a measurable part of a small call.
        children = self._children.get((method, status))
        if children is None:
            children = self._children[(method, status)] = self._children_of(method, status)
        count, observe, refused = children
        count()
        observe(seconds)
        if refused is not None:
            refused()

    def _children_of(self, method: str, status: int) -> tuple[Callable[[], None], Callable[[float], None],
                                                               Callable[[], None] | None]:
        refused = None
        if status == 401:
            refused = self.authentication_failures.labels(method).inc
        elif status == 429:
            refused = self.rate_limited.labels(method).inc
        return self.calls.labels(method, str(status)).inc, self.call_seconds.labels(method).observe, refused

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (what ``/metrics`` answers)."""
        return generate_latest(self.registry)


class OutboxCollector(Collector):
    """The outbox's depth and the age of its oldest pending message, read on each scrape."""

    def __init__(self, database: DatabaseSessions) -> None:
        self.database = database

    def describe(self) -> list[Any]:
        return []  # read only on a scrape: registering must not query the database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from interlink.store import OutboxMessage

        with self.database.session() as session:
            rows = session.execute(
                select(OutboxMessage.state, func.count(), func.min(OutboxMessage.created_at))
                .group_by(OutboxMessage.state)
            ).all()
        depth = GaugeMetricFamily("interlink_outbox_messages", "Outbox messages, by state", labels=["state"])
        counts = {"pending": 0, "delivered": 0, "failed": 0}
        oldest: dt.datetime | None = None
        for state, count, first in rows:
            counts[str(state)] = int(count)
            if state == "pending":
                oldest = first
        for state, count in sorted(counts.items()):
            depth.add_metric([state], count)
        yield depth
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive UTC
                oldest = oldest.replace(tzinfo=dt.timezone.utc)
            age = max(0.0, (dt.datetime.now(dt.timezone.utc) - oldest).total_seconds())
        yield GaugeMetricFamily("interlink_outbox_oldest_pending_age_seconds",
                                "Age of the oldest pending outbox message (0 with none pending)", value=age)
