"""When to try a message again, and when to give up: a pure state machine.

Svix's schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each failure
(eight attempts over about 27 hours). A 2xx answer within the timeout is success; anything else
is a failure, including a 3xx (redirects are not followed: a redirect to an internal address
would get round the address check). ``Retry-After`` (seconds or an HTTP date) pushes the next
attempt later, never earlier, and is capped. A 410 Gone disables the endpoint at once; an
endpoint that has failed everything for 5 days is disabled.

Which due message goes next is :class:`Destinations`: fair shares of a worker's slots among
destinations, so receivers that answer slowly cannot hold every slot.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "SCHEDULE", "Outcome", "Decision", "decide", "parse_retry_after", "DISABLE_AFTER", "Destinations", "destination_of",
]

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


# -- fair shares of the worker's slots -------------------------------------------------------


def destination_of(url: str) -> tuple[str, str]:
    """``(destination, prefix)`` of a callback URL: the destination is ``scheme://host:port``
    (lower case, the port spelled out), what slots are shared by; the prefix is the URL as
    written up to its path, what the outbox's rows can be matched on."""
    start = url.find("://")
    start = start + 3 if start >= 0 else 0
    end = min((i for i in (url.find("/", start), url.find("?", start)) if i >= 0), default=len(url))
    prefix = url[:end]
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        return f"{scheme}://{parts.hostname or ''}:{port}", prefix
    except ValueError:  # refused when it is sent; as a destination it is just its prefix
        return prefix.lower(), prefix


SLOW, NEW, PROMPT = 0, 1, 2


class Destinations:
    """How many attempts each destination may have in flight at once, and whose messages are
    claimed first: the worker's view of its receivers, pure (times are passed in, in
    ``time.monotonic()`` seconds).

    * *prompt*: its last attempt ended within ``slow_after`` seconds (a slow one's: its last
      two). It may use ``per_destination`` slots (default: all), and its messages are claimed
      first.
    * *new*: not met yet (or forgotten). One slot, until an attempt ends; claimed next.
    * *slow*: its last attempt ran past ``slow_after`` or timed out, or one in flight has run
      past it. One slot; slow destinations together at most half the slots; claimed last.

    So a receiver that answers promptly waits for one slot to free up at most, however many
    receivers drip: at most one deadline, since every attempt ends at it. What is remembered
    is bounded: ``remember`` destinations, each for ``memory`` seconds after its last attempt.
    """

    def __init__(
        self, concurrency: int, *, slow_after: float, per_destination: int | None = None,
        remember: int = 10_000, memory: float = 24 * 3600.0,
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.per_destination = max(1, min(per_destination or self.concurrency, self.concurrency))
        self.slow_share = max(1, self.concurrency // 2)
        self.slow_after = slow_after
        self.remember = remember
        self.memory = memory
        # destination -> (standing, when last heard of); the least recently heard of first.
        self._known: OrderedDict[str, tuple[int, float]] = OrderedDict()
        # The prompt and the slow ones of _known, in the same order.
        self._standing: dict[int, OrderedDict[str, None]] = {PROMPT: OrderedDict(), SLOW: OrderedDict()}
        self._in_flight: dict[str, list[float]] = {}  # destination -> start of each attempt
        self._prefixes: dict[str, list[str]] = {}  # destination -> its spellings seen

    # -- what the worker tells it

    def started(self, destination: str, prefix: str, now: float) -> None:
        self._in_flight.setdefault(destination, []).append(now)
        self.spelled(destination, prefix)

    def spelled(self, destination: str, prefix: str) -> None:
        """``prefix`` is how a URL to ``destination`` is written: what the claim matches the
        destination's rows on."""
        if destination not in self._in_flight and destination not in self._known:
            return
        spellings = self._prefixes.setdefault(destination, [])
        if prefix not in spellings:
            spellings.append(prefix)
            del spellings[:-4]  # a handful: rows spelled otherwise are still refused, one query later

    def cancelled(self, destination: str, started: float) -> None:
        """An attempt counted as started was not made (its claim failed): no verdict."""
        starts = self._in_flight.get(destination, [])
        if started in starts:
            starts.remove(started)
        if not starts:
            self._in_flight.pop(destination, None)

    def finished(self, destination: str, started: float, now: float, *, timed_out: bool) -> None:
        self.cancelled(destination, started)
        standing, _ = self._forget_one(destination, (NEW, now))
        if timed_out or now - started >= self.slow_after:
            standing = SLOW
        else:
            standing = min(standing + 1, PROMPT)  # one step at a time: a slow one is new again first
        self._known[destination] = (standing, now)
        if standing in self._standing:
            self._standing[standing][destination] = None
        while self._known:
            oldest, (_, heard) = next(iter(self._known.items()))
            if len(self._known) <= self.remember and now - heard < self.memory:
                break
            self._forget_one(oldest, (NEW, now))
            if oldest not in self._in_flight:
                self._prefixes.pop(oldest, None)

    def _forget_one(self, destination: str, default: tuple[int, float]) -> tuple[int, float]:
        for members in self._standing.values():
            members.pop(destination, None)
        return self._known.pop(destination, default)

    # -- what the claim asks

    def slow(self, destination: str, now: float) -> bool:
        standing, _ = self._known.get(destination, (NEW, now))
        if standing == SLOW:
            return True
        return any(now - start >= self.slow_after for start in self._in_flight.get(destination, ()))

    def prompt(self, destination: str, now: float) -> bool:
        standing, _ = self._known.get(destination, (NEW, now))
        return standing == PROMPT and not self.slow(destination, now)

    def limit(self, destination: str, now: float) -> int:
        if self.slow(destination, now):
            return 1
        standing, _ = self._known.get(destination, (NEW, now))
        return self.per_destination if standing == PROMPT else 1

    def slow_in_flight(self, now: float) -> int:
        return sum(len(starts) for d, starts in self._in_flight.items() if self.slow(d, now))

    def may_start(self, destination: str, now: float, *, slow_too: bool) -> bool:
        """May one more attempt to ``destination`` start now? Slow destinations only when
        ``slow_too`` (their turn comes after the others') and while the slow share has room."""
        in_flight = len(self._in_flight.get(destination, ()))
        if self.slow(destination, now):
            return slow_too and in_flight < 1 and self.slow_in_flight(now) < self.slow_share
        return in_flight < self.limit(destination, now)

    def prompt_turn(self, now: float, *, most: int = 500) -> list[str]:
        """The prefixes of prompt destinations with a free slot (the ``most`` most recently
        heard of): their messages are claimed before others that were due earlier."""
        members = itertools.islice(reversed(self._standing[PROMPT]), most)
        return [p for d in members if self.may_start(d, now, slow_too=False) for p in self._prefixes.get(d, ())]

    def slow_room(self, now: float) -> bool:
        """May another attempt to a slow destination start now (their share has room)?"""
        return self.slow_in_flight(now) < self.slow_share

    def held_back(self, now: float, *, slow_too: bool = False, most: int = 500) -> list[str]:
        """The prefixes whose messages may not be claimed now: destinations at their limit, and
        unless ``slow_too``, slow ones (the ``most`` most recently heard of; messages of others
        are refused once read)."""
        out = [p for d, starts in self._in_flight.items() if len(starts) >= self.limit(d, now)
               for p in self._prefixes.get(d, ())]
        if not slow_too:
            for destination in itertools.islice(reversed(self._standing[SLOW]), most):
                out += self._prefixes.get(destination, ())
        return list(dict.fromkeys(out))
