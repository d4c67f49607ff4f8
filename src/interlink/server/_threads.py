"""The worker threads that run plain ``def`` methods, so they never block the event loop.

``anyio.to_thread.run_sync`` costs about 30 µs of CPU per call (a capacity limiter, cancel
scopes, run-variable look-ups, a ``queue.Queue`` whose Condition wakes a thread per job): on a
small call that was a third of the server's time (docs/performance.md). This pool does only
the hand-off a call needs, about 2.5 µs: the job goes on a ``SimpleQueue`` (C), a worker thread
runs it in a copy of the caller's context (so ``contextvars`` are seen as in ``async``
methods), and the result comes back to the event loop in a batch: the first result that finds
no batch waiting for its loop schedules one ``call_soon_threadsafe``, and every result that
arrives before the loop runs it joins it (one wake-up of the loop for many results, which
measured 1-2 µs less per call with 32 calls in flight).

Threads are started as they are needed, up to ``max_threads`` (40, anyio's default limit), and
then reused; when all are busy a job waits in the queue. Idle threads are counted as
``concurrent.futures.ThreadPoolExecutor`` does: a job takes an idle thread or starts a new one.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from typing import Any, Callable, TypeVar

__all__ = ["ThreadPool"]

T = TypeVar("T")


class ThreadPool:
    def __init__(self, max_threads: int = 40, name: str = "interlink-worker") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = max_threads
        self.name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for a job and not yet promised one
        self._lock = threading.Lock()
        # event loop -> results waiting for the one _deliver scheduled on it (under _lock)
        self._results: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}

    async def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a worker thread; its result or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, contextvars.copy_context(), function, args, kwargs))
        with self._lock:
            if self._idle:
                self._idle -= 1
                start = False
            else:
                start = len(self._threads) < self.max_threads
        if start:
            thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return await future

    @property
    def threads(self) -> int:
        """How many worker threads have been started."""
        return len(self._threads)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the event loop: resolve every result that arrived since this was scheduled."""
        with self._lock:
            results = self._results.pop(loop, ())
        for future, ok, value in results:
            if future.done():  # the awaiting task was cancelled meanwhile
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _work(self) -> None:
        jobs, lock, waiting = self._jobs, self._lock, self._results
        while True:
            loop, future, context, function, args, kwargs = jobs.get()
            ok, value = False, None
            if not future.cancelled():
                try:
                    value, ok = context.run(function, *args, **kwargs), True
                except StopIteration as exc:  # a Future cannot carry StopIteration
                    value = RuntimeError(f"StopIteration raised: {exc!r}")
                except BaseException as exc:
                    value = exc
            # Idle again before the caller hears back, so its next job finds this thread.
            with lock:
                self._idle += 1
                batch = waiting.get(loop)
                if batch is None:
                    batch = waiting[loop] = []
                    schedule = True
                else:
                    schedule = False  # a _deliver is on its way and will take this one too
                batch.append((future, ok, value))
            if schedule:
                try:
                    loop.call_soon_threadsafe(self._deliver, loop)
                except RuntimeError:  # the event loop is closed: nobody waits any more
                    with lock:
                        waiting.pop(loop, None)
            # Drop this job's references before waiting for the next one.
            loop = future = context = function = args = kwargs = value = batch = None  # type: ignore[assignment]
