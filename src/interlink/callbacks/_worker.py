"""The delivery worker: claims due messages from the outbox, signs and sends them, records
every attempt, and schedules the next one.

At-least-once: a claim is a lease (``locked_until``); a worker that dies mid-delivery leaves
its messages to be claimed again once the lease runs out, and they are sent again with the
same ``webhook-id``. On PostgreSQL any number of workers claim with ``SELECT … FOR UPDATE SKIP
LOCKED``; on SQLite one worker per database file runs at a time (a file lock; the others wait).

Each request goes out with no redirects followed, within a 15-second deadline for the whole
attempt (resolving the name, connecting, sending, waiting, reading the excerpt of the answer),
and to the address the destination's name resolved to *and* was checked against the address
policy: the URL's host is replaced by that address, the ``Host`` header and TLS server name keep
the name. Which due message goes next is fair among destinations (``_schedule.Destinations``):
receivers that answer promptly go first, one that answers slowly gets one slot, and slow ones
together half the worker.
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
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import ColumnElement, Table, and_, bindparam, func, insert, not_, or_, select, update

from interlink.http import DEADLINE, AsyncBoundedTransport, aread_at_most
from interlink.observe import observer
from interlink.settings import SECRET_KEY_ENV
from interlink.store import SecretDecryptionFailed
from interlink.store._models import utcnow

from ._addresses import AddressPolicy, DestinationRefused, check_url
from ._models import DeliveryAttempt, OutboxMessage, WebhookEndpoint, excerpt
from ._outbox import disable_endpoint, live_signing_secrets
from ._schedule import Destinations, Outcome, decide, destination_of
from ._signing import signature_headers

if TYPE_CHECKING:
    import ssl

    from interlink.store import Database

__all__ = ["DeliveryWorker", "Job"]

# Declarative types __table__ as any FromClause; these classes are declared with columns: Tables.
OUTBOX = cast(Table, OutboxMessage.__table__)
ATTEMPTS = cast(Table, DeliveryAttempt.__table__)

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
    destination: str = ""
    claimed_at: float = 0.0  # time.monotonic()
    signer: str = ""  # a callback's signer; "" for a webhook message (its endpoint's secret)
    # What the observer is told of each attempt (interlink.observe).
    kind: str = "callback"
    event: str = ""
    trace_context: str | None = None
    unreadable_secret: str = ""  # why the signing secret could not be read, when it could not


class NoSigningSecret(Exception):
    """A callback's signer has no signing secret yet: the message is not sent."""

    def __init__(self, signer: str) -> None:
        super().__init__(f"not sent: role {signer} has no signing secret yet; make it (shown once) with "
                         f"`interlink callbacks secret --role {signer}`, then `interlink deliveries retry`")


class UnreadableSigningSecret(Exception):
    """The stored signing secret does not decrypt with ``INTERLINK_SECRET_KEY``: not sent."""


def _secrets_or_why(read: Callable[[], list[str]], whose: str) -> list[str] | str:
    """The live secrets ``read`` gives, or why they cannot be read (logged in one line)."""
    try:
        return read()
    except SecretDecryptionFailed:
        why = _unreadable(whose)
        logger.error("%s", why)
        return why


def _unreadable(whose: str) -> str:
    return (f"not sent: the signing secret of {whose} does not decrypt with {SECRET_KEY_ENV} (was the key "
            f"replaced? list the new key first and the old one after it, comma-separated, then "
            f"`interlink deliveries retry`)")


@dataclass
class Attempt:
    job: Job
    outcome: Outcome
    latency_ms: float
    response_excerpt: str
    attempted_at: dt.datetime
    timed_out: bool = False


class DeliveryWorker:
    """Delivers the outbox of ``database``.

    ``concurrency``: messages in flight at once. ``timeout``: the deadline of one attempt, all
    of it. ``lease``: how long a claim lasts (longer than the timeout: a message is sent again
    only after its lease expires). ``per_destination``: attempts in flight to one destination
    (``scheme://host:port``) that answers promptly (default: all of ``concurrency``); one not
    met yet gets a single slot until it answers, a slow one a single slot, and slow ones
    together half the slots. ``slow_after``: an attempt that lasts longer makes its destination
    slow (default: a third of the timeout). ``verify``: TLS trust
    (default: certifi's CAs; the environment's SSL_CERT_FILE is not read).
    """

    def __init__(
        self,
        database: Database | str | None,
        *,
        policy: AddressPolicy | None = None,
        concurrency: int = 32,
        lease: float = 60.0,
        poll_interval: float = 0.5,
        timeout: float = TIMEOUT,
        name: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | str | bool = True,
        per_destination: int | None = None,
        slow_after: float | None = None,
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
        self.destinations = Destinations(
            self.concurrency, per_destination=per_destination, slow_after=timeout / 3 if slow_after is None else slow_after,
        )

    # -- database steps (plain functions, run in a thread) ------------------------------

    # Core SQL rather than ORM objects here: these run in a thread of the worker's process and
    # hold the GIL, so every bit of Python they save goes to the deliveries (docs/callbacks.md).

    def claim(self, limit: int) -> list[Job]:
        return self._claim(limit)[0]

    def _claim(self, limit: int) -> tuple[list[Job], bool]:
        clock = time.monotonic()
        counted: list[str] = []
        try:
            return self._claim_counting(limit, clock, counted)
        except BaseException:
            # Not claimed after all (the transaction failed): the attempts counted for their
            # destinations will not be made.
            for destination in counted:
                self.destinations.cancelled(destination, clock)
            raise

    def _claim_counting(self, limit: int, clock: float, counted: list[str]) -> tuple[list[Job], bool]:
        """Claim up to ``limit`` due messages that may be sent now, and whether due messages
        were left for destinations that have all the attempts they may have (claim again when
        a slot frees up, not after the poll interval).

        Messages are only claimed to be sent at once: one waiting for its destination's turn is
        left unclaimed, not leased. Two turns (``Destinations``): first every destination but
        the slow ones and those at their limit (left out in the query itself, so a backlog of
        theirs does not hide what is due behind it), prompt destinations before the others;
        then the slow ones too, while their share has room.
        """
        now = utcnow()
        table = OUTBOX
        destinations = self.destinations
        due = and_(table.c.state == "pending", table.c.next_attempt_at <= now,
                   or_(table.c.locked_until.is_(None), table.c.locked_until < now))

        def oldest(where: ColumnElement[bool], count: int) -> list[tuple[int, str, str]]:
            """(id, destination, prefix) of the first ``count`` due rows ``where``, locked."""
            rows = session.execute(
                select(table.c.id, table.c.url).where(where).order_by(table.c.next_attempt_at, table.c.id)
                .limit(count).with_for_update(skip_locked=True)
            )
            return [(row.id, *destination_of(row.url)) for row in rows]

        chosen: dict[int, str] = {}
        held_back = False
        with self.database.session() as session:
            for slow_turn in (False, True):
                if slow_turn and not destinations.slow_room(clock):
                    break
                refused: set[str] = set()  # prefixes of rows refused in this turn: left out of its next queries
                for _ in range(3):
                    room = limit - len(chosen)
                    if room <= 0:
                        break
                    window = room + 8  # a few more, for those refused below
                    held = [*destinations.held_back(clock, slow_too=slow_turn), *refused]
                    candidates = oldest(and_(due, not_(_starts_with(table.c.url, held))) if held else due, window)
                    if not slow_turn:
                        if len(candidates) == window and (prompt := destinations.prompt_turn(clock)) and any(
                            not destinations.prompt(destination, clock) for _, destination, _ in candidates
                        ):
                            # Others' messages were due first; prompt receivers' may be further on.
                            candidates = oldest(and_(due, _starts_with(table.c.url, prompt)), window) + candidates
                        # Prompt receivers first, then in the order they were due (a stable sort).
                        candidates.sort(key=lambda candidate: not destinations.prompt(candidate[1], clock))
                    taken: list[int] = []
                    for id_, destination, prefix in candidates:
                        if len(taken) >= room:
                            break
                        if id_ in chosen:
                            continue
                        if destinations.may_start(destination, clock, slow_too=slow_turn):
                            destinations.started(destination, prefix, clock)
                            counted.append(destination)
                            taken.append(id_)
                            chosen[id_] = destination
                        else:
                            destinations.spelled(destination, prefix)
                            refused.add(prefix)
                    if taken:
                        session.execute(update(table).where(table.c.id.in_(taken)).values(locked_until=now + self.lease))
                    held_back = held_back or bool(refused)
                    if not refused or len(candidates) < window:
                        break
            if not chosen:
                return [], held_back
            found = session.execute(
                select(table.c.id, table.c.message_id, table.c.url, table.c.method, table.c.payload, table.c.signer,
                       table.c.endpoint_id, table.c.attempts, table.c.kind, table.c.event, table.c.trace_context)
                .where(table.c.id.in_(list(chosen)))
            ).all()
            order = {id_: n for n, id_ in enumerate(chosen)}
            rows = sorted(found, key=lambda row: order[row.id])  # sent in the order of the turns
            endpoint_ids = {row.endpoint_id for row in rows if row.endpoint_id is not None}
            # A secret that does not decrypt stops its own messages (each attempt says why), not
            # the claim of everyone else's.
            endpoints: dict[int, list[str] | str] = {}
            if endpoint_ids:
                for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids))):
                    endpoints[e.id] = _secrets_or_why(lambda: e.live_secrets(now), f"webhook endpoint {e.id}")
            secrets: dict[str, list[str] | str] = {}
            jobs = []
            for row in rows:
                signer = ""
                live: list[str] | str
                if row.endpoint_id is not None:
                    live = endpoints.get(row.endpoint_id, [])
                else:
                    signer = row.signer or "default"
                    if signer not in secrets:
                        secrets[signer] = _secrets_or_why(
                            lambda: live_signing_secrets(session, signer, now), f"signer {signer}")
                    live = secrets[signer]
                why = live if isinstance(live, str) else ""
                jobs.append(Job(row.id, row.message_id, row.url, row.method, row.payload.encode("utf-8"),
                                [] if why else cast(list[str], live), row.attempts, chosen[row.id], clock,
                                signer=signer, kind=row.kind, event=row.event, trace_context=row.trace_context,
                                unreadable_secret=why))
            return jobs, held_back

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
                    "latency_ms": round(attempt.latency_ms, 1), "error": excerpt(_storable(outcome.error)),
                    "response_excerpt": attempt.response_excerpt, "worker": self.name[:100],
                })
                change = {"b_id": row.id, "attempts": row.attempts + 1, "locked_until": None, "state": row.state,
                          "next_attempt_at": None, "finished_at": None, "last_error": ""}
                if row.state != "pending":
                    # Finished meanwhile (a replayed message another worker also had): count the
                    # attempt, leave the outcome.
                    updates.append({**change, "keep": True})
                    continue
                # Not sent for a secret of ours that does not decrypt: the receiver did not fail,
                # so its endpoint is neither marked failing nor, days on, disabled for it.
                endpoint = None if row.endpoint_id is None or attempt.job.unreadable_secret \
                    else endpoints.get(row.endpoint_id)
                failing_since = None if endpoint is None else endpoint.failing_since
                decision = decide(outcome, row.attempts + 1, now, failing_since=failing_since)
                if decision.state == "delivered":
                    change.update(state="delivered", finished_at=now)
                    self.delivered += 1
                    if endpoint is not None and endpoint.failing_since is not None:
                        endpoint.failing_since = None
                else:
                    change["last_error"] = excerpt(_storable(decision.reason))
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
        return [str(info[4][0]) for info in infos]  # (host, port[, flow, scope]): host is text

    async def send(self, client: httpx.AsyncClient, job: Job) -> Attempt:
        """One attempt at ``job``, reported to the observer (a span in the trace of the call that
        queued it, when tracing is on)."""
        with observer().delivery(job.trace_context, kind=job.kind, event=job.event, message_id=job.message_id,
                                 attempt=job.attempts + 1) as report:
            attempt = await self._send(client, job)
            status = attempt.outcome.status
            report.finished("delivered" if attempt.outcome.ok else "unreachable" if status is None else "refused",
                            status)
        return attempt

    async def _send(self, client: httpx.AsyncClient, job: Job) -> Attempt:
        started = time.perf_counter()
        attempted_at = utcnow()
        text = ""
        status: int | None = None
        timed_out = False
        try:
            if job.unreadable_secret:
                raise UnreadableSigningSecret(job.unreadable_secret)
            if not job.secrets:
                # A role without a secret yet (live_signing_secrets makes none for a role):
                # nothing is sent unsigned; the message waits on the usual schedule, its reason
                # recorded, until a person makes (and so sees) the role's secret.
                raise NoSigningSecret(job.signer)
            scheme, host, port = check_url(job.url, self.policy)
            # The exchange's deadline is the transport's; resolving the name comes before the
            # exchange, so it is bounded here, by the same deadline.
            async with asyncio.timeout(self.timeout):
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
            extensions: dict[str, Any] = {DEADLINE: self.timeout - (time.perf_counter() - started)}
            if scheme == "https":
                extensions["sni_hostname"] = host
            request = client.build_request(job.method, target, content=job.payload, headers=headers, extensions=extensions)
            response = await client.send(request, stream=True)
            status = response.status_code
            # Only the excerpt is read, then the connection is closed: a huge or endless answer
            # costs nothing, a dripping one ends at the deadline.
            text = (await aread_at_most(response, EXCERPT_BYTES)).decode("utf-8", "replace")
            outcome = Outcome(status, response.headers.get("retry-after"))
        except (NoSigningSecret, UnreadableSigningSecret) as error:
            outcome = Outcome(None, error=str(error))
        except (DestinationRefused, socket.gaierror) as error:
            outcome = Outcome(None, error=f"refused: {error}" if isinstance(error, DestinationRefused) else f"cannot resolve: {error}")
        except (httpx.TimeoutException, TimeoutError):
            timed_out = True
            late = "" if status is None else f" (HTTP {status} came, the rest of the answer did not)"
            outcome = Outcome(None, error=f"timed out after {self.timeout:g} s{late}")
        except httpx.HTTPError as error:
            outcome = Outcome(None, error=f"{type(error).__name__}: {error}"[:300])
        except Exception as error:  # never let one message stop the worker
            logger.exception("delivering %s", job.message_id)
            outcome = Outcome(None, error=f"{type(error).__name__}: {error}"[:300])
        latency_ms = (time.perf_counter() - started) * 1000
        return Attempt(job, outcome, latency_ms, excerpt(_storable(text)), attempted_at, timed_out)

    def client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        inner = self.transport or httpx.AsyncHTTPTransport(verify=self.verify, limits=limits, trust_env=False)
        # The deadline bounds each attempt as a whole, whatever the receiver sends or how slowly;
        # no size bound: the answer is read no further than its excerpt.
        transport = AsyncBoundedTransport(inner, deadline=self.timeout, max_response_bytes=None)
        return httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, trust_env=False, transport=transport)

    # -- loop ---------------------------------------------------------------------------

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """Claim one batch, send it, record it; how many messages were attempted."""
        jobs = await asyncio.to_thread(self.claim, self.concurrency)
        if not jobs:
            return 0
        attempts = await asyncio.gather(*(self.send(client, job) for job in jobs))
        for attempt in attempts:
            self._finished(attempt)
        await asyncio.to_thread(self.record, list(attempts))
        return len(jobs)

    def _finished(self, attempt: Attempt) -> None:
        job = attempt.job
        self.destinations.finished(job.destination, job.claimed_at, time.monotonic(), timed_out=attempt.timed_out)

    async def pump(self, client: httpx.AsyncClient, stop: asyncio.Event, *, until_idle: bool = False) -> None:
        """The delivery loop: keep ``concurrency`` messages in flight, claiming more as slots
        free up, and record finished attempts in batches (whatever finished while the previous
        batch was being written), so the database round trips overlap the network ones."""
        inflight: set[asyncio.Task[Attempt]] = set()
        finished: list[Attempt] = []
        finished_since = 0.0
        outbox_empty_at = -1.0e9
        held_back = False  # due messages left for busy destinations: claim again when a slot frees
        while True:
            if stop.is_set() and not inflight and not finished:
                return
            free = self.concurrency - len(inflight)
            claimed = 0
            looked_recently = time.monotonic() - outbox_empty_at < self.poll_interval
            if not stop.is_set() and free >= max(1, self.concurrency // 2) and not looked_recently:
                try:
                    jobs, held_back = await asyncio.to_thread(self._claim, free)
                except Exception:
                    logger.exception("delivery worker %s: cannot claim; retrying", self.name)
                    jobs, held_back = [], False
                claimed = len(jobs)
                if claimed < free:
                    outbox_empty_at = time.monotonic()
                inflight.update(asyncio.create_task(self.send(client, job)) for job in jobs)
            if inflight:
                wait = self.poll_interval if not finished else max(0.0, finished_since + RECORD_DELAY - time.monotonic())
                done, inflight = await asyncio.wait(inflight, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if done and not finished:
                    finished_since = time.monotonic()
                for task in done:
                    finished.append(task.result())
                    self._finished(finished[-1])
                if done and held_back:
                    outbox_empty_at, held_back = -1.0e9, False
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
        """Deliver until ``stop`` is set (or, with ``until_idle``, until nothing is due).
        Without a usable ``INTERLINK_SECRET_KEY`` it does not start (``SecretKeyMissing``)."""
        from interlink.store import check_secret_key

        check_secret_key()
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
        """Deliver while the block runs; refuses to start (``SecretKeyMissing``, before the
        block) without a usable ``INTERLINK_SECRET_KEY``."""
        from interlink.store import check_secret_key

        check_secret_key()
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


def _storable(text: str) -> str:
    # PostgreSQL's text columns refuse NUL; a receiver's answer (or an error quoting it) may have it.
    return text.replace("\x00", "\ufffd")


def _starts_with(url: ColumnElement[str], prefixes: list[str]) -> ColumnElement[bool]:
    """``url`` is one of ``prefixes`` (``scheme://host:port`` as written), or starts with one
    followed by its path or query. Comparisons of ``substr``, so SQLite and PostgreSQL both
    compare exactly (no ``LIKE`` wildcards, no case folding) and use one ``IN`` per length."""
    by_length: dict[int, list[str]] = {}
    for prefix in prefixes:
        by_length.setdefault(len(prefix) + 1, []).extend((prefix + "/", prefix + "?"))
    return or_(url.in_(prefixes), *(func.substr(url, 1, n).in_(values) for n, values in by_length.items()))
