"""Failed-login counts in the database, so every worker process sees the same count.

One row per bucket (a hashed name such as "this username from this address"): a count and
the end of its window, in milliseconds since the epoch. Taking a slot is one statement, an
upsert that starts a new window when the old one has ended and adds one otherwise, returning
the new count: atomic on SQLite (one writer at a time) and on PostgreSQL (the row is locked for
the update), so N concurrent guesses get the counts 1..N and only the first few are checked.
Expired rows are deleted now and then by whichever process notices.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import anyio.to_thread
from sqlalchemy import BigInteger, Integer, String, Table, case, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from interlink.store._database import Database, outages_as_unavailable
from interlink.store._models import Base

__all__ = ["DatabaseCounters", "LoginAttempt"]


class LoginAttempt(Base):
    """A failed-login counter (see interlink.server's FailureLimiter); never holds a name in clear."""

    __tablename__ = "interlink_login_attempts"

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    ends_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)

    def __repr__(self) -> str:
        return f"LoginAttempt(bucket={self.bucket!r}, count={self.count!r})"


# Declarative types __table__ as any FromClause; a class declared with columns has a Table.
_TABLE = cast(Table, LoginAttempt.__table__)


class DatabaseCounters:
    """The ``Counters`` (``interlink.identity``) the server's failed-login limiter gets from the
    store's ``Backend``, on an interlink Database."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.time,
                 purge_every: float = 60.0) -> None:
        self.database = database
        self._clock = clock  # wall-clock seconds: shared by processes, so not monotonic
        self.purge_every = purge_every
        self._next_purge = 0.0
        if database.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        self._insert = insert

    def hit_now(self, bucket: str, window: float) -> tuple[int, float]:
        now = int(self._clock() * 1000)
        ends = now + int(window * 1000)
        table = _TABLE
        expired = table.c.ends_at_ms <= now
        statement = (
            self._insert(table)
            .values(bucket=bucket, count=1, ends_at_ms=ends)
            .on_conflict_do_update(
                index_elements=[table.c.bucket],
                set_={
                    "count": case((expired, 1), else_=table.c.count + 1),
                    "ends_at_ms": case((expired, ends), else_=table.c.ends_at_ms),
                },
            )
            .returning(table.c.count, table.c.ends_at_ms)
        )
        with outages_as_unavailable("the login-attempt store"), self.database.engine.begin() as connection:
            count, ends_at = connection.execute(statement).one()
            if now >= self._next_purge:
                self._next_purge = now + self.purge_every * 1000
                connection.execute(delete(table).where(table.c.ends_at_ms <= now))
        # Another process's clock may run a little ahead: never report more than the window.
        return int(count), min(window, (ends_at - now) / 1000)

    def peek_now(self, bucket: str) -> tuple[int, float]:
        now = int(self._clock() * 1000)
        table = _TABLE
        query = select(table.c.count, table.c.ends_at_ms).where(
            table.c.bucket == bucket, table.c.ends_at_ms > now
        )
        with outages_as_unavailable("the login-attempt store"), self.database.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return 0, 0.0
        return int(row[0]), (row[1] - now) / 1000

    def clear_now(self, bucket: str) -> None:
        table = _TABLE
        with outages_as_unavailable("the login-attempt store"), self.database.engine.begin() as connection:
            connection.execute(delete(table).where(table.c.bucket == bucket))

    async def hit(self, bucket: str, window: float) -> tuple[int, float]:
        return await anyio.to_thread.run_sync(self.hit_now, bucket, window)

    async def peek(self, bucket: str) -> tuple[int, float]:
        return await anyio.to_thread.run_sync(self.peek_now, bucket)

    async def clear(self, bucket: str) -> None:
        await anyio.to_thread.run_sync(self.clear_now, bucket)


