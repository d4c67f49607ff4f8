"""When to retry a request and how long to wait: a pure policy, no I/O.

The transports in ``_transport.py`` ask it after every attempt. Rules:

* a connection that could not be made (connect error/timeout) is retried for every method:
  nothing reached the server;
* other transport errors (read errors, a dropped connection) and the statuses 429, 502,
  503 and 504 are retried only for idempotent methods (RFC 9110 9.2.2), since a POST may
  have been acted on;
* waits grow as ``backoff_factor * 2**(attempt-1)``, capped at ``max_backoff``; a
  ``Retry-After`` header (seconds or an HTTP date) replaces the computed wait, capped at
  ``max_retry_after`` so a hostile server cannot park the client for hours.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass, field

__all__ = ["RetryPolicy", "IDEMPOTENT_METHODS", "RETRY_STATUSES", "parse_retry_after"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and when to retry; ``retries=0`` turns retrying off."""

    retries: int = 3
    backoff_factor: float = 0.3
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    methods: frozenset[str] = field(default=IDEMPOTENT_METHODS)

    def backoff(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1-based)."""
        if self.backoff_factor <= 0:
            return 0.0
        return min(self.max_backoff, self.backoff_factor * 2.0 ** (attempt - 1))

    def after_status(self, method: str, status: int, retry_after: str | None, attempt: int) -> float | None:
        """Seconds to wait before retrying after a response, or ``None`` for "do not retry"."""
        if attempt > self.retries or status not in self.statuses:
            return None
        if method.upper() not in self.methods:
            return None
        wait = parse_retry_after(retry_after)
        if wait is None:
            return self.backoff(attempt)
        return min(wait, self.max_retry_after)

    def after_error(self, method: str, connected: bool, attempt: int) -> float | None:
        """Seconds to wait before retrying after a transport error, or ``None``."""
        if attempt > self.retries:
            return None
        if connected and method.upper() not in self.methods:
            return None
        return self.backoff(attempt)
