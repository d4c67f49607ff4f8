"""The key cache reads a stale key once, however many calls find it stale at the same time."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from interlink.store import Database, KeyAuthenticator, create_key, create_role, create_user, find_key, utcnow


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def a_key(database: Database) -> tuple[str, str]:
    with database.session() as session:
        key, secret = create_key(session, create_role(session, create_user(session, "joebloggs"), "everyday"))
        key_id = key.key_id
        session.commit()
    return key_id, secret.decode()


class CountingReads(KeyAuthenticator):
    """Counts the database reads, each made slow enough that the calls overlap."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.reads = 0
        self.lock = threading.Lock()

    def _load(self, key_id: str):  # type: ignore[no-untyped-def]
        with self.lock:
            self.reads += 1
        time.sleep(0.05)
        return super()._load(key_id)


@pytest.mark.anyio
async def test_calls_that_find_a_key_stale_together_share_one_read(database: Database) -> None:
    key_id, secret = a_key(database)
    clock = FakeClock()
    auth = CountingReads(database, cache_seconds=2.0, clock=clock)
    roles = []

    async def call() -> None:
        roles.append(await auth.authenticate_key(key_id, secret))

    async with anyio.create_task_group() as tasks:  # not cached yet: 20 calls, one read
        for _ in range(20):
            tasks.start_soon(call)
    assert auth.reads == 1 and len(roles) == 20 and all(r is not None for r in roles)

    with database.session() as session:
        find_key(session, key_id).revoked_at = utcnow()
    clock.now += 2.0  # stale: read again, once, and every waiting call sees the revocation
    roles.clear()
    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(call)
    assert auth.reads == 2 and roles == [None] * 20


@pytest.mark.anyio
async def test_a_failed_read_fails_every_call_waiting_for_it_and_the_next_call_reads_again(database: Database) -> None:
    key_id, secret = a_key(database)
    auth = CountingReads(database)
    broken = True
    original = KeyAuthenticator._load

    def load(self: KeyAuthenticator, key_id: str):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        if broken:
            raise ConnectionError("database gone")
        return original(self, key_id)

    auth._load = load.__get__(auth)  # type: ignore[method-assign]
    errors = []

    async def call() -> None:
        try:
            await auth.authenticate_key(key_id, secret)
        except ConnectionError as error:
            errors.append(error)

    async with anyio.create_task_group() as tasks:
        for _ in range(5):
            tasks.start_soon(call)
    assert len(errors) == 5
    broken = False
    assert await auth.authenticate_key(key_id, secret) is not None


@pytest.mark.anyio
async def test_a_busy_key_is_read_again_ahead_of_its_stale_time_and_revocations_still_arrive(
    database: Database,
) -> None:
    key_id, secret = a_key(database)
    clock = FakeClock()
    auth = CountingReads(database, cache_seconds=2.0, clock=clock)
    assert await auth.authenticate_key(key_id, secret) is not None and auth.reads == 1

    async def reads_reach(count: int) -> None:
        with anyio.fail_after(5):
            while auth.reads < count or auth._renewing:
                await anyio.sleep(0.01)

    clock.now += 1.6  # past three quarters of its 2 s: answered from the cache, read again behind it
    assert await auth.authenticate_key(key_id, secret) is not None
    await reads_reach(2)
    clock.now += 0.9  # past the first read's stale time, within the second's: nobody waits for a read
    assert await auth.authenticate_key(key_id, secret) is not None and auth.reads == 2

    with database.session() as session:
        find_key(session, key_id).revoked_at = utcnow()
    clock.now += 0.6  # the renewal's entry is due again: it is read in the background and found revoked
    assert await auth.authenticate_key(key_id, secret) is not None  # that entry is 1.5 s old: still trusted
    await reads_reach(3)
    assert await auth.authenticate_key(key_id, secret) is None  # dropped: read on demand, refused
    assert auth.reads == 4
