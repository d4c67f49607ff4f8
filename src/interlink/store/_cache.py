"""``RecentCache``: what was read from the database a moment ago, trusted for a few seconds.

Verified keys and login sessions are both cached this way, so that a call costs no query while
a revocation or logout made by another worker still reaches this one within ``seconds``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["RecentCache"]

V = TypeVar("V")


class RecentCache(Generic[V]):
    """At most ``max_entries`` values, each fresh for ``seconds`` after it was stored; the
    least recently stored is dropped first. ``clock`` is monotonic seconds (tests replace it)."""

    def __init__(self, seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()  # value, stale at

    def get(self, key: str) -> V | None:
        """The value if it was stored less than ``seconds`` ago, else None."""
        entry = self._entries.get(key)
        if entry is None or self.clock() >= entry[1]:
            return None
        return entry[0]

    def get_renewing(self, key: str) -> tuple[V | None, bool]:
        """``get(key)``, and whether its value is past three quarters of its time: the caller
        may read it again in the background, so that nobody waits when it goes stale. One
        look-up and one clock read, as ``get``: this is the hot path of every keyed call."""
        entry = self._entries.get(key)
        if entry is None:
            return None, False
        left = entry[1] - self.clock()
        if left <= 0:
            return None, False
        return entry[0], left <= self.seconds * 0.25

    def put(self, key: str, value: V, stored_at: float | None = None) -> None:
        # Kept with the time it goes stale, so that a look-up is one clock read and one compare.
        self._entries[key] = (value, (self.clock() if stored_at is None else stored_at) + self.seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
