"""A run's overlapped pages (interlink.flows' _load_pages) stopped at its awkward moments: a
record reaches the target once however the run stops, and a failed store write stops the run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from test_flows import DictTarget

from interlink.flows import Page, Sync, TargetError, run_sync, store_of
from interlink.flows import _engine

PAGE, PAGES = 3, 8


class PagedSource:
    """Records ``1..PAGE*PAGES`` in pages of ``PAGE``, read from a cursor on."""

    client = None

    def __init__(self) -> None:
        self.names = {key: f"name {key}" for key in range(1, PAGE * PAGES + 1)}

    def pages(self, since: Any) -> Any:
        keys = [key for key in sorted(self.names) if since is None or key > since]
        for start in range(0, len(keys), PAGE):
            yield Page([{"key": key, "name": self.names[key]} for key in keys[start:start + PAGE]], len(keys))

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["key"])

    def record_cursor(self, record: dict[str, Any]) -> Any:
        return record["key"]


class CountingTarget(DictTarget):
    """A target in a dict that counts every create and update it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.created: Counter[str] = Counter()
        self.updates = 0
        self.fail_create: str | None = None
        self.update_pause = 0.0

    def create(self, attributes: dict[str, Any]) -> Any:
        if attributes["key"] == self.fail_create:
            raise TargetError("the target went away")
        self.created[attributes["key"]] += 1
        return super().create(attributes)

    def update(self, target_id: str, attributes: dict[str, Any]) -> Any:
        import time

        time.sleep(self.update_pause)
        self.updates += 1
        return super().update(target_id, attributes)


def make_sync(tmp_path: Any) -> Sync:
    return Sync("paged", source=PagedSource(), transform=lambda r: {"name": r["name"]}, target=CountingTarget(),
                database=f"sqlite:///{tmp_path / 'state.db'}", register=False, concurrency=1)


def test_a_target_error_in_the_middle_of_a_run_leaves_nothing_to_create_twice(tmp_path: Any) -> None:
    sync = make_sync(tmp_path)
    target: CountingTarget = sync.target  # type: ignore[assignment]
    target.fail_create = "11"  # the middle of page 4: 10 is created, 11 fails, 12 is not sent
    with pytest.raises(TargetError):
        run_sync(sync)
    assert set(target.created) == {str(key) for key in range(1, 11)}
    target.fail_create = None
    counts = run_sync(sync)
    assert counts.adopted == 1  # 10: in flight when the run stopped, found at the target
    assert target.created == Counter({str(key): 1 for key in range(1, PAGE * PAGES + 1)})


def test_a_run_interrupted_just_after_a_page_is_sent_keeps_its_creates_in_flight(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sync = make_sync(tmp_path)
    target: CountingTarget = sync.target  # type: ignore[assignment]
    sent = []

    def interrupted(*args: Any) -> Any:
        sent.append(args)
        if len(sent) == 2:  # the second page has gone to the target, the run has not noted it
            raise KeyboardInterrupt
        return _Sending(*args)

    _Sending = _engine._Sending
    monkeypatch.setattr(_engine, "_Sending", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sync(sync)
    monkeypatch.undo()
    assert set(target.created) == {str(key) for key in range(1, 2 * PAGE + 1)}
    run_sync(sync)
    assert target.created == Counter({str(key): 1 for key in range(1, PAGE * PAGES + 1)})


def test_a_store_write_that_fails_stops_the_run_before_the_remaining_pages_are_sent(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import interlink.store

    sync = make_sync(tmp_path)
    target: CountingTarget = sync.target  # type: ignore[assignment]
    run_sync(sync)
    source: PagedSource = sync.source  # type: ignore[assignment]
    source.names = {key: f"renamed {key}" for key in source.names}  # every page only updates
    with store_of(sync).session() as session:
        interlink.store.save_sync_cursor(session, "paged", None)

    def broken(*args: Any) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(interlink.store, "save_sync_links", broken)
    target.update_pause = 0.05  # a page takes 150 ms to send; the failed commit takes a few
    with pytest.raises(RuntimeError, match="the disk is full"):
        run_sync(sync)
    assert target.updates <= PAGE * (PAGES - 2)


def test_a_target_that_fails_to_start_a_run_leaves_no_store_thread(tmp_path: Any) -> None:
    import threading

    sync = make_sync(tmp_path)

    def new_run() -> None:
        raise TargetError("no such target")

    sync.target.new_run = new_run  # type: ignore[attr-defined]
    with pytest.raises(TargetError):
        run_sync(sync)
    assert not [thread for thread in threading.enumerate() if thread.name == "sync-paged-store"]



def _ended(threads: set[Any]) -> bool:
    """Whether these threads end within two seconds."""
    import time

    deadline = time.monotonic() + 2
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(t.is_alive() for t in threads)


def _reading_ahead(before: set[Any]) -> set[Any]:
    import threading

    return {t for t in threading.enumerate() if t.name == "sync-prefetch" and t not in before}


def test_a_run_that_fails_stops_reading_ahead(tmp_path: Any) -> None:
    import threading

    sync = make_sync(tmp_path)
    target: CountingTarget = sync.target  # type: ignore[assignment]
    target.fail_create = "4"  # page 2 of 8: the source has pages left to read ahead
    before = set(threading.enumerate())
    with pytest.raises(TargetError) as stopped:
        run_sync(sync)
    assert stopped.value.__traceback__ is not None  # the run's frames, the generator among them, still held
    assert _ended(_reading_ahead(before))


def test_reading_ahead_ends_when_stopped_with_the_last_page_read() -> None:
    import threading
    import time

    before = set(threading.enumerate())
    pages = _engine.prefetch(iter([Page([], 0), Page([], 0)]), ahead=1)
    next(pages)
    time.sleep(0.3)  # the second page fills the one slot; the end of the pages waits for another
    pages.close()
    assert _ended(_reading_ahead(before))


class FailingSource(PagedSource):
    """Three pages, then the source fails."""

    def pages(self, since: Any) -> Any:
        for number, page in enumerate(super().pages(since)):
            if number == 3:
                raise OSError("the source went away")
            yield page


def test_the_pages_read_before_a_source_error_are_loaded_and_their_cursor_stored(tmp_path: Any) -> None:
    from interlink.store import get_sync_state

    sync = make_sync(tmp_path)
    sync.source = FailingSource()
    target: CountingTarget = sync.target  # type: ignore[assignment]
    with pytest.raises(OSError, match="the source went away"):
        run_sync(sync)
    assert target.created == Counter({str(key): 1 for key in range(1, 3 * PAGE + 1)})
    with store_of(sync).session() as session:
        state = get_sync_state(session, "paged")
        assert state is not None and state.cursor == {"value": 3 * PAGE} and "the source went away" in (state.last_counts or {})["failed"]


def test_runs_on_an_in_memory_store_write_it_from_the_run_thread() -> None:
    # Every session of an in-memory SQLite store shares one connection: a second thread's
    # transaction on it commits or rolls back the run's (sqlite3: "cannot commit - no
    # transaction is active"), so runs came apart every few.
    import threading

    from interlink.store import get_sync_state, load_sync_links

    writers: set[str] = set()

    def page_done(total: Any, pages: Any) -> None:
        writers.update(t.name for t in threading.enumerate() if t.name.endswith("-store"))

    for number in range(4):
        source = PagedSource()
        source.names = {key: f"name {key}" for key in range(1, 900 + 1)}
        sync = Sync(f"memory-{number}", source=source, transform=lambda r: {"name": r["name"]},
                    target=CountingTarget(), database="sqlite://", register=False, concurrency=1)
        assert run_sync(sync, on_page=page_done).created == 900
        assert not writers  # no thread of its own writes the store (deterministic, unlike the race)
        with store_of(sync).session() as session:
            links = load_sync_links(session, sync.name, [str(key) for key in range(1, 900 + 1)])
            assert len(links) == 900 and all(link.target_id for link in links.values())
            state = get_sync_state(session, sync.name)
            assert state is not None and state.cursor == {"value": 900}
