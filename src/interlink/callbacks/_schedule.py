"""When to try a message again, and when to give up: a pure state machine.

Svix's schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each failure
(eight attempts over about 27 hours). A 2xx answer within the timeout is success; anything else
is a failure, including a 3xx (redirects are not followed: a redirect to an internal address
would get round the address check). ``Retry-After`` (seconds or an HTTP date) pushes the next
attempt later, never earlier, and is capped. A 410 Gone disables the endpoint at once; an
endpoint that has failed everything for 5 days is disabled.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass
from typing import Literal

__all__ = ["SCHEDULE", "Outcome", "Decision", "decide", "parse_retry_after", "DISABLE_AFTER"]

SCHEDULE: tuple[dt.timedelta, ...] = (
    dt.timedelta(0),
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    dt.timedelta(hours=10),
    dt.timedelta(hours=10),
)
DISABLE_AFTER = dt.timedelta(days=5)
MAX_RETRY_AFTER = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: ``status`` None when no answer came (``error`` says why)."""

    status: int | None
    retry_after: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Decision:
    """What to do with the message after an attempt.

    ``state``: ``delivered``, ``pending`` (try again at ``next_attempt_at``) or ``failed``
    (given up). ``disable_endpoint``: stop sending anything to this destination.
    """

    state: Literal["delivered", "pending", "failed"]
    next_attempt_at: dt.datetime | None = None
    disable_endpoint: bool = False
    reason: str = ""


def parse_retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 10:
        return min(dt.timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(dt.timedelta(0), min(when - now, MAX_RETRY_AFTER))


def decide(
    outcome: Outcome,
    attempts: int,
    now: dt.datetime,
    *,
    failing_since: dt.datetime | None = None,
    schedule: tuple[dt.timedelta, ...] = SCHEDULE,
) -> Decision:
    """After attempt number ``attempts`` (1 = the first) ended with ``outcome``.

    ``failing_since``: when the destination's current run of failures began (None if its last
    attempt succeeded), for the 5-day rule.
    """
    if outcome.ok:
        return Decision("delivered")
    reason = outcome.error or f"HTTP {outcome.status}"
    if outcome.status == 410:
        return Decision("failed", disable_endpoint=True, reason="410 Gone: the receiver asked for no more messages")
    if failing_since is not None and now - failing_since >= DISABLE_AFTER:
        return Decision("failed", disable_endpoint=True, reason=f"failing for {DISABLE_AFTER.days} days: {reason}")
    if attempts >= len(schedule):
        return Decision("failed", reason=f"gave up after {attempts} attempts: {reason}")
    delay = schedule[attempts]
    asked = parse_retry_after(outcome.retry_after, now)
    if asked is not None and asked > delay:
        delay = asked
    return Decision("pending", next_attempt_at=now + delay, reason=reason)
