"""The work of a sync run, without Prefect: read pages, plan each record, write, record state.

:func:`load_batch` takes one page of source records through the planner (``_plan.decide``) to
the target and commits the id map and issues for it; :func:`run_sync` takes every page through
the same steps (pages fetched ahead on a thread), overlapped: one page's writes are on their
way to the target while the next is planned and marked in flight and the page before's outcome
and cursor are committed, by one writer thread in order (:func:`_load_pages`). Prefect's
``sync_records`` task calls :func:`run_sync` and its ``load_batch`` task :func:`load_batch`, so
the rules live in this module only.

Order of writes for a create, so that a run killed anywhere neither duplicates nor loses:

1. the id-map row is committed with ``target_id=None`` ("in flight");
2. the target is asked to create the record;
3. the row is committed with the new target id and the hashes.

Killed between 1 and 3, the next run finds the row in flight and *adopts* the target's record
by ``match`` when the target has it. The cursor after a page is stored in the page's step 3
transaction, so a killed run re-reads that page; everything already committed is skipped by hash.
"""

from __future__ import annotations

import collections
import contextvars
import datetime as dt
import json
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from interlink.flows._failure import failure_line
from interlink.flows._plan import (
    MISSING,
    NOT_READ,
    Action,
    Decision,
    LinkView,
    TargetView,
    decide,
    parse_time,
    record_hash,
)
from interlink.flows._sources import Page
from interlink.observe import SyncRun, observer
from interlink.flows._targets import BatchRefused, TargetError, TargetRefused, WriteResult

if TYPE_CHECKING:
    from interlink.flows._sync import Sync

__all__ = ["Counts", "load_batch", "run_sync", "prefetch", "keep_alive", "store_of", "SAME_ERROR_STOP"]

#: A batch whose writes were all refused with one and the same error, this many or more, stops the
#: run: the cause is the configuration (a required attribute the transform does not give, a
#: permission), and quarantining every record of every page would only hide it.
SAME_ERROR_STOP = 5


@dataclass
class Counts:
    """What a run did, record by record."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    adopted: int = 0
    kept_target: int = 0
    conflicts: int = 0
    quarantined: int = 0
    deleted: int = 0

    @property
    def written(self) -> int:
        return self.created + self.updated

    def add(self, other: Counts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Item:
    source_id: str
    record: dict[str, Any]
    attributes: dict[str, Any]
    hash: str
    source_updated: dt.datetime | None
    target_id: str | None = None
    create: bool = False
    refused: bool = False  # its write met a configuration error (TargetRefused): nothing was created
    result: WriteResult | None = None


def _subset(attributes: dict[str, Any], keys: Any) -> dict[str, Any]:
    return {key: attributes.get(key) for key in keys}


# Values whose JSON text two equal values always share (not float: -0.0 == 0.0; not containers).
_PLAIN = (str, int, bool, type(None))


def _written_hash(item: _Item, written: dict[str, Any]) -> str:
    """The hash of what the target holds of ``item``'s attributes. Most targets answer exactly
    what was sent: then it is the source hash, and the record is not encoded and hashed again."""
    attributes = item.attributes
    if all(type(value) in _PLAIN and type(written.get(key)) is type(value) and written.get(key) == value
           for key, value in attributes.items()):
        return item.hash
    return record_hash(_subset(written, attributes))


def _issue_versions(item: _Item, target: dict[str, Any] | None) -> dict[str, Any]:
    return {"source": item.record, "attributes": item.attributes, "target_id": item.target_id, "target": target}


# -- the store ----------------------------------------------------------------------------
_STORES: dict[str, Any] = {}
_STORES_LOCK = threading.Lock()


def store_of(sync: Sync, database: Any | None = None) -> Any:
    """The store a run of ``sync`` keeps its state in: ``database`` when given, else the one
    the sync declares. A URL (or ``None``: ``INTERLINK_DATABASE_URL``) is opened and migrated
    once per process; a ``Database`` object is used as it is."""
    chosen = database if database is not None else sync.store
    if chosen is not None and not isinstance(chosen, str):
        return chosen
    from interlink.settings import Settings
    from interlink.store import Database

    url = chosen or Settings.from_environ().database_url
    with _STORES_LOCK:
        if url not in _STORES:
            store = Database(url)
            store.migrate()
            _STORES[url] = store
        return _STORES[url]


# -- one page of records: the steps of load_batch ----------------------------------------
def _in_flight_rows(items: list[_Item]) -> list[dict[str, Any]]:
    """The id-map rows that mark these items' creates in flight (committed before sending)."""
    return [{"source_id": i.source_id, "target_id": None, "source_hash": None, "target_hash": None}
            for i in items if i.create]


@dataclass
class _Outcome:
    """What a page's writes settled, as the store keeps it; stored in one transaction with the
    cursor after the page, so the cursor is stored exactly when the page's outcome is."""

    sync: str
    issues: list[tuple[str, str, dict[str, Any]]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    refused_creates: list[str] = field(default_factory=list)

    def store(self, session: Any, cursor: Any | None) -> None:
        from interlink.store import (
            forget_sync_links,
            record_sync_issue,
            resolve_sync_issues,
            save_sync_cursor,
            save_sync_links,
        )

        if self.rows:
            save_sync_links(session, self.sync, self.rows)
        if self.refused_creates:
            forget_sync_links(session, self.sync, self.refused_creates)
        if self.settled:
            resolve_sync_issues(session, self.sync, self.settled)
        for source_id, kind, detail in self.issues:
            record_sync_issue(session, self.sync, source_id, kind, detail)
        if cursor is not None:
            save_sync_cursor(session, self.sync, cursor)


class _Batch:
    """One page of source records on its way to the target.

    :func:`load_batch` calls the steps in order; each reads what the steps before it left.
    Three transactions, in this order so a run killed anywhere neither loses nor duplicates:
    the id map is read (:meth:`read_links`), creates are marked in flight before they are sent
    (:meth:`write`), and the page's outcome is committed at once (:meth:`commit`).
    """

    def __init__(self, sync: Sync, database: Any, records: list[dict[str, Any]]) -> None:
        self.sync, self.database = sync, database
        self.source, self.target = sync.source, sync.target
        self.records = records
        self.counts = Counts(read=len(records))
        self.issues: list[tuple[str, str, dict[str, Any]]] = []  # (source id, kind, detail)
        self.items: dict[str, _Item] = {}
        self.links: dict[str, LinkView] = {}
        self.current: dict[str, dict[str, Any]] = {}  # target id -> attributes, where read
        self.adoptable: dict[str, tuple[str, dict[str, Any]]] = {}  # source id -> (target id, attributes)
        self.to_write: list[_Item] = []

    def transform(self) -> None:
        """Source records → attributes to write; the last copy of a record in the page wins
        (boundary duplicates). A transform that raises quarantines its record."""
        match = self.target.match
        # Only the ``newest`` rule compares times: the others do not parse every record's.
        timed = self.sync.conflict == "newest"
        for record in self.records:
            source_id = self.source.record_id(record)
            try:
                attributes = dict(self.sync.transform(record))
            except Exception as error:  # noqa: BLE001 - one bad record must not stop the run
                self._quarantine(source_id, {"source": record, "errors": [
                    {"title": "transform failed", "detail": f"{type(error).__name__}: {error}"}]})
                continue
            if match:
                attributes[match] = source_id
            self.items[source_id] = _Item(source_id, record, attributes, record_hash(attributes),
                                          parse_time(self.source.record_cursor(record)) if timed else None)

    def read_links(self) -> None:
        """Transaction 1: the id-map rows of these records."""
        from interlink.store import load_sync_link_states

        with self.database.session() as session:
            self.links = {sid: LinkView(*row)
                          for sid, row in load_sync_link_states(session, self.sync.name, self.items).items()}

    def read_target(self) -> None:
        """The target's state, only where a rule needs it: changed records under a rule other
        than source_wins (is the target changed too?), and unfinished creates (adopt by match)."""
        links = self.links
        if self.sync.conflict != "source_wins":
            changed = [link.target_id for sid, item in self.items.items()
                       if (link := links.get(sid)) and link.target_id and link.source_hash != item.hash]
            if changed:
                self.current = self.target.read(changed)
        in_flight = [sid for sid, link in links.items() if link.target_id is None and sid in self.items]
        if in_flight:
            self.adoptable = self.target.find(in_flight)

    def plan(self) -> None:
        """One decision per record (``_plan.decide``), acted on by the method for its action."""
        sync = self.sync
        for item in self.items.values():
            link = self.links.get(item.source_id)
            decision = decide(item.hash, link, self._target_view(item, link), conflict=sync.conflict,
                              on_deleted=sync.on_deleted, source_updated=item.source_updated)
            if link is not None:
                item.target_id = link.target_id
            self._ON_ACTION[decision.action](self, item, decision)

    def _target_view(self, item: _Item, link: LinkView | None) -> Any:
        if not (link and link.target_id and self.sync.conflict != "source_wins" and link.source_hash != item.hash):
            return NOT_READ
        attrs = self.current.get(link.target_id)
        if attrs is None:
            return MISSING
        updated = self.target.updated
        return TargetView(record_hash(_subset(attrs, item.attributes)),
                          parse_time(attrs.get(updated)) if updated else None)

    # What each action does with its record: queue a write, settle it, or record an issue.
    def _create(self, item: _Item, decision: Decision) -> None:
        item.create, item.target_id = True, None
        self.to_write.append(item)

    def _update(self, item: _Item, decision: Decision) -> None:
        self.to_write.append(item)

    def _adopt(self, item: _Item, decision: Decision) -> None:
        found = self.adoptable.get(item.source_id)
        if not found:
            self._create(item, decision)
            return
        item.target_id = found[0]
        self.counts.adopted += 1
        if record_hash(_subset(found[1], item.attributes)) == item.hash:
            item.result = WriteResult(True, 200, found[0], found[1])  # already as it should be
        else:
            self.to_write.append(item)

    def _skip(self, item: _Item, decision: Decision) -> None:
        self.counts.unchanged += 1

    def _accept(self, item: _Item, decision: Decision) -> None:
        item.result = WriteResult(True, 200, item.target_id, self.current.get(item.target_id or "", {}))
        self.counts.kept_target += 1

    def _conflict(self, item: _Item, decision: Decision) -> None:
        self.issues.append((item.source_id, "conflict", {
            **_issue_versions(item, self.current.get(item.target_id or "")), "reason": decision.reason}))
        self.counts.conflicts += 1

    def _report_deleted(self, item: _Item, decision: Decision) -> None:
        self.issues.append((item.source_id, "deleted", _issue_versions(item, None)))
        self.counts.deleted += 1

    _ON_ACTION: dict[Action, Callable[[_Batch, _Item, Decision], None]] = {
        Action.CREATE: _create, Action.UPDATE: _update, Action.ADOPT: _adopt, Action.SKIP: _skip,
        Action.ACCEPT: _accept, Action.CONFLICT: _conflict, Action.REPORT_DELETED: _report_deleted,
    }

    def write(self, items: list[_Item]) -> None:
        """Transaction 2, then the target: creates are marked in flight before they are sent."""
        marks = _in_flight_rows(items)
        if marks:
            from interlink.store import save_sync_links

            with self.database.session() as session:
                save_sync_links(session, self.sync.name, marks)
        try:
            _write(self.sync, items)
        except TargetRefused:
            self.forget_refused()
            raise

    def forget_refused(self) -> None:
        """The target refused the configuration and created nothing for these: not in flight."""
        refused = [i.source_id for i in self.to_write if i.create and i.refused]
        if refused:
            from interlink.store import forget_sync_links

            with self.database.session() as session:
                forget_sync_links(session, self.sync.name, refused)

    def handle_gone(self) -> None:
        """A PATCH that found the record gone: create it again or report it, as configured."""
        gone = [i for i in self.to_write if not i.create and i.result is not None and i.result.missing]
        if not gone:
            return
        if self.sync.on_deleted == "recreate":
            for item in gone:
                item.create, item.target_id, item.result = True, None, None
            self.write(gone)
            return
        for item in gone:
            self.issues.append((item.source_id, "deleted", _issue_versions(item, None)))
            item.result = None
            self.counts.deleted += 1

    def stop_on_one_error_for_all(self) -> None:
        """Every write of the batch refused with the same error: stop the run (TargetError)
        instead of quarantining them all; refused creates are no longer in flight."""
        results = [item.result for item in self.to_write if item.result is not None]
        refused = [r for r in results if not r.ok and not r.uncertain]
        if len(refused) < SAME_ERROR_STOP or len(refused) != len(results):
            return
        kinds = {(r.status, json.dumps(r.errors, sort_keys=True, default=str)) for r in refused}
        if len(kinds) != 1:
            return
        from interlink.store import forget_sync_links

        creates = [i.source_id for i in self.to_write if i.create]
        if creates:
            with self.database.session() as session:
                forget_sync_links(session, self.sync.name, creates)
        first = refused[0]
        raise TargetError(f"{self.sync.name}: the target refused all {len(refused)} records of a batch with the same "
                          f"error (HTTP {first.status}: {first.errors}); that is the configuration or the transform, "
                          "not the records: the run stops with nothing quarantined")

    def commit(self, cursor: Any | None = None) -> None:
        """Transaction 3: the page's outcome (:meth:`settle`), committed at once."""
        outcome = self.settle()
        with self.database.session() as session:
            outcome.store(session, cursor)

    def settle(self) -> _Outcome:
        """The page's outcome — id-map rows of what was written, refused creates to forget,
        issues of settled records to close, new issues — counted, ready to store."""
        outcome = _Outcome(self.sync.name, self.issues)
        sent = {id(item) for item in self.to_write}
        for item in self.items.values():
            result = item.result
            if result is None:
                continue
            if not result.ok:
                self._refused(item, result)
                # Nothing was created: not in flight. An uncertain create stays in flight: the
                # target said it acted, so the next run adopts the record by match.
                if item.create and not result.uncertain:
                    outcome.refused_creates.append(item.source_id)
                continue
            if id(item) in sent:
                if item.create:
                    self.counts.created += 1
                else:
                    self.counts.updated += 1
            outcome.rows.append(self._link_row(item, result))
            outcome.settled.append(item.source_id)
        return outcome

    def _link_row(self, item: _Item, result: WriteResult) -> dict[str, Any]:
        written, updated = result.attributes, self.target.updated
        cursor = self.source.record_cursor(item.record)
        return {
            "source_id": item.source_id,
            "target_id": result.target_id or item.target_id,
            "source_hash": item.hash,
            "target_hash": _written_hash(item, written),
            "source_version": str(cursor)[:64] if cursor is not None else None,
            "target_version": str(written.get(updated))[:64] if updated and written.get(updated) else None,
        }

    def _refused(self, item: _Item, result: WriteResult) -> None:
        detail: dict[str, Any] = {"source": item.record, "attributes": item.attributes, "status": result.status,
                                  "errors": result.errors}
        if result.answer is not None:
            detail["answer"] = result.answer
        self._quarantine(item.source_id, detail)

    def _quarantine(self, source_id: str, detail: dict[str, Any]) -> None:
        self.issues.append((source_id, "quarantine", detail))
        self.counts.quarantined += 1


def load_batch(sync: Sync, records: list[dict[str, Any]], database: Any | None = None,
               cursor: Any | None = None) -> Counts:
    """Plan, write and commit one page of source records; returns what it did. ``cursor``, when
    given, is stored with the page's outcome (the records before it are all in this page or
    already committed)."""
    batch = _Batch(sync, store_of(sync, database), records)
    batch.transform()
    batch.read_links()
    batch.read_target()
    batch.plan()
    batch.write(batch.to_write)
    batch.handle_gone()
    batch.stop_on_one_error_for_all()
    batch.commit(cursor)
    return batch.counts


def _write(sync: Sync, items: list[_Item]) -> None:
    """Send creates and updates: atomic batches when the target has them, else concurrently."""
    target = sync.target
    if not items:
        return
    try:
        atomic = target.supports_atomic()
    except TargetRefused:
        for item in items:
            item.refused = True
        raise
    if atomic:
        rest: list[_Item] = []
        for start in range(0, len(items), target.batch_size):
            chunk = items[start:start + target.batch_size]
            try:
                results = target.write_atomic([(None if i.create else i.target_id, i.attributes) for i in chunk])
            except TargetRefused:
                for item in chunk:
                    item.refused = True
                raise
            except BatchRefused:
                rest.extend(chunk)  # one bad record spoils the batch: find it record by record
                continue
            for item, result in zip(chunk, results):
                item.result = result
        items = rest
        if not items:
            return

    def one(item: _Item) -> None:
        try:
            if item.create:
                item.result = target.create(item.attributes)
            else:
                item.result = target.update(item.target_id or "", item.attributes)
        except TargetRefused:
            item.refused = True
            raise

    if sync.concurrency <= 1 or len(items) == 1:
        for item in items:
            one(item)
        return
    with ThreadPoolExecutor(max_workers=sync.concurrency, thread_name_prefix=f"sync-{sync.name}") as pool:
        for future in [pool.submit(one, item) for item in items]:
            future.result()


StoreJob = Callable[[Any], None]


class _StoreWriter:
    """A run's writes to the store, on one thread, in the order they were given (from one
    thread: the run's).

    :meth:`later` keeps a write back until the next :meth:`write` (or :meth:`flush`), and
    writes given while a transaction commits wait for the next one: they go together, in one
    transaction (one commit, one sync to disk for a page's outcome and the next in-flight
    marks). A write that fails fails every write after it: nothing, a cursor least of all, is
    stored after a write that was not.

    A store whose every session shares one connection (in-memory SQLite) is written on the
    run's own thread, as each write is given: two threads' transactions on one connection
    would commit or roll back each other's statements."""

    def __init__(self, database: Any, name: str) -> None:
        self.database = database
        self._jobs: queue.SimpleQueue[list[tuple[StoreJob, Future[None]]] | None] = queue.SimpleQueue()
        self._held: list[tuple[StoreJob, Future[None]]] = []
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None
        if not _one_connection(database):
            self._thread = threading.Thread(target=self._work, name=f"sync-{name}-store", daemon=True)
            self._thread.start()

    def _queue(self, group: list[tuple[StoreJob, Future[None]]]) -> None:
        if self._thread is None:
            self._commit(group)
        else:
            self._jobs.put(group)

    def later(self, job: StoreJob) -> Future[None]:
        """Hold ``job(session)`` back until the next write; done once that has committed. What
        was held back before is queued now: one page's outcome waits at most one page."""
        if self._held:
            self._queue(self._held)
            self._held = []
        done: Future[None] = Future()
        self._held.append((job, done))
        return done

    def write(self, job: StoreJob) -> Future[None]:
        """Queue ``job(session)`` after the writes held back; done once its transaction has committed."""
        done: Future[None] = Future()
        group, self._held = [*self._held, (job, done)], []
        self._queue(group)
        return done

    def flush(self) -> None:
        """Wait until everything given so far is committed; raises the first failed write's error."""
        self.write(lambda session: None).result()

    def raise_failure(self) -> None:
        """Raise the failed write's error if one has failed by now (without waiting for any)."""
        if self._failed is not None:
            raise self._failed

    def close(self) -> None:
        """Commit what is held back and queued, then stop the thread (again: nothing)."""
        if self._thread is not None and not self._thread.is_alive():
            return
        if self._held:
            self.write(lambda session: None)
        if self._thread is None:
            return
        self._jobs.put(None)
        self._thread.join()

    def _work(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group, last = first, False
            while not last:
                try:
                    queued = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    last = True
                else:
                    group += queued
            self._commit(group)
            if last:
                return

    def _session(self) -> Any:
        # A plain session: these writes hand no objects out (Database.session() also loads
        # what detached users, roles and keys are read through, a cost a page here).
        maker = getattr(self.database, "sessionmaker", None)
        return maker.begin() if maker is not None else self.database.session()

    def _commit(self, group: list[tuple[StoreJob, Future[None]]]) -> None:
        if self._failed is None:
            try:
                with self._session() as session:
                    for job, _ in group:
                        job(session)
            except BaseException as error:  # noqa: BLE001 - handed to whoever waits on a write
                self._failed = error
        for _, done in group:
            if self._failed is None:
                done.set_result(None)
            else:
                done.set_exception(self._failed)


def _one_connection(database: Any) -> bool:
    """Whether every session of ``database`` gets the one same connection (or, worse, one per
    thread: another thread would not see the run's in-memory tables)."""
    from sqlalchemy.pool import SingletonThreadPool, StaticPool

    pool = getattr(getattr(database, "engine", None), "pool", None)
    return isinstance(pool, (StaticPool, SingletonThreadPool))


def prefetch(pages: Iterator[Page], ahead: int = 2) -> Generator[Page, None, None]:
    """Pages read on a thread up to ``ahead`` pages in advance, while the caller loads."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    done = object()
    stop = threading.Event()

    def offer(item: Any) -> bool:
        """Put ``item`` in a slot unless the consumer has stopped (then no slot may ever free)."""
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not offer(page):
                    return
            offer(done)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            offer(error)

    thread = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


@contextmanager
def keep_alive(*clients: Any) -> Iterator[None]:
    """Keep connections open for the run (``interlink.http`` clients used without ``with``
    close them after each response), and close the pools afterwards if that was the setting."""
    from interlink.http import AsyncRetryTransport, RetryTransport

    changed = []
    for client in clients:
        transport = getattr(client, "_interlink_transport", None)
        if isinstance(transport, (RetryTransport, AsyncRetryTransport)) and not transport.keep_alive:
            transport.keep_alive = True
            changed.append(transport)
    try:
        yield
    finally:
        for transport in changed:
            transport.keep_alive = False
            if isinstance(transport, RetryTransport):
                transport.close()


ProgressHook = Callable[[Counts, int | None], None]


def run_sync(sync: Sync, database: Any | None = None, on_page: ProgressHook | None = None,
             load: Callable[[Sync, list[dict[str, Any]], Any], Counts] | None = None) -> Counts:
    """One run: pages from the stored cursor on, each loaded and committed, then the cursor.
    Reported to the observer as it goes (with tracing on: a span, its pages and batches events)."""
    with observer().sync_run(sync.name) as report:
        return _run_sync(sync, database, on_page, load, report)


def _report_batch(report: SyncRun, records: int, counts: Counts) -> None:
    """A page's events: what was read and written, and the records set aside (counts only:
    record ids may be personal data)."""
    report.event("page_read", {"records": records})
    report.event("batch_written", {"created": counts.created, "updated": counts.updated,
                                   "unchanged": counts.unchanged, "adopted": counts.adopted})
    if counts.conflicts:
        report.event("conflicts", {"records": counts.conflicts})
    if counts.quarantined:
        report.event("quarantined", {"records": counts.quarantined})


@dataclass
class _Planned:
    """A page planned, its creates being committed in flight: the next to be sent."""

    batch: _Batch
    marks: list[dict[str, Any]]
    marked: Future[None] | None  # done once the marks are committed
    cursor: Any
    total: int | None


@dataclass
class _Sending:
    """A page whose writes are on their way to the target."""

    batch: _Batch
    writes: Future[None]
    cursor: Any
    total: int | None


def _load_pages(sync: Sync, writer: _StoreWriter, pages: Iterator[Page], total: Counts, report: SyncRun,
                on_page: ProgressHook | None) -> None:
    """The steps of :func:`load_batch` for every page, overlapped, on three threads besides the
    one reading pages ahead: while page N's writes are on their way to the target (the sender),
    page N+2 is planned (this thread) and its creates committed in flight, together with the
    outcome of page N-1 (the one writer to the store). Page N+1, planned and marked a page
    earlier, goes next: its marks have had a whole page's time to reach the disk.

    The order of the store's writes is :func:`load_batch`'s: a page's creates are committed in
    flight before a byte of it is sent, its outcome and the cursor after it once the target
    has answered, pages in order. A record read again before its earlier page is settled (a
    source that moved it to a later page) waits until that page's outcome is committed."""
    database = writer.database
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sync-{sync.name}-send")
    sending: _Sending | None = None
    waiting: collections.deque[_Planned] = collections.deque()  # planned and marked, not sent
    unsettled: list[tuple[Future[None], set[str]]] = []  # (outcome committed, its source ids)

    def answered(page: _Sending) -> None:
        """Wait for the target's answers to the page; what is not a plain success is dealt
        with now, before another page is sent (a run may stop on it)."""
        batch = page.batch
        try:
            page.writes.result()
        except TargetRefused:
            writer.flush()
            batch.forget_refused()
            raise
        if not all(item.result is not None and item.result.ok for item in batch.to_write):
            writer.flush()  # what follows may write to the store on its own: after the queued writes
            batch.handle_gone()
            batch.stop_on_one_error_for_all()

    def settle(page: _Sending) -> None:
        batch = page.batch
        outcome = batch.settle()
        # Committed with the next page's in-flight marks: one transaction a page.
        committed = writer.later(lambda session: outcome.store(session, page.cursor))
        unsettled[:] = [(done, ids) for done, ids in unsettled if not done.done()]
        unsettled.append((committed, set(batch.items)))
        _report_batch(report, len(batch.records), batch.counts)
        total.add(batch.counts)
        if on_page:
            on_page(total, page.total)

    def finish(page: _Sending) -> None:
        answered(page)
        settle(page)

    def advance() -> None:
        """Take the answers to the page on its way, send the oldest page waiting, then settle
        the answered page (while the next one is on its way)."""
        nonlocal sending
        previous, sending = sending, None
        if previous is not None:
            answered(previous)
        if waiting:
            ready = waiting[0]
            try:
                # A store write already failed: no more pages go out (a page without creates
                # waits on no write of its own, and would be sent with nothing recorded).
                writer.raise_failure()
                if ready.marked is not None:
                    ready.marked.result()  # in flight on disk before a byte of the page is sent
            except BaseException:
                if previous is not None:
                    settle(previous)  # answered: its outcome is kept
                raise
            # Out of ``waiting`` before it is sent: stopped anywhere from here on (an interrupt
            # between two lines), its creates stay in flight rather than being forgotten as unsent.
            waiting.popleft()
            # In the run's context (its trace: a token request the writes make is one of its spans).
            writes = sender.submit(contextvars.copy_context().run, _write, sync, ready.batch.to_write)
            sending = _Sending(ready.batch, writes, ready.cursor, ready.total)
        if previous is not None:
            settle(previous)

    def unsettled_ids(batch: _Batch) -> bool:
        ids = batch.items.keys()
        return bool(sending is not None and ids & sending.batch.items.keys()
                    or any(ids & planned.batch.items.keys() for planned in waiting)
                    or any(ids & settling for done, settling in unsettled if not done.done()))

    try:
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except Exception:
                # The source failed: the pages read before it are loaded, then the run stops.
                while sending is not None or waiting:
                    advance()
                raise
            if not page.records:
                if on_page:
                    on_page(total, page.total)
                continue
            batch = _Batch(sync, database, page.records)
            batch.transform()
            if unsettled_ids(batch):
                while sending is not None or waiting:
                    advance()
                writer.flush()
            batch.read_links()
            batch.read_target()
            batch.plan()
            marks = _in_flight_rows(batch.to_write)
            marked = writer.write(_saving_links(sync.name, marks)) if marks else None
            waiting.append(_Planned(batch, marks, marked, sync.source.record_cursor(page.records[-1]), page.total))
            if len(waiting) > 1:
                advance()
        while sending is not None or waiting:
            advance()
    finally:
        # Stopped: the page on its way finishes and its outcome is kept; pages marked in flight
        # but never sent are not in flight.
        if sending is not None:
            try:
                finish(sending)
            except BaseException:  # noqa: BLE001 - the error that stopped the run is the one raised
                pass
        for planned in waiting:
            if planned.marks:
                _forget_unsent(writer, sync, planned.marks)
        sender.shutdown(wait=True)


def _saving_links(name: str, rows: list[dict[str, Any]]) -> StoreJob:
    def save(session: Any) -> None:
        from interlink.store import save_sync_links

        save_sync_links(session, name, rows)

    return save


def _forget_unsent(writer: _StoreWriter, sync: Sync, marks: list[dict[str, Any]]) -> None:
    from interlink.store import forget_sync_links

    ids = [row["source_id"] for row in marks]
    try:
        writer.write(lambda session: forget_sync_links(session, sync.name, ids)).result()
    except BaseException:  # noqa: BLE001 - left in flight, the next run adopts or creates them
        pass


def _run_sync(sync: Sync, database: Any | None, on_page: ProgressHook | None,
              load: Callable[[Sync, list[dict[str, Any]], Any], Counts] | None, report: SyncRun) -> Counts:
    from interlink.store import get_sync_state, save_sync_counts, save_sync_cursor

    database = store_of(sync, database)
    started = dt.datetime.now(dt.UTC)
    with database.session() as session:
        state = get_sync_state(session, sync.name)
        cursor = (state.cursor or {}).get("value") if state and state.cursor else None

    def record(counts: dict[str, Any], finished: bool) -> StoreJob:
        finished_at = dt.datetime.now(dt.UTC) if finished else None
        return lambda session: save_sync_counts(session, sync.name, counts, started_at=started,
                                                finished_at=finished_at)

    new_run = getattr(sync.target, "new_run", None)
    if callable(new_run):
        new_run()  # a target that learns about its peer (JsonApiTarget's filter probes) starts afresh
    # The run's start is recorded with its first writes (one commit fewer a run). The writer's
    # thread starts just before the block whose end closes it, so nothing can leave it waiting.
    writer = _StoreWriter(database, sync.name)
    writer.later(record({}, finished=False))
    total = Counts()
    try:
        # Closed however the run ends, so the thread reading ahead stops now, not when the
        # generator is collected (an error's traceback keeps it, and its thread, alive).
        with keep_alive(sync.source.client, sync.target.client), closing(prefetch(sync.source.pages(cursor))) as pages:
            if load is None:
                _load_pages(sync, writer, pages, total, report, on_page)
            else:
                writer.flush()
                for page in pages:
                    if page.records:
                        counts = load(sync, page.records, database)
                        last = sync.source.record_cursor(page.records[-1])
                        if last is not None:
                            with database.session() as session:
                                save_sync_cursor(session, sync.name, last)
                        _report_batch(report, len(page.records), counts)
                        total.add(counts)
                    if on_page:
                        on_page(total, page.total)
        writer.write(record(total.as_dict(), finished=True)).result()
    except Exception as error:
        # The run failed: recorded as finished with the reason, so `interlink sync status`
        # shows it failed rather than still running (after what the writer still had).
        writer.close()
        with database.session() as session:
            save_sync_counts(session, sync.name, {**total.as_dict(), "failed": failure_line(error)[:500]},
                             started_at=started, finished_at=dt.datetime.now(dt.UTC))
        report.finished(total.as_dict(), error)
        raise
    finally:
        writer.close()
    report.finished(total.as_dict())
    return total
