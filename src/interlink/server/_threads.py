"""The worker threads that run plain ``def`` methods, so they never block the event loop.

``anyio.to_thread.run_sync`` costs about 30 µs of CPU per call (a capacity limiter, cancel
scopes, run-variable look-ups, a ``queue.Queue`` whose Condition wakes a thread per job): on a
small call that was a third of the server's time (docs/performance.md). This pool does only
the hand-off a call needs, about 2.5 µs: the job goes on a ``SimpleQueue`` (C), a worker thread
runs it in a copy of the caller's context (so ``contextvars`` are seen as in ``async``
methods), and the result comes back to the event loop in a batch: the first result that finds
no delivery scheduled on its loop schedules one (``call_soon_threadsafe``), and every result
that arrives before the loop runs it joins it — one wake-up of the loop for many results.

No Python-level lock is taken on a call's way: the hand-offs are ``SimpleQueue`` operations and
a non-blocking lock acquire, all in C. A lock held by a thread that then lost the GIL made the
other thread wait for two switches of the GIL (a convoy), which showed under load.

Threads are started as they are needed, up to ``max_threads`` (40, anyio's default limit), and
then reused; when all are busy a job waits in the queue. Idle threads are counted as
``concurrent.futures.ThreadPoolExecutor`` does — a job takes an idle thread or starts a new
one — with a token per idle thread in a queue instead of a counter under a lock.

On Linux the workers run under the ``SCHED_BATCH`` policy (same priority and share of the CPU
as any thread; only waking up no longer preempts the running thread). A job handed to a
sleeping worker wakes it; under the default policy the kernel at once switches to it from the
event loop's thread — which holds the GIL the worker needs, so the worker blocks and the kernel
switches back: two switches for nothing, on most hand-offs of a busy server. As a batch thread
the worker runs when the event loop's thread waits for the network, which is when the GIL is
free (docs/performance.md: a served call 7 % less CPU, half a switch a call down to a tenth).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import queue
import threading
from typing import Any, Callable, TypeVar

__all__ = ["ThreadPool"]

T = TypeVar("T")


class _Delivery:
    """Results on their way back to one event loop."""

    __slots__ = ("loop", "results", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.results: queue.SimpleQueue[tuple[asyncio.Future[Any], bool, Any]] = queue.SimpleQueue()
        # Held from when a delivery is scheduled until it starts: taken without blocking, it
        # is the one flag that says "a delivery is on its way" (an atomic test-and-set).
        self.scheduled = threading.Lock()

    def add(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """From a worker thread."""
        self.results.put((future, ok, value))
        if self.scheduled.acquire(False):
            try:
                self.loop.call_soon_threadsafe(self.deliver)
            except RuntimeError:  # the event loop is closed: nobody waits any more
                pass

    def deliver(self) -> None:
        """On the event loop: every result that has arrived. Released first, so a result that
        arrives while these are resolved schedules a delivery of its own."""
        self.scheduled.release()
        results = self.results
        for _ in range(results.qsize()):
            future, ok, value = results.get_nowait()
            if future.done():  # the awaiting task was cancelled meanwhile
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


class ThreadPool:
    def __init__(self, max_threads: int = 40, name: str = "interlink-worker") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = max_threads
        self.name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle: queue.SimpleQueue[None] = queue.SimpleQueue()  # a token per idle thread not yet promised a job
        self._threads: list[threading.Thread] = []
        self._starting = threading.Lock()  # only when a thread may be started
        self._delivery: _Delivery | None = None  # of the loop that last ran a job

    async def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a worker thread; its result or its exception."""
        return await self.submit(function, *args, **kwargs)

    def submit(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """What ``run`` awaits: the job handed over now, its future returned (on the running
        loop). Awaiting the future directly spares the call path a coroutine; cancelling it
        before a thread takes the job skips the job, as with ``run``."""
        loop = asyncio.get_running_loop()
        delivery = self._delivery
        if delivery is None or delivery.loop is not loop:
            delivery = self._delivery = _Delivery(loop)
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((delivery, future, contextvars.copy_context(), function, args, kwargs))
        idle = self._idle
        if not idle.qsize() or not _took(idle):
            self._start_thread()
        return future

    def _start_thread(self) -> None:
        with self._starting:
            if len(self._threads) >= self.max_threads:
                return  # all busy: the job waits for the first to be free
            thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
        thread.start()

    @property
    def threads(self) -> int:
        """How many worker threads have been started."""
        return len(self._threads)

    def _work(self) -> None:
        _batch_scheduling()
        jobs, idle = self._jobs, self._idle
        while True:
            delivery, future, context, function, args, kwargs = jobs.get()
            ok, value = False, None
            if not future.cancelled():
                try:
                    value, ok = context.run(function, *args, **kwargs), True
                except StopIteration as exc:  # a Future cannot carry StopIteration
                    value = RuntimeError(f"StopIteration raised: {exc!r}")
                except BaseException as exc:
                    value = exc
            # Idle again before the caller hears back, so its next job finds this thread.
            idle.put(None)
            delivery.add(future, ok, value)
            # Drop this job's references before waiting for the next one.
            delivery = future = context = function = args = kwargs = value = None


def _took(idle: queue.SimpleQueue[None]) -> bool:
    try:
        idle.get_nowait()
    except queue.Empty:  # another event loop's job took it first
        return False
    return True


def _batch_scheduling() -> None:
    """The calling thread under ``SCHED_BATCH`` where the system has it (Linux; any user may
    choose it); elsewhere, or where it is refused, the thread stays as it is."""
    set_scheduler, policy = getattr(os, "sched_setscheduler", None), getattr(os, "SCHED_BATCH", None)
    if set_scheduler is None or policy is None:
        return
    try:
        set_scheduler(0, policy, os.sched_param(0))  # 0: this thread
    except OSError:
        pass
