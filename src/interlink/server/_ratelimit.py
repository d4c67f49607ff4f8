"""Failed-login rate limiting, per user (or key id) and per client address.

In-process and in memory: each worker process counts the failures it saw. With N worker
processes an attacker spread over them gets up to N times the allowance before every worker
refuses; the limit still bounds guessing to a handful of tries per minute per worker, against
argon2id hashes. Successful logins clear the user's count (not the address's).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from interlink.errors import TooManyRequests

__all__ = ["FailureLimiter"]


class FailureLimiter:
    """At most ``per_user`` failures per identity and ``per_address`` per client address within
    ``window`` seconds; past that, checks raise TooManyRequests until the window slides on."""

    def __init__(
        self,
        per_user: int = 5,
        per_address: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = 100_000,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self.max_tracked = max_tracked
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    @property
    def active(self) -> bool:
        """Whether any failure is being tracked: the call path checks nothing when not."""
        return bool(self._failures)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, identity: str | None, address: str | None) -> None:
        """Raise TooManyRequests if this identity or address has failed too often lately."""
        now = self._clock()
        for key, limit in ((f"u:{identity}", self.per_user), (f"a:{address}", self.per_address)):
            if key.endswith(":None"):
                continue
            times = self._recent(key, now)
            if times is not None and len(times) >= limit:
                retry = max(1, math.ceil(self.window - (now - times[0])))
                raise TooManyRequests(
                    f"too many failed logins; try again in {retry} s", status=429
                )

    def failed(self, identity: str | None, address: str | None) -> None:
        now = self._clock()
        if len(self._failures) >= self.max_tracked:
            # Bounded memory under a spray of identities: forget the oldest entries.
            for key in list(self._failures)[: self.max_tracked // 10]:
                del self._failures[key]
        for key in (f"u:{identity}", f"a:{address}"):
            if not key.endswith(":None"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, identity: str | None) -> None:
        self._failures.pop(f"u:{identity}", None)
