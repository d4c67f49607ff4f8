"""Callback receivers we do not control: a receiver that drips its answer is cut off at the
delivery deadline and retried on the schedule, its answer is read no further than the excerpt
kept of it, and N dripping receivers (N at least the worker's concurrency) delay a healthy
receiver's callback by about one attempt's deadline, no more.

Real misbehaving servers on 127.0.0.1 (tests/hostile_peers.py) and a real receiver under
uvicorn; the worker runs in-process, as `interlink serve` runs it. Every wait is bounded, so a
worker that hangs fails the test instead of hanging it. Runs on SQLite and, when
INTERLINK_TEST_POSTGRES_URL is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from callbacks_peers import Receiver
from hostile_peers import answering, dripping_body, dripping_headers, gzip_bomb, huge_body, peak_rss_of
from interlink.callbacks import SCHEDULE, AddressPolicy, DeliveryAttempt, DeliveryWorker, Outbox, OutboxMessage

LOOPBACK = "127.0.0.0/8"
# The deadline the tests give an attempt, and what may be added to it: the record written after
# it, a claim, and a busy machine (two cores shared with other test runs).
DEADLINE = 2.0
SLACK = 1.5


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", raising=False)


def worker(database: Any, **options: Any) -> DeliveryWorker:
    options.setdefault("timeout", DEADLINE)
    return DeliveryWorker(database, policy=AddressPolicy(LOOPBACK), **options)


def run_until_idle(delivery: DeliveryWorker, seconds: float) -> float:
    """Run the worker until nothing is due; its duration. A worker still busy after
    ``seconds`` fails the test (it would otherwise hang it)."""
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(delivery.run(until_idle=True), seconds))
    except asyncio.TimeoutError:
        pytest.fail(f"the worker was still delivering after {seconds:g} s")
    return time.monotonic() - started


def rows(database: Any) -> list[OutboxMessage]:
    with database.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).unique())


def attempts(database: Any, message: OutboxMessage) -> list[DeliveryAttempt]:
    with database.session() as session:
        return list(session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == message.id).order_by(DeliveryAttempt.id)))


def aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes (stored as UTC).
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def assert_timed_out_and_retried(database: Any, message: OutboxMessage) -> None:
    """One attempt recorded as timed out at the deadline; the message pending, unclaimed, and
    its next attempt on the schedule (the second slot: 5 s after the first)."""
    [attempt] = attempts(database, message)
    assert attempt.status is None and attempt.error.startswith("timed out"), attempt.error
    assert DEADLINE * 1000 * 0.9 <= attempt.latency_ms < (DEADLINE + SLACK) * 1000
    assert message.state == "pending" and message.attempts == 1, message
    assert message.last_error.startswith("timed out") and message.locked_until is None
    delay = aware(message.next_attempt_at) - aware(attempt.attempted_at)
    assert SCHEDULE[1] <= delay < SCHEDULE[1] + dt.timedelta(seconds=DEADLINE + SLACK)


# -- one receiver: the deadline and the excerpt ---------------------------------------------


@pytest.mark.parametrize("peer", [dripping_headers, dripping_body], ids=["dripping-headers", "dripping-body"])
def test_dripping_receiver_is_cut_off_at_the_deadline_and_retried(database: Any, peer: Any) -> None:
    """One byte every half second never trips a per-read timeout; the attempt still ends at the
    delivery deadline, recorded as timed out, and the message waits for its next attempt."""
    with peer(0.5) as url:
        Outbox(database, allowed_networks=LOOPBACK).send(f"{url}hook", {"paid": True})
        took = run_until_idle(worker(database), DEADLINE + 6)
        assert len(url.requests_seen) == 1
    assert took < DEADLINE + SLACK
    [message] = rows(database)
    assert_timed_out_and_retried(database, message)


def test_default_delivery_deadline_is_fifteen_seconds(database: Any) -> None:
    assert DeliveryWorker(database, policy=AddressPolicy(LOOPBACK)).timeout == 15.0


def test_a_huge_answer_is_read_no_further_than_the_excerpt(database: Any) -> None:
    """A 2xx is a delivery whatever size the answer says it has: only the excerpt is read."""
    with huge_body(1 << 30) as url:  # announced with its Content-Length
        Outbox(database, allowed_networks=LOOPBACK).send(f"{url}hook", {"paid": True})
        took = run_until_idle(worker(database), 10)
    assert took < 3
    [message] = rows(database)
    [attempt] = attempts(database, message)
    assert message.state == "delivered" and attempt.status == 200
    assert set(attempt.response_excerpt) <= {" ", "…"} and len(attempt.response_excerpt) == 500


def test_nul_bytes_in_an_answer_do_not_stop_the_recording(database: Any) -> None:
    """PostgreSQL's text columns refuse NUL: an excerpt must be stored without them, or the
    worker would retry writing the attempt forever and deliver nothing else."""
    with answering(200, b'{"ok": true}\x00\x00 and more') as url:
        Outbox(database, allowed_networks=LOOPBACK).send(f"{url}hook", {"paid": True})
        run_until_idle(worker(database), 10)
    [message] = rows(database)
    [attempt] = attempts(database, message)
    assert message.state == "delivered" and attempt.status == 200
    assert attempt.response_excerpt.startswith('{"ok": true}') and "\x00" not in attempt.response_excerpt
    assert "and more" in attempt.response_excerpt


WORKER_IN_A_CHILD = """
import asyncio
from interlink.callbacks import AddressPolicy, DeliveryWorker
worker = DeliveryWorker({url!r}, policy=AddressPolicy("127.0.0.0/8"), timeout=10)
asyncio.run(worker.run(until_idle=True))
print(worker.delivered)
"""


def test_a_gzip_bomb_answer_costs_no_memory(tmp_path: Any) -> None:
    """256 MiB of zeros in 256 KiB of gzip: the excerpt is decoded in small pieces, so the
    worker's process grows no more than it does for a plain short answer."""
    peaks = {}
    for name, peer in (("plain", answering(200, b'{"ok": true}')), ("bomb", gzip_bomb(256 << 20))):
        url = f"sqlite:///{tmp_path / name}.db"
        with peer as base:
            Outbox(url, allowed_networks=LOOPBACK).send(f"{base}hook", {"paid": True})
            out, peaks[name] = peak_rss_of(WORKER_IN_A_CHILD.format(url=url), timeout=60)
        assert out.strip() == "1", out  # delivered: a 2xx answer
    assert peaks["bomb"] - peaks["plain"] < 16 << 20, {k: v >> 20 for k, v in peaks.items()}


# -- many receivers: fair delivery -----------------------------------------------------------


@contextlib.contextmanager
def in_background(delivery: DeliveryWorker) -> Iterator[None]:
    """The worker on its own event loop in a thread, as `interlink serve` runs it beside the app."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(delivery.run(stop),), daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(DEADLINE + SLACK + 5)
        assert not thread.is_alive(), "the worker did not stop"
        loop.close()


def wait_for(predicate: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        if time.monotonic() > deadline:
            return value
        time.sleep(0.02)
    return value


def delivered_at(database: Any, message_id: str) -> dt.datetime | None:
    found = [m for m in rows(database) if m.message_id == message_id and m.state == "delivered"]
    return aware(found[0].finished_at) if found else None


def test_dripping_receivers_delay_a_healthy_one_by_one_deadline_at_most(database: Any, live_server: Any) -> None:
    """Three dripping receivers with two messages each, queued before a healthy receiver's
    callback, and a worker with two slots. Without limits the drippers would take both slots
    wave after wave; with them a destination not met yet has one slot until an attempt to it
    ends, and one whose attempt ran long goes after every other, so the healthy callback goes
    out as soon as the first wave ends at the deadline. A message waiting for a slot is never
    claimed meanwhile (no lease runs out on it)."""
    receiver = Receiver()
    healthy = live_server(receiver.app)
    outbox = Outbox(database, allowed_networks=LOOPBACK)
    with contextlib.ExitStack() as stack:
        drippers = [stack.enter_context(peer(0.5)) for peer in (dripping_headers, dripping_body, dripping_headers)]
        for url in drippers:
            for n in range(2):
                outbox.send(f"{url}hook/{n}", {"n": n})
        first = outbox.send(f"{healthy}/first", {"healthy": 1})
        delivery = worker(database, concurrency=2, poll_interval=0.05)
        started = time.monotonic()
        most_claimed = 0
        with in_background(delivery):
            def sample() -> dt.datetime | None:
                nonlocal most_claimed
                most_claimed = max(most_claimed, sum(m.locked_until is not None for m in rows(database)))
                return delivered_at(database, first)

            wait_for(sample, DEADLINE + SLACK + 5)
            waited = time.monotonic() - started
            assert waited < DEADLINE + SLACK, f"the healthy callback waited {waited:.1f} s"
            assert most_claimed <= 2  # only what is being sent is claimed

            # Once every dripping destination has run an attempt long, they may hold at most
            # half the slots together, whatever they have due: the healthy receiver's next
            # callback goes out at once while they drip.
            def every_dripper_tried() -> bool:
                with database.session() as session:
                    urls = session.scalars(select(OutboxMessage.url).join(
                        DeliveryAttempt, DeliveryAttempt.outbox_id == OutboxMessage.id)).all()
                return all(any(u.startswith(d) for u in urls) for d in drippers)

            assert wait_for(every_dripper_tried, 2 * DEADLINE + SLACK + 5)
            time.sleep(0.5)  # the slow turn has had its claims meanwhile
            second = outbox.send(f"{healthy}/second", {"healthy": 2})
            queued = time.monotonic()
            wait_for(lambda: delivered_at(database, second), DEADLINE + SLACK + 5)
            assert time.monotonic() - queued < 1.0, "the second healthy callback waited behind the drippers"
        seen = [len(url.requests_seen) for url in drippers]
    assert [r["path"] for r in receiver.received] == ["/first", "/second"]
    assert all(n >= 1 for n in seen), seen  # every dripper was tried
    by_url = {m.url: m for m in rows(database)}
    tried = [m for m in by_url.values() if "hook" in m.url and m.attempts]
    assert len(tried) == sum(seen)
    for message in tried:
        assert_timed_out_and_retried(database, message)
    untried = [m for m in by_url.values() if "hook" in m.url and not m.attempts]
    assert all(m.state == "pending" and m.locked_until is None for m in untried)


# -- the shares, pure; and the claim's match on destinations, on both databases -------------


def test_destination_shares_of_the_slots() -> None:
    from interlink.callbacks._schedule import Destinations, destination_of

    assert destination_of("HTTPS://Hooks.Example:443/in?a=1") == ("https://hooks.example:443", "HTTPS://Hooks.Example:443")
    assert destination_of("http://a.example?x=1") == ("http://a.example:80", "http://a.example")
    shares = Destinations(8, slow_after=1.0)
    new, prompt, slow = "http://new:80", "http://prompt:80", "http://slow:80"
    # Not met yet: one slot, until an attempt to it ends.
    assert shares.may_start(new, 0.0, slow_too=False)
    shares.started(new, "http://new", 0.0)
    assert not shares.may_start(new, 0.0, slow_too=False)
    # Answered promptly: every slot, and its messages first.
    shares.started(prompt, "http://prompt", 0.0)
    shares.finished(prompt, 0.0, 0.2, timed_out=False)
    assert shares.limit(prompt, 0.2) == 8 and shares.prompt_turn(0.2) == ["http://prompt"]
    # An attempt in flight past slow_after makes its destination slow at once: one slot, and
    # its messages after the others'.
    assert shares.slow(new, 1.5) and shares.limit(new, 1.5) == 1
    assert "http://new" in shares.held_back(1.5)
    shares.finished(new, 0.0, 2.0, timed_out=True)
    assert shares.slow(new, 2.0) and not shares.may_start(new, 2.0, slow_too=False)
    assert "http://new" not in shares.held_back(2.0, slow_too=True) and shares.may_start(new, 2.0, slow_too=True)
    # Slow destinations together: at most half the slots.
    for n in range(4):
        name = f"http://slow{n}:80"
        shares.started(name, name.removesuffix(":80"), 2.0)
        shares.finished(name, 2.0, 4.0, timed_out=True)
    for n in range(4):
        name = f"http://slow{n}:80"
        assert shares.may_start(name, 4.0, slow_too=True)
        shares.started(name, name.removesuffix(":80"), 4.0)
    assert shares.slow_in_flight(4.0) == 4
    assert not shares.may_start(new, 4.0, slow_too=True) and not shares.slow_room(4.0)
    # A slow destination earns its slots back one prompt answer at a time.
    shares.started(slow, "http://slow", 5.0)
    shares.finished(slow, 5.0, 7.0, timed_out=False)  # answered, but after slow_after
    assert shares.limit(slow, 7.0) == 1
    shares.started(slow, "http://slow", 7.0)
    shares.finished(slow, 7.0, 7.1, timed_out=False)
    assert shares.limit(slow, 7.1) == 1 and not shares.slow(slow, 7.1)  # new again
    shares.started(slow, "http://slow", 7.1)
    shares.finished(slow, 7.1, 7.2, timed_out=False)
    assert shares.limit(slow, 7.2) == 8
    # What is remembered is bounded.
    small = Destinations(4, slow_after=1.0, remember=2)
    for n in range(5):
        small.started(f"http://h{n}:80", f"http://h{n}", 0.0)
        small.finished(f"http://h{n}:80", 0.0, 3.0, timed_out=True)
    assert small.held_back(3.0) == ["http://h4", "http://h3"]


def test_the_claim_matches_destinations_exactly(database: Any) -> None:
    """The claim leaves a destination's rows out by the URL's beginning as written: exact on
    both databases (no wildcards, no case folding), and a port is not a prefix of another."""
    from interlink.callbacks._worker import _starts_with

    urls = ["http://a.example:8/x", "http://a.example:8", "http://a.example:8?q=1", "http://a.example:80/x",
            "http://A.example:8/x", "http://a_example:8/x", "http://aXexample:8/x"]
    outbox = Outbox(database, allowed_networks=LOOPBACK)
    for url in urls:
        outbox.send(url, {})
    table = OutboxMessage.__table__
    with database.session() as session:
        def matched(prefixes: list[str]) -> list[str]:
            query = select(table.c.url).where(_starts_with(table.c.url, prefixes)).order_by(table.c.id)
            return list(session.scalars(query))

        assert matched(["http://a.example:8"]) == urls[:3]
        assert matched(["http://a.example:80", "http://A.example:8"]) == [urls[3], urls[4]]
        assert matched(["http://a_example:8"]) == [urls[5]]


def test_prompt_receivers_are_claimed_first_and_slow_ones_last(database: Any) -> None:
    """Whatever order messages are due in: prompt destinations first, then the others, one
    message per destination not met yet, then slow ones within their share; the rest stays
    unclaimed (no lease) until a slot frees up."""
    outbox = Outbox(database, allowed_networks=LOOPBACK)
    for url in ("http://slow.example/1", "http://new.example/1", "http://new.example/2", "http://prompt.example/1",
                "http://other.example/1", "http://prompt.example/2", "http://slow.example/2"):
        outbox.send(url, {})
    delivery = worker(database, concurrency=6)
    shares = delivery.destinations
    for name in ("prompt", "slow"):
        shares.started(f"http://{name}.example:80", f"http://{name}.example", 0.0)
        shares.finished(f"http://{name}.example:80", 0.0, 0.1 if name == "prompt" else 5.0, timed_out=name == "slow")
    claimed = [job.url for job in delivery.claim(5)]
    assert claimed == ["http://prompt.example/1", "http://prompt.example/2", "http://new.example/1",
                       "http://other.example/1", "http://slow.example/1"]
    leased = sorted(m.url for m in rows(database) if m.locked_until is not None)
    assert leased == sorted(claimed)
    # Slow ones: one slot each, half the slots together (3 of 6), after everyone else.
    assert delivery.claim(5) == []


def test_a_failed_claim_counts_no_attempt(database: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim whose transaction fails leases nothing, and leaves the destination's slots as
    they were (else the destination would look busy, or slow, for ever)."""
    from interlink.callbacks import _worker

    Outbox(database, allowed_networks=LOOPBACK).send("http://a.example/1", {})
    delivery = worker(database)

    def unavailable(*args: Any, **kwargs: Any) -> list[str]:
        raise RuntimeError("the secrets could not be read")

    monkeypatch.setattr(_worker, "live_signing_secrets", unavailable)
    with pytest.raises(RuntimeError):
        delivery.claim(4)
    [message] = rows(database)
    assert message.locked_until is None
    later = time.monotonic() + 60
    assert delivery.destinations.may_start("http://a.example:80", later, slow_too=False)
    assert not delivery.destinations.slow("http://a.example:80", later)


def test_prompt_receivers_go_first_even_past_the_claims_window(database: Any) -> None:
    """Many receivers not met yet were due before a prompt receiver's message: the claim still
    finds that message, however far on it is, and sends it first."""
    outbox = Outbox(database, allowed_networks=LOOPBACK)
    for n in range(40):
        outbox.send(f"http://new{n}.example/hook", {})
    outbox.send("http://prompt.example/hook", {})
    delivery = worker(database, concurrency=2)
    delivery.destinations.started("http://prompt.example:80", "http://prompt.example", 0.0)
    delivery.destinations.finished("http://prompt.example:80", 0.0, 0.1, timed_out=False)
    assert [job.url for job in delivery.claim(2)] == ["http://prompt.example/hook", "http://new0.example/hook"]
