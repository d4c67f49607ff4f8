"""The worker threads that run plain `def` methods (server/_threads.py): results, exceptions,
contextvars, the thread bound, reuse, cancellation, the workers' scheduling policy, and that a
served `def` method runs there."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time

import httpx
import pytest
from servers import UvicornThread

from interlink import ApiServer
from interlink.server._threads import ThreadPool

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_result_comes_from_another_thread() -> None:
    pool = ThreadPool()

    async def scenario() -> tuple[int, int]:
        return await pool.run(threading.get_ident), threading.get_ident()

    worker, loop = asyncio.run(scenario())
    assert worker != loop


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_workers_run_as_batch_threads_and_the_event_loop_does_not() -> None:
    """A worker woken for a job must not preempt the event loop's thread, which holds the GIL it
    needs: the workers are SCHED_BATCH; the caller's thread keeps its policy."""
    pool = ThreadPool()

    async def scenario() -> tuple[int, int]:
        return await pool.run(os.sched_getscheduler, 0), os.sched_getscheduler(0)

    worker, loop = asyncio.run(scenario())
    assert worker == os.SCHED_BATCH
    assert loop == os.SCHED_OTHER


def test_exceptions_reach_the_caller_with_their_type() -> None:
    pool = ThreadPool()

    def fails(x: int) -> int:
        raise KeyError(x)

    async def scenario() -> None:
        await pool.run(fails, 5)

    with pytest.raises(KeyError):
        asyncio.run(scenario())


def test_the_callers_contextvars_are_seen_and_changes_stay_in_the_thread() -> None:
    pool = ThreadPool()

    def read_and_change() -> str:
        seen = REQUEST_ID.get()
        REQUEST_ID.set("changed in the worker")
        return seen

    async def scenario() -> tuple[str, str]:
        REQUEST_ID.set("call 7")
        seen = await pool.run(read_and_change)
        return seen, REQUEST_ID.get()

    assert asyncio.run(scenario()) == ("call 7", "call 7")


def test_no_more_than_max_threads_run_at_once_and_every_job_finishes() -> None:
    pool = ThreadPool(max_threads=2)
    lock = threading.Lock()
    running = 0
    most = 0

    def job(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n

    async def scenario() -> list[int]:
        return await asyncio.gather(*(pool.run(job, n) for n in range(6)))

    assert asyncio.run(scenario()) == list(range(6))
    assert most == 2
    assert pool.threads == 2


def test_an_idle_thread_is_reused() -> None:
    pool = ThreadPool()

    async def scenario() -> None:
        for n in range(20):
            assert await pool.run(abs, -n) == n

    asyncio.run(scenario())
    assert pool.threads == 1


def test_a_job_cancelled_before_it_starts_does_not_run() -> None:
    pool = ThreadPool(max_threads=1)
    release = threading.Event()
    ran: list[str] = []

    async def scenario() -> None:
        first = asyncio.ensure_future(pool.run(release.wait, 5))
        await asyncio.sleep(0.05)  # the only thread is now busy
        second = asyncio.ensure_future(pool.run(ran.append, "second"))
        await asyncio.sleep(0.01)
        second.cancel()
        release.set()
        assert await first is True
        assert await pool.run(ran.append, "third") is None  # the thread is free again

    asyncio.run(scenario())
    assert ran == ["third"]


def test_a_served_def_method_runs_in_the_pool_not_in_the_event_loop() -> None:
    api = ApiServer(docs=False, authenticator=None, database=None)
    api.authenticator = object()  # public methods only: no key store needed

    @api.method(module="home")
    def where() -> str:
        return threading.current_thread().name

    @api.method(module="home")
    async def where_async() -> str:
        return threading.current_thread().name

    server = UvicornThread(api)
    url = server.start()
    try:
        assert httpx.post(f"{url}/api/home/where").json().startswith("interlink-worker-")
        assert httpx.post(f"{url}/api/home/where_async").json() == "uvicorn"
    finally:
        server.stop()
