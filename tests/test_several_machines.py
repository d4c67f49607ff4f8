"""A site on several machines, proven with real processes: two `interlink serve --workers 2`
servers ("machines" a and b, each with an `interlink worker` beside it) on one PostgreSQL
database, behind Debian's nginx routing uploads by their `store` query argument
(tests/several_machines.py builds the rig; tests/several_machines_app.py is the site).

What is shown: an upload sent to the front with `?store=b` is streamed through nginx to b and
written by b only; a key revoked and a session logged out through a are refused by every worker
of both within 2 s; failed-login counts are shared; callbacks queued on both machines are
delivered exactly once by the workers of both, and a worker killed mid-delivery loses nothing;
a machine killed under steady load loses no answered call and leaves nothing half-written.
The tests run in this order on one rig; the last one kills machine a."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from callbacks_peers import Receiver
from several_machines import SeveralMachines, peak_rss_mib, several_machines
from interlink.cli import main
from interlink.client import API, FileUpload

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

CACHE_WINDOW = 2.0  # how long a worker may keep a key or session it read (KeyAuthenticator, SessionStore)
MARGIN = 0.75       # the client's own polling and a busy machine's scheduling
PASSWORD = "a password for several machines"
# A refused key counts as a failed login in the worker that refused it: after five, that worker
# answers 429 for the key id instead of 401.
REFUSED = {401, 429}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeveralMachines]:
    with several_machines(tmp_path_factory.mktemp("machines")) as rig:
        yield rig


def cli(rig: SeveralMachines, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, ["--database", rig.database_url, *args], input=input,
                                env={"INTERLINK_SECRET_KEY": rig.secret_key})
    assert result.exit_code == 0, result.output
    return result.stdout


def new_key(rig: SeveralMachines, username: str) -> str:
    """A key of a new user's default role, as `keyid:secret`."""
    cli(rig, "users", "create", username)
    key_id, secret = re.findall(r"= (\S+)", cli(rig, "keys", "create", "--role", f"{username}/default"))
    return f"{key_id}:{secret}"


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def every_worker(url: str, call: Callable[[httpx.Client], httpx.Response], workers: int = 2) -> set[int]:
    """Call until as many worker processes as the server has have answered, each on a new
    connection (the kernel hands new connections to either uvicorn worker)."""
    seen: set[int] = set()
    for _ in range(200):
        with httpx.Client(base_url=url, timeout=30) as client:
            answer = call(client)
        assert answer.status_code == 200, answer.text
        seen.add(answer.json()["pid"])
        if len(seen) == workers:
            return seen
    raise AssertionError(f"only workers {seen} of {url} answered in 200 connections")


def last_accepted_after(rig: SeveralMachines, since: float,
                        call: Callable[[httpx.Client], httpx.Response]) -> float:
    """Poll every machine on new connections until the refusal window is over; return the
    latest time a call that a worker still accepted was sent (``since`` when none was), and check that afterwards
    every worker of both refuses."""
    last_ok = since
    end = since + CACHE_WINDOW + MARGIN
    while time.monotonic() < end:
        for machine in (rig.a, rig.b):
            with httpx.Client(base_url=machine.url, timeout=30) as client:
                sent = time.monotonic()  # the worker accepted it no earlier than this
                status = call(client).status_code
            if status == 200:
                last_ok = sent
            else:
                assert status in REFUSED
        time.sleep(0.02)
    for machine in (rig.a, rig.b):
        for _ in range(20):  # new connections: both workers of each machine answer some of these
            with httpx.Client(base_url=machine.url, timeout=30) as client:
                assert call(client).status_code in REFUSED
    return last_ok


def test_upload_routed_by_query_argument_is_written_by_b_only(site: SeveralMachines, tmp_path: Path,
                                                              record_property: Any) -> None:
    key = new_key(site, "uploader")
    size = 48 * 1024 * 1024
    upload = tmp_path / "survey.bin"
    digest = hashlib.sha256()
    with upload.open("wb") as out:
        for n in range(size // (1 << 20)):
            chunk = hashlib.sha256(str(n).encode()).digest() * 32768  # 1 MiB, varied
            digest.update(chunk)
            out.write(chunk)
    a_log_before = (site.a.directory / "server.log").read_text()
    peaks_before = {pid: peak_rss_mib(pid) for m in (site.a, site.b) for pid in m.server_workers()}

    credentials = tmp_path / "credentials.ini"
    key_id, secret = key.split(":")
    credentials.write_text(f"[default]\naccess_key_id = {key_id}\naccess_key_secret = {secret}\n")
    # The client sends the routing arguments in the query string, the file last, from its path.
    with API(f"{site.front.url}/api", [credentials], timeout=120) as api:
        stored = api.files.store.in_query("store", "name")(store="b", name="survey.bin", upload=FileUpload(upload))
    assert stored.machine == "b" and stored.pid in site.b.server_workers()
    writer = stored.pid
    stored = {"size": stored.size, "sha256": stored.sha256}
    assert stored["size"] == size and stored["sha256"] == digest.hexdigest()
    written = site.b.store_dir / "survey.bin"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == digest.hexdigest()
    # Machine a saw nothing of it: no file, no request in its access log.
    assert list(site.a.store_dir.iterdir()) == []
    assert "/api/files/store" not in (site.a.directory / "server.log").read_text()[len(a_log_before):]
    # nginx passed the body on as it came (proxy_request_buffering off): it warns in its error log
    # whenever it buffers a body to a temporary file, and its worker never held the file.
    assert "buffered to a temporary file" not in site.front.error_log()
    nginx_peak = max(peak_rss_mib(pid) for pid in site.front.worker_pids())
    assert 0 < nginx_peak < size / (1 << 20) / 4
    # b read it as it arrived (a FileStream): its worker's memory did not grow by the file's size,
    # and it made no temporary file.
    assert peak_rss_mib(writer) - peaks_before[writer] < size / (1 << 20) / 4
    assert list((site.b.directory / "tmp").iterdir()) == []
    peaks = {"nginx worker": nginx_peak,
             **{f"{m.name} worker {pid} (before: {peaks_before[pid]:.1f})": peak_rss_mib(pid)
                for m in (site.a, site.b) for pid in m.server_workers()}}
    for name, mib in peaks.items():
        record_property(f"peak RSS MiB, {name}", round(mib, 1))
    print("\n48 MiB upload through nginx to b; peak RSS (MiB): "
          + ", ".join(f"{name} {mib:.1f}" for name, mib in peaks.items()))

    # A machine that is not the one named refuses it, naming the argument, and stores nothing.
    misrouted = httpx.post(f"{site.a.url}/api/files/store", params={"store": "b", "name": "wrong.bin"},
                           files={"upload": ("wrong.bin", b"x" * 65536)}, headers=bearer(key), timeout=120)
    assert misrouted.status_code == 400 and misrouted.json()["error"]["field"] == "store"
    assert list(site.a.store_dir.iterdir()) == []

    # The other machine by the same argument.
    with upload.open("rb") as body:
        answer = httpx.post(f"{site.front.url}/api/files/store", params={"store": "a", "name": "copy.bin"},
                            files={"upload": ("copy.bin", body)}, headers=bearer(key), timeout=120)
    assert answer.status_code == 200 and answer.json()["machine"] == "a"
    assert (site.a.store_dir / "copy.bin").stat().st_size == size


def test_key_revoked_through_a_is_refused_by_every_worker_within_2_s(site: SeveralMachines,
                                                                     record_property: Any) -> None:
    admin = new_key(site, "keyadmin")
    cli(site, "roles", "create", "--user", "keyadmin", "everyday")
    key_id, secret = re.findall(r"= (\S+)", cli(site, "keys", "create", "--role", "everyday"))

    def whoami(client: httpx.Client) -> httpx.Response:
        return client.post("/api/home/whoami", headers=bearer(f"{key_id}:{secret}"))

    for machine in (site.a, site.b):  # every worker of both has the key in its cache now
        assert every_worker(machine.url, whoami) == set(machine.server_workers())
    revoked = httpx.post(f"{site.a.url}/api/admin/revoke", data={"key_id": key_id}, headers=bearer(admin), timeout=30)
    assert revoked.status_code == 200, revoked.text
    since = time.monotonic()
    last_ok = last_accepted_after(site, since, whoami)
    record_property("revoked key last accepted after (s)", round(last_ok - since, 2))
    print(f"\nrevoked key: last accepted by a worker {last_ok - since:.2f} s after the revocation")
    assert last_ok - since < CACHE_WINDOW + MARGIN
    assert httpx.post(f"{site.front.url}/api/home/whoami", headers=bearer(f"{key_id}:{secret}")).status_code in REFUSED


def test_logout_through_a_reaches_every_worker(site: SeveralMachines) -> None:
    cli(site, "users", "create", "browser", "--password-stdin", input=PASSWORD + "\n")
    with httpx.Client(base_url=site.front.url, timeout=30) as browser:
        form = browser.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
        assert browser.post("/login", data={"username": "browser", "password": PASSWORD,
                                            "csrf_token": token}).status_code == 303
        session = browser.cookies["interlink_session"]
    from interlink.server._csrf import csrf_token_for

    csrf = csrf_token_for(session)  # what the site's pages put in csrf_field()

    def whoami(client: httpx.Client) -> httpx.Response:
        client.cookies.set("interlink_session", session)
        return client.post("/api/home/whoami", data={"csrf_token": csrf})

    for machine in (site.a, site.b):  # a session made through the front works on every worker
        assert every_worker(machine.url, whoami) == set(machine.server_workers())
    with httpx.Client(base_url=site.a.url, timeout=30) as client:
        client.cookies.set("interlink_session", session)
        assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    since = time.monotonic()
    assert last_accepted_after(site, since, whoami) - since < CACHE_WINDOW + MARGIN


def test_failed_login_limits_are_shared_by_both_machines(site: SeveralMachines) -> None:
    cli(site, "users", "create", "guessed", "--password-stdin", input=PASSWORD + "\n")

    def login(url: str, password: str) -> int:
        with httpx.Client(timeout=30) as client:  # a new connection: any worker
            return client.post(f"{url}/api/home/whoami", auth=("guessed", password)).status_code

    # Five wrong passwords, spread over the two machines' four workers: the limit is 5.
    assert [login(site.a.url, "wrong guess 1"), login(site.b.url, "wrong guess 2"), login(site.a.url, "wrong guess 3"),
            login(site.b.url, "wrong guess 4"), login(site.front.url, "wrong guess 5")] == [401] * 5
    # Counted per process, each worker would have seen at most three and let the next one try.
    assert login(site.a.url, PASSWORD) == 429
    assert login(site.b.url, PASSWORD) == 429
    assert login(site.front.url, PASSWORD) == 429


@pytest.fixture
def receiver(live_server: Callable[..., str]) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(delay=0.1)
    yield receiver, live_server(receiver.app)


def delivered(rig: SeveralMachines) -> tuple[int, int]:
    """(delivered, all) messages in the outbox."""
    from sqlalchemy import func, select

    from interlink.callbacks import OutboxMessage
    from interlink.store import Database

    database = Database(rig.database_url)
    try:
        with database.session() as session:
            total = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
            done = session.scalar(select(func.count()).where(OutboxMessage.state == "delivered")) or 0
    finally:
        database.dispose()
    return done, total


def attempts_by_worker(rig: SeveralMachines) -> Counter[str]:
    from sqlalchemy import select

    from interlink.callbacks import DeliveryAttempt
    from interlink.store import Database

    database = Database(rig.database_url)
    try:
        with database.session() as session:
            return Counter(session.scalars(select(DeliveryAttempt.worker)))
    finally:
        database.dispose()


def wait_until_all_delivered(rig: SeveralMachines, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while True:
        done, total = delivered(rig)
        if done == total:
            return total
        assert time.monotonic() < deadline, f"{done} of {total} delivered"
        time.sleep(0.1)


def queue_events(rig: SeveralMachines, url: str, key: str, callback_url: str, batch: str, count: int) -> None:
    answer = httpx.post(f"{url}/api/events/queue", headers=bearer(key), timeout=30,
                        data={"callback_url": callback_url, "batch": batch, "count": count})
    assert answer.status_code == 200, answer.text


def test_callbacks_queued_on_both_machines_are_delivered_once_by_workers_on_both(
        site: SeveralMachines, receiver: tuple[Receiver, str]) -> None:
    peer, peer_url = receiver
    key = new_key(site, "subscriber")
    secret = cli(site, "callbacks", "secret", "--role", "subscriber/default").strip()
    peer.secrets["/events/"] = [secret]
    before = attempts_by_worker(site)
    queue_events(site, site.a.url, key, peer_url, "from-a", 30)
    queue_events(site, site.b.url, key, peer_url, "from-b", 30)
    assert wait_until_all_delivered(site) == 60
    time.sleep(0.5)  # a second delivery would come now, if any worker claimed a message twice
    ids = peer.ids()
    assert len(ids) == 60 and set(ids.values()) == {1}  # exactly once each
    assert all(r["verified"] for r in peer.received)
    paths = Counter(r["path"] for r in peer.received)
    assert paths == {"/events/from-a": 30, "/events/from-b": 30}
    workers = attempts_by_worker(site) - before
    names = {f":{m.worker.pid}" for m in (site.a, site.b) if m.worker}
    # Both machines' workers took part (SKIP LOCKED shares the rows between them).
    assert {name for name in names if any(w.endswith(name) for w in workers)} == names, workers


def test_worker_killed_mid_delivery_loses_nothing(site: SeveralMachines, receiver: tuple[Receiver, str]) -> None:
    import signal

    peer, peer_url = receiver
    peer.delay = 1.0  # long enough to be killed while waiting for the answer
    key = new_key(site, "killtest")
    cli(site, "callbacks", "secret", "--role", "killtest/default")
    site.b.worker.terminate()  # type: ignore[union-attr]  # only a's worker delivers at first
    site.b.worker.wait(20)  # type: ignore[union-attr]
    victim = site.a.worker
    assert victim is not None
    try:
        queue_events(site, site.b.url, key, peer_url, "kill", 12)
        deadline = time.monotonic() + 30
        while len(peer.received) < 4:  # requests in flight, their answers not read yet
            assert victim.poll() is None and time.monotonic() < deadline, "a's worker sent nothing"
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        # Requests the killed worker had already written can still be in the kernel's buffers
        # and reach the receiver after the kill: wait until nothing more arrives.
        seen = -1
        while seen != len(peer.received):
            seen = len(peer.received)
            time.sleep(0.3)
        sent_before_restart = set(peer.ids())
    finally:
        site.a.start_worker()
        site.b.start_worker()
    assert wait_until_all_delivered(site) >= 12
    time.sleep(0.5)
    ids = peer.ids()
    assert len(ids) == 12  # nothing lost
    assert max(ids.values()) <= 2  # delivered once more at most, under the same message id
    repeated = {message_id for message_id, count in ids.items() if count == 2}
    assert repeated  # the killed worker's unanswered deliveries were sent again...
    assert repeated <= sent_before_restart  # ...and only those


def test_machine_killed_under_load_loses_no_answered_call(site: SeveralMachines, record_property: Any) -> None:
    """Runs last: machine a stays dead."""
    from sqlalchemy import create_engine, text

    key = new_key(site, "steady")
    threads, results, stop = 4, [], threading.Event()
    lock = threading.Lock()

    def load(n: int) -> None:
        with httpx.Client(base_url=site.front.url, timeout=30, headers=bearer(key)) as client:
            i = 0
            while not stop.is_set():
                entry = f"t{n}-{i}"
                sent = time.monotonic()
                try:
                    answer = client.post("/api/ledger/record", data={"entry": entry, "lines": 5})
                    status, machine = answer.status_code, (answer.json().get("machine") if answer.status_code == 200 else None)
                except httpx.TransportError:
                    status, machine = 0, None
                with lock:
                    results.append((entry, status, machine, sent, time.monotonic()))
                i += 1

    runners = [threading.Thread(target=load, args=(n,)) for n in range(threads)]
    for runner in runners:
        runner.start()
    try:
        time.sleep(2)
        killed_at = time.monotonic()
        site.a.kill()
        time.sleep(3)
    finally:
        stop.set()
        for runner in runners:
            runner.join(60)

    before = [r for r in results if r[4] < killed_at]
    after = [r for r in results if r[3] >= killed_at]
    assert {r[2] for r in before if r[1] == 200} == {"a", "b"}  # both machines served before
    failed = [r for r in results if r[1] != 200]
    # Only calls that were on a when it died fail (nginx does not resend a POST it had sent);
    # each thread had at most one in flight.
    assert len(failed) <= threads, failed
    assert all(r[1] == 502 for r in failed), failed
    last_failure = max((r[4] for r in failed), default=killed_at)
    next_calls = [r for r in after if r[3] >= last_failure]
    assert next_calls and all(r[1] == 200 and r[2] == "b" for r in next_calls)

    engine = create_engine(site.database_url)
    try:
        with engine.connect() as connection:
            rows = dict(connection.execute(text("SELECT entry, count(*) FROM machines_ledger GROUP BY entry")).all())
    finally:
        engine.dispose()
    answered = [r[0] for r in results if r[1] == 200]
    assert all(rows.get(entry) == 5 for entry in answered)  # no answered call lost
    assert set(rows.values()) == {5}  # nothing half-written, even by the calls a died in
    record_property("failover: last failed call ended after kill (s)", round(last_failure - killed_at, 3))
    record_property("calls answered", len(answered))
    print(f"\nkill under load: {len(answered)} calls answered, {len(failed)} failed (502), "
          f"last failure {last_failure - killed_at:.3f} s after the kill")
