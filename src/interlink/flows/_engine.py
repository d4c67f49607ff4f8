"""The work of a sync run, without Prefect: read pages, plan each record, write, record state.

:func:`load_batch` takes one page of source records through the planner (``_plan.decide``) to
the target and commits the id map and issues for it; :func:`run_sync` drives pages (fetched
ahead on a thread while the previous page loads) and stores the cursor after each page, once
everything before it is committed. ``interlink.flows``' Prefect flow calls the same two, so the
rules live here once.

Order of writes for a create, so that a run killed anywhere neither duplicates nor loses:

1. the id-map row is committed with ``target_id=None`` ("in flight");
2. the target is asked to create the record;
3. the row is committed with the new target id and the hashes.

Killed between 1 and 3, the next run finds the row in flight and *adopts* the target's record
by ``match`` when the target has it. The cursor is stored after step 3 of the whole page, so a
killed run re-reads that page; everything already committed is skipped by hash.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from interlink.flows._plan import MISSING, NOT_READ, Action, LinkView, TargetView, decide, parse_time, record_hash
from interlink.flows._sources import Page
from interlink.flows._targets import BatchRefused, WriteResult

if TYPE_CHECKING:
    from interlink.flows._sync import Sync

__all__ = ["Counts", "load_batch", "run_sync", "prefetch", "keep_alive"]


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
    result: WriteResult | None = None


def _subset(attributes: dict[str, Any], keys: Any) -> dict[str, Any]:
    return {key: attributes.get(key) for key in keys}


def _issue_versions(item: _Item, target: dict[str, Any] | None) -> dict[str, Any]:
    return {"source": item.record, "attributes": item.attributes, "target_id": item.target_id, "target": target}


def load_batch(sync: Sync, records: list[dict[str, Any]], database: Any | None = None) -> Counts:
    """Plan, write and commit one page of source records; returns what it did."""
    from interlink.store import (
        forget_sync_links,
        load_sync_links,
        record_sync_issue,
        resolve_sync_issues,
        save_sync_links,
    )

    database = database or sync.database()
    source, target = sync.source, sync.target
    counts = Counts(read=len(records))
    issues: list[tuple[str, str, dict[str, Any]]] = []

    # Transform; the last copy of a record in the page wins (boundary duplicates).
    items: dict[str, _Item] = {}
    for record in records:
        source_id = source.record_id(record)
        try:
            attributes = dict(sync.transform(record))
        except Exception as error:  # noqa: BLE001 - one bad record must not stop the run
            issues.append((source_id, "quarantine", {"source": record, "errors": [
                {"title": "transform failed", "detail": f"{type(error).__name__}: {error}"}]}))
            counts.quarantined += 1
            continue
        if target.match:
            attributes[target.match] = source_id
        items[source_id] = _Item(source_id, record, attributes, record_hash(attributes),
                                 parse_time(source.record_cursor(record)))

    with database.session() as session:
        links = {sid: LinkView(row.target_id, row.source_hash, row.target_hash)
                 for sid, row in load_sync_links(session, sync.name, items).items()}

    # Read the target only where a rule needs it: changed records under a rule other than
    # source_wins (is the target changed too?), and unfinished creates (adopt by match).
    changed = [i for i in items.values() if (link := links.get(i.source_id)) and link.target_id
               and link.source_hash != i.hash]
    current: dict[str, dict[str, Any]] = {}
    if sync.conflict != "source_wins" and changed:
        current = target.read([links[i.source_id].target_id for i in changed])  # type: ignore[misc]
    in_flight = [sid for sid, link in links.items() if link.target_id is None and sid in items]
    adoptable = target.find(in_flight) if in_flight else {}

    to_write: list[_Item] = []
    for item in items.values():
        link = links.get(item.source_id)
        view: Any = NOT_READ
        if link and link.target_id and sync.conflict != "source_wins" and link.source_hash != item.hash:
            attrs = current.get(link.target_id)
            view = MISSING if attrs is None else TargetView(
                record_hash(_subset(attrs, item.attributes)),
                parse_time(attrs.get(target.updated)) if target.updated else None)
        decision = decide(item.hash, link, view, conflict=sync.conflict, on_deleted=sync.on_deleted,
                          source_updated=item.source_updated)
        action = decision.action
        if action is Action.ADOPT:
            found = adoptable.get(item.source_id)
            if found:
                item.target_id = found[0]
                counts.adopted += 1
                if record_hash(_subset(found[1], item.attributes)) == item.hash:
                    item.result = WriteResult(True, 200, found[0], found[1])
                    continue
            else:
                item.create = True
            to_write.append(item)
        elif action is Action.CREATE:
            item.create = True
            to_write.append(item)
        elif action is Action.UPDATE:
            item.target_id = link.target_id  # type: ignore[union-attr]
            to_write.append(item)
        elif action is Action.SKIP:
            counts.unchanged += 1
        elif action is Action.ACCEPT:
            item.target_id = link.target_id  # type: ignore[union-attr]
            attrs = current.get(item.target_id or "", {})
            item.result = WriteResult(True, 200, item.target_id, attrs)
            counts.kept_target += 1
        elif action is Action.CONFLICT:
            item.target_id = link.target_id  # type: ignore[union-attr]
            issues.append((item.source_id, "conflict", {**_issue_versions(item, current.get(item.target_id or "")),
                                                         "reason": decision.reason}))
            counts.conflicts += 1
        elif action is Action.REPORT_DELETED:
            item.target_id = link.target_id  # type: ignore[union-attr]
            issues.append((item.source_id, "deleted", _issue_versions(item, None)))
            counts.deleted += 1

    def mark_in_flight(batch: list[_Item]) -> None:
        # Step 1: creates are marked in flight before they are sent.
        creates = [i for i in batch if i.create]
        if creates:
            with database.session() as session:
                save_sync_links(session, sync.name, [
                    {"source_id": i.source_id, "target_id": None, "source_hash": None, "target_hash": None}
                    for i in creates])

    mark_in_flight(to_write)
    _write(sync, to_write)

    # A PATCH that found the record gone: create it again or report it, as configured.
    gone = [i for i in to_write if not i.create and i.result is not None and i.result.missing]
    if gone:
        if sync.on_deleted == "recreate":
            for item in gone:
                item.create, item.target_id, item.result = True, None, None
            mark_in_flight(gone)
            _write(sync, gone)
        else:
            for item in gone:
                issues.append((item.source_id, "deleted", _issue_versions(item, None)))
                item.result = None
                counts.deleted += 1

    rows, settled, refused_creates = [], [], []
    sent = {id(item) for item in to_write}
    for item in items.values():
        result = item.result
        if result is None:
            continue
        if not result.ok:
            issues.append((item.source_id, "quarantine", {
                "source": item.record, "attributes": item.attributes, "status": result.status,
                "errors": result.errors}))
            counts.quarantined += 1
            if item.create:
                refused_creates.append(item.source_id)  # nothing was created: not in flight
            continue
        if id(item) in sent:
            if item.create:
                counts.created += 1
            else:
                counts.updated += 1
        written = result.attributes
        rows.append({
            "source_id": item.source_id,
            "target_id": result.target_id or item.target_id,
            "source_hash": item.hash,
            "target_hash": record_hash(_subset(written, item.attributes)),
            "source_version": str(source.record_cursor(item.record))[:64] if source.record_cursor(item.record) is not None else None,
            "target_version": str(written.get(target.updated))[:64] if target.updated and written.get(target.updated) else None,
        })
        settled.append(item.source_id)

    # Step 3: one transaction for the page's outcome.
    with database.session() as session:
        if rows:
            save_sync_links(session, sync.name, rows)
        if refused_creates:
            forget_sync_links(session, sync.name, refused_creates)
        if settled:
            resolve_sync_issues(session, sync.name, settled)
        for source_id, kind, detail in issues:
            record_sync_issue(session, sync.name, source_id, kind, detail)
    return counts


def _write(sync: Sync, items: list[_Item]) -> None:
    """Send creates and updates: atomic batches when the target has them, else concurrently."""
    target = sync.target
    if not items:
        return
    if target.supports_atomic():
        rest: list[_Item] = []
        for start in range(0, len(items), target.batch_size):
            chunk = items[start:start + target.batch_size]
            try:
                results = target.write_atomic([(None if i.create else i.target_id, i.attributes) for i in chunk])
            except BatchRefused:
                rest.extend(chunk)  # one bad record spoils the batch: find it record by record
                continue
            for item, result in zip(chunk, results):
                item.result = result
        items = rest
        if not items:
            return

    def one(item: _Item) -> None:
        if item.create:
            item.result = target.create(item.attributes)
        else:
            item.result = target.update(item.target_id or "", item.attributes)

    if sync.concurrency <= 1 or len(items) == 1:
        for item in items:
            one(item)
        return
    with ThreadPoolExecutor(max_workers=sync.concurrency, thread_name_prefix=f"sync-{sync.name}") as pool:
        for future in [pool.submit(one, item) for item in items]:
            future.result()


def prefetch(pages: Iterator[Page], ahead: int = 2) -> Iterator[Page]:
    """Pages read on a thread up to ``ahead`` pages in advance, while the caller loads."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        slots.put(page, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            slots.put(error)

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
    """One run: pages from the stored cursor on, each loaded and committed, then the cursor."""
    from interlink.store import get_sync_state, save_sync_counts, save_sync_cursor

    database = database or sync.database()
    load = load or load_batch
    started = dt.datetime.now(dt.UTC)
    with database.session() as session:
        state = get_sync_state(session, sync.name)
        cursor = (state.cursor or {}).get("value") if state and state.cursor else None
        save_sync_counts(session, sync.name, {}, started_at=started, finished_at=None)
    total = Counts()
    with keep_alive(sync.source.client, sync.target.client):
        for page in prefetch(sync.source.pages(cursor)):
            if page.records:
                total.add(load(sync, page.records, database))
                last = sync.source.record_cursor(page.records[-1])
                if last is not None:
                    with database.session() as session:
                        save_sync_cursor(session, sync.name, last)
            if on_page:
                on_page(total, page.total)
    with database.session() as session:
        save_sync_counts(session, sync.name, total.as_dict(), started_at=started,
                         finished_at=dt.datetime.now(dt.UTC))
    return total
