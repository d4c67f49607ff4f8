"""rest-tools' ``RouteStats``: recent call times of a route, to answer 503 when it is overloaded.

A route whose recent calls take longer than ``timeout`` (median, or the upper quartile past
twice the timeout) is overloaded; a share of new calls, growing with the median, is then
refused with ``Retry-After``: twice the median call time.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["RouteStats", "RouteStatsTable"]


class RouteStats:
    """The last ``window_size`` call times of one route, kept for ``window_time`` seconds."""

    def __init__(self, window_size: int = 1000, window_time: float = 3600, timeout: float = 30) -> None:
        self.window_size = window_size
        self.window_time = window_time
        self.timeout = timeout
        self.data: deque[float] = deque(maxlen=window_size)
        self.times: deque[float] = deque(maxlen=window_size)

    def __len__(self) -> int:
        return len(self.data)

    def append(self, call_time: float) -> None:
        self.data.append(call_time)
        self.times.append(time.time())

    def clear(self) -> None:
        self.data.clear()
        self.times.clear()

    def _expire(self) -> None:
        cutoff = time.time() - self.window_time
        while self.times and self.times[0] < cutoff:
            self.times.popleft()
            self.data.popleft()

    def is_overloaded(self) -> bool:
        self._expire()
        if len(self.data) < 4:
            return False
        quartiles = statistics.quantiles(self.data)
        median = quartiles[1] if quartiles[1] >= self.timeout or quartiles[2] >= 2 * self.timeout else 0
        return median > 0 and random.random() * median >= self.timeout

    def get_backoff_time(self) -> int:
        if len(self.data) < 4:
            return 1
        return int(statistics.median(self.data) * 2)


class RouteStatsTable:
    """``RouteStats`` by request path, made on first use, as rest-tools' ``defaultdict``, but
    holding at most ``max_paths`` paths (the least recently used go): paths come from callers,
    and a route with a path parameter has as many paths as they care to send."""

    def __init__(self, factory: Callable[[], RouteStats] = RouteStats, max_paths: int = 10_000) -> None:
        self.factory = factory
        self.max_paths = max_paths
        self._stats: OrderedDict[str, RouteStats] = OrderedDict()

    def __getitem__(self, path: str) -> RouteStats:
        stats = self._stats.get(path)
        if stats is None:
            stats = self._stats[path] = self.factory()
            if len(self._stats) > self.max_paths:
                self._stats.popitem(last=False)
        else:
            self._stats.move_to_end(path)
        return stats

    def __contains__(self, path: object) -> bool:
        return path in self._stats

    def __len__(self) -> int:
        return len(self._stats)
