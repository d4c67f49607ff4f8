"""The delivery worker: claims due messages from the outbox, signs and sends them, records
every attempt, and schedules the next one.

At-least-once: a claim is a lease (``locked_until``); a worker that dies mid-delivery leaves
its messages to be claimed again once the lease runs out, and they are sent again with the
same ``webhook-id``. On PostgreSQL any number of workers claim with ``SELECT … FOR UPDATE SKIP
LOCKED``; on SQLite one worker per database file runs at a time (a file lock; the others wait).

Each request goes out with no redirects followed, a 15-second timeout, and to the address the
destination's name resolved to *and* was checked against the address policy: the URL's host is
replaced by that address, the ``Host`` header and TLS server name keep the name.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import bindparam, insert, or_, select, update

from interlink.store._models import utcnow

from ._addresses import AddressPolicy, DestinationRefused, check_url
from ._models import DeliveryAttempt, OutboxMessage, WebhookEndpoint, excerpt
from ._outbox import disable_endpoint, live_signing_secrets
from ._schedule import Outcome, decide
from ._signing import signature_headers

__all__ = ["DeliveryWorker", "Job"]

OUTBOX = OutboxMessage.__table__
ATTEMPTS = DeliveryAttempt.__table__

logger = logging.getLogger("interlink.callbacks")
TIMEOUT = 15.0
EXCERPT_BYTES = 1024
USER_AGENT = "interlink-webhooks"
# Finished attempts are written together: at most this long after the first of them finished
# (or sooner, once half the concurrency has finished).
RECORD_DELAY = 0.05


@dataclass
class Job:
    id: int
    message_id: str
    url: str
    method: str
    payload: bytes
    secrets: list[str]
    attempts: int


@dataclass
class Attempt:
    job: Job
    outcome: Outcome
    latency_ms: float
    response_excerpt: str
    attempted_at: dt.datetime


class DeliveryWorker:
    """Delivers the outbox of ``database``.

    ``concurrency``: messages in flight at once. ``lease``: how long a claim lasts (longer than
    the timeout: a message is sent again only after its lease expires). ``verify``: TLS trust
    (default: certifi's CAs; the environment's SSL_CERT_FILE is not read).
    """

    def __init__(
        self,
        database: Any,
        *,
        policy: AddressPolicy | None = None,
        concurrency: int = 32,
        lease: float = 60.0,
        poll_interval: float = 0.5,
        timeout: float = TIMEOUT,
        name: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
    ) -> None:
        from interlink.store import Database

        self.database = database if isinstance(database, Database) else Database(database)
        if policy is None:
            from interlink.settings import Settings

            policy = AddressPolicy(Settings.from_environ().callback_allowed_networks)
        self.policy = policy
        self.concurrency = max(1, concurrency)
        self.lease = dt.timedelta(seconds=lease)
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.transport = transport
        self.verify = verify  # TLS trust: True (certifi), a CA bundle path or an SSLContext
        self.delivered = 0
        self.failed = 0

    # -- database steps (plain functions, run in a thread) ------------------------------

    # Core SQL rather than ORM objects here: these run in a thread of the worker's process and
    # hold the GIL, so every bit of Python they save goes to the deliveries (docs/callbacks.md).

    def claim(self, limit: int) -> list[Job]:
        now = utcnow()
        table = OUTBOX
        with self.database.session() as session:
            due = (
                select(table.c.id)
                .where(
                    table.c.state == "pending",
                    table.c.next_attempt_at <= now,
                    or_(table.c.locked_until.is_(None), table.c.locked_until < now),
                )
                .order_by(table.c.next_attempt_at, table.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list(session.scalars(due))
            if not ids:
                return []
            session.execute(update(table).where(table.c.id.in_(ids)).values(locked_until=now + self.lease))
            rows = session.execute(
                select(table.c.id, table.c.message_id, table.c.url, table.c.method, table.c.payload, table.c.signer,
                       table.c.endpoint_id, table.c.attempts).where(table.c.id.in_(ids))
            ).all()
            endpoint_ids = {row.endpoint_id for row in rows if row.endpoint_id is not None}
            endpoints = {
                e.id: e.live_secrets(now)
                for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids)))
            } if endpoint_ids else {}
            secrets: dict[str, list[str]] = {}
            jobs = []
            for row in rows:
                if row.endpoint_id is not None:
                    live = endpoints.get(row.endpoint_id, [])
                else:
                    signer = row.signer or "default"
                    if signer not in secrets:
                        secrets[signer] = live_signing_secrets(session, signer, now)
                    live = secrets[signer]
                jobs.append(Job(row.id, row.message_id, row.url, row.method, row.payload.encode("utf-8"), live, row.attempts))
            return jobs

    def record(self, attempts: list[Attempt]) -> None:
        now = utcnow()
        table = OUTBOX
        with self.database.session() as session:
            ids = [attempt.job.id for attempt in attempts]
            current = {
                row.id: row
                for row in session.execute(
                    select(table.c.id, table.c.state, table.c.attempts, table.c.endpoint_id).where(table.c.id.in_(ids))
                )
            }
            endpoint_ids = {row.endpoint_id for row in current.values() if row.endpoint_id is not None}
            endpoints = {
                e.id: e for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids)))
            } if endpoint_ids else {}
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            for attempt in attempts:
                row = current.get(attempt.job.id)
                if row is None:
                    continue
                outcome = attempt.outcome
                inserts.append({
                    "outbox_id": row.id, "attempted_at": attempt.attempted_at, "status": outcome.status,
                    "latency_ms": round(attempt.latency_ms, 1), "error": excerpt(outcome.error),
                    "response_excerpt": attempt.response_excerpt, "worker": self.name[:100],
                })
                change = {"b_id": row.id, "attempts": row.attempts + 1, "locked_until": None, "state": row.state,
                          "next_attempt_at": None, "finished_at": None, "last_error": ""}
                if row.state != "pending":
                    # Finished meanwhile (a replayed message another worker also had): count the
                    # attempt, leave the outcome.
                    updates.append({**change, "keep": True})
                    continue
                endpoint = None if row.endpoint_id is None else endpoints.get(row.endpoint_id)
                failing_since = None if endpoint is None else endpoint.failing_since
                decision = decide(outcome, row.attempts + 1, now, failing_since=failing_since)
                if decision.state == "delivered":
                    change.update(state="delivered", finished_at=now)
                    self.delivered += 1
                    if endpoint is not None and endpoint.failing_since is not None:
                        endpoint.failing_since = None
                else:
                    change["last_error"] = excerpt(decision.reason)
                    if endpoint is not None and endpoint.failing_since is None:
                        endpoint.failing_since = attempt.attempted_at
                    if decision.state == "pending":
                        change["next_attempt_at"] = decision.next_attempt_at
                    else:
                        change.update(state="failed", finished_at=now)
                        self.failed += 1
                    if decision.disable_endpoint and endpoint is not None and endpoint.enabled:
                        endpoint.enabled = False
                        endpoint.disabled_reason = excerpt(decision.reason)
                updates.append(change)
            if inserts:
                session.execute(insert(ATTEMPTS), inserts)
            kept = [{"b_id": u["b_id"], "attempts": u["attempts"]} for u in updates if u.get("keep")]
            finished = [u for u in updates if not u.get("keep") and u["next_attempt_at"] is None]
            retried = [u for u in updates if not u.get("keep") and u["next_attempt_at"] is not None]
            by_id = table.c.id == bindparam("b_id")
            if kept:
                session.execute(update(table).where(by_id).values(attempts=bindparam("attempts"), locked_until=None)
                                .execution_options(synchronize_session=False), kept)
            if finished:
                session.execute(update(table).where(by_id).values(
                    attempts=bindparam("attempts"), locked_until=None, state=bindparam("state"),
                    finished_at=bindparam("finished_at"), last_error=bindparam("last_error"),
                ).execution_options(synchronize_session=False),
                    [{k: u[k] for k in ("b_id", "attempts", "state", "finished_at", "last_error")} for u in finished])
            if retried:
                session.execute(update(table).where(by_id).values(
                    attempts=bindparam("attempts"), locked_until=None, next_attempt_at=bindparam("next_attempt_at"),
                    last_error=bindparam("last_error"),
                ).execution_options(synchronize_session=False),
                    [{k: u[k] for k in ("b_id", "attempts", "next_attempt_at", "last_error")} for u in retried])
            for endpoint in endpoints.values():
                if not endpoint.enabled:
                    disable_endpoint(session, endpoint, endpoint.disabled_reason)

    # -- sending --------------------------------------------------------------------------

    async def _addresses(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [info[4][0] for info in infos]

    async def send(self, client: httpx.AsyncClient, job: Job) -> Attempt:
        started = time.perf_counter()
        attempted_at = utcnow()
        text = ""
        try:
            scheme, host, port = check_url(job.url, self.policy)
            address = self.policy.check_addresses(await self._addresses(host, port))
            parts = urlsplit(job.url)
            pinned_host = f"[{address}]" if address.version == 6 else str(address)
            default_port = 443 if scheme == "https" else 80
            target = urlunsplit((scheme, pinned_host if port == default_port else f"{pinned_host}:{port}",
                                 parts.path or "/", parts.query, ""))
            headers = {
                "host": parts.netloc.rpartition("@")[2],
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                **signature_headers(job.message_id, job.payload, job.secrets),
            }
            extensions = {"sni_hostname": host} if scheme == "https" else {}
            async with client.stream(job.method, target, content=job.payload, headers=headers, extensions=extensions) as response:
                received = b""
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) >= EXCERPT_BYTES:
                        break  # the rest is not read: a huge answer costs nothing
                text = received[:EXCERPT_BYTES].decode("utf-8", "replace")
                outcome = Outcome(response.status_code, response.headers.get("retry-after"))
        except (DestinationRefused, socket.gaierror) as error:
            outcome = Outcome(None, error=f"refused: {error}" if isinstance(error, DestinationRefused) else f"cannot resolve: {error}")
        except httpx.TimeoutException:
            outcome = Outcome(None, error=f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as error:
            outcome = Outcome(None, error=f"{type(error).__name__}: {error}"[:300])
        except Exception as error:  # never let one message stop the worker
            logger.exception("delivering %s", job.message_id)
            outcome = Outcome(None, error=f"{type(error).__name__}: {error}"[:300])
        return Attempt(job, outcome, (time.perf_counter() - started) * 1000, excerpt(text), attempted_at)

    def client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        return httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False, limits=limits, transport=self.transport,
            verify=self.verify,
        )

    # -- loop ---------------------------------------------------------------------------

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """Claim one batch, send it, record it; how many messages were attempted."""
        jobs = await asyncio.to_thread(self.claim, self.concurrency)
        if not jobs:
            return 0
        attempts = await asyncio.gather(*(self.send(client, job) for job in jobs))
        await asyncio.to_thread(self.record, list(attempts))
        return len(jobs)

    async def pump(self, client: httpx.AsyncClient, stop: asyncio.Event, *, until_idle: bool = False) -> None:
        """The delivery loop: keep ``concurrency`` messages in flight, claiming more as slots
        free up, and record finished attempts in batches (whatever finished while the previous
        batch was being written), so the database round trips overlap the network ones."""
        inflight: set[asyncio.Task[Attempt]] = set()
        finished: list[Attempt] = []
        finished_since = 0.0
        outbox_empty_at = -1.0e9
        while True:
            if stop.is_set() and not inflight and not finished:
                return
            free = self.concurrency - len(inflight)
            claimed = 0
            looked_recently = time.monotonic() - outbox_empty_at < self.poll_interval
            if not stop.is_set() and free >= max(1, self.concurrency // 2) and not looked_recently:
                try:
                    jobs = await asyncio.to_thread(self.claim, free)
                except Exception:
                    logger.exception("delivery worker %s: cannot claim; retrying", self.name)
                    jobs = []
                claimed = len(jobs)
                if claimed < free:
                    outbox_empty_at = time.monotonic()
                inflight.update(asyncio.create_task(self.send(client, job)) for job in jobs)
            if inflight:
                wait = self.poll_interval if not finished else max(0.0, finished_since + RECORD_DELAY - time.monotonic())
                done, inflight = await asyncio.wait(inflight, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if done and not finished:
                    finished_since = time.monotonic()
                finished += [task.result() for task in done]
            if finished and (not inflight or len(finished) >= self.concurrency // 2
                             or time.monotonic() - finished_since >= RECORD_DELAY):
                await self._record_until_done(finished)
                finished = []
            elif not inflight and not finished:
                if until_idle and claimed == 0:
                    return
                await _wait(stop, self.poll_interval)

    async def _record_until_done(self, attempts: list[Attempt]) -> None:
        while True:
            try:
                await asyncio.to_thread(self.record, attempts)
                return
            except Exception:
                # Not recorded, the messages would be sent again after their lease: keep trying
                # (the database may be restarting).
                logger.exception("delivery worker %s: cannot record attempts; retrying", self.name)
                await asyncio.sleep(1)

    async def run(self, stop: asyncio.Event | None = None, *, until_idle: bool = False) -> None:
        """Deliver until ``stop`` is set (or, with ``until_idle``, until nothing is due)."""
        stop = stop or asyncio.Event()
        with self._exclusive() as mine:
            while not mine:
                # SQLite: another process delivers; take over if it stops.
                if until_idle or await _wait(stop, self.poll_interval * 4):
                    return
                mine = self._try_lock()
            async with self.client() as client:
                await self.pump(client, stop, until_idle=until_idle)

    @contextlib.asynccontextmanager
    async def in_background(self) -> AsyncIterator[DeliveryWorker]:
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop))
        try:
            yield self
        finally:
            stop.set()
            # In-flight messages finish (at most the timeout); past that they are cancelled,
            # unrecorded, and sent again after their lease.
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(task, timeout=self.timeout + 5)

    # -- SQLite: one worker per database file -------------------------------------------

    _lock_fd: int | None = None

    def _lock_path(self) -> str | None:
        if not self.database.is_sqlite:
            return None
        from sqlalchemy.engine import make_url

        path = make_url(self.database.url).database
        return None if not path or path == ":memory:" else f"{path}.delivery-lock"

    def _try_lock(self) -> bool:
        path = self._lock_path()
        if path is None:
            return True
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[bool]:
        try:
            yield self._try_lock()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if ``stop`` was set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except asyncio.TimeoutError:
        return stop.is_set()
