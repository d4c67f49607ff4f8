"""Failed-login limits against real servers (uvicorn on 127.0.0.1, the store on SQLite and
PostgreSQL, Redis when one answers): password attempts are counted before argon2 runs, so a
burst of concurrent guesses gets at most the limit of checks; password checks run a bounded
number at a time; the count is shared by worker processes; and nobody can lock a key's or a
user's holder out by failing in their name from elsewhere. Client addresses other than
127.0.0.1 come from X-Forwarded-For through a trusted proxy (the loopback), as behind nginx."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner

from interlink import ApiServer, Role
from interlink.cli import main
from interlink.server import FailureLimiter, Site
from interlink.server._ratelimit import FULL, LimitsCounters, MemoryCounters

from test_sites_workers import workers  # noqa: F401  (two `interlink serve` processes, one database)

PASSWORD = "joes real password"


def cli(database: Any, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, ["--database", database.url, *args], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def new_key(database: Any, role: str) -> tuple[str, str]:
    out = cli(database, "keys", "create", "--role", role)
    match = re.search(r"access_key_id = (\S+)\naccess_key_secret = (\S+)", out)
    assert match, out
    return match[1], match[2]


def build_api(database: Any, **options: Any) -> ApiServer:
    options.setdefault("trusted_proxies", ["127.0.0.1/32"])
    api = ApiServer(database=database, **options)
    home = api.module("home")

    @home.method
    def whoami(rl: Role) -> str:
        return rl.user.username

    return api


def call(url: str, address: str, **request: Any) -> httpx.Response:
    return httpx.post(url + "/api/home/whoami", headers={"x-forwarded-for": address}, **request)


class VerifySpy:
    """Wraps the real argon2 verification: how many ran, and how many at most at once."""

    def __init__(self, delay: float = 0.0) -> None:
        from interlink.store import _passwords as passwords

        self.real = passwords.verify_password
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, password: str, stored: Any) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            return self.real(password, stored)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def verify_spy(monkeypatch: pytest.MonkeyPatch) -> VerifySpy:
    from interlink.store import _passwords as passwords

    spy = VerifySpy()
    monkeypatch.setattr(passwords, "verify_password", spy)
    return spy


@pytest.fixture
def joe(database: Any) -> Any:
    cli(database, "users", "create", "joebloggs", "--password-stdin", input=PASSWORD + "\n")
    return database


async def burst(url: str, n: int, request: Any) -> list[httpx.Response]:
    """``n`` requests at once, each on its own connection; ``request(client, i)`` sends one."""
    results: list[httpx.Response] = [None] * n  # type: ignore[list-item]
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        async def one(i: int) -> None:
            results[i] = await request(client, i)

        async with anyio.create_task_group() as group:
            for i in range(n):
                group.start_soon(one, i)
    return results


# -- password guessing: count before verifying ----------------------------------------------


def test_concurrent_guesses_for_one_user_get_at_most_the_limit_of_argon2_checks(
    joe: Any, live_server: Any, verify_spy: VerifySpy
) -> None:
    url = live_server(build_api(joe))  # the default limiter: counts in the database
    guesses = anyio.run(burst, url, 100, lambda client, i: client.post(
        "/api/home/whoami", auth=("joebloggs", f"guess {i}")))
    statuses = sorted(r.status_code for r in guesses)
    assert statuses == [401] * 5 + [429] * 95
    assert verify_spy.calls == 5  # the other 95 never reached argon2
    refused = next(r for r in guesses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Even the right password waits for the window, from this address ...
    assert httpx.post(url + "/api/home/whoami", auth=("joebloggs", PASSWORD)).status_code == 429
    assert verify_spy.calls == 5


def test_password_checks_run_a_bounded_number_at_a_time(
    database: Any, live_server: Any, verify_spy: VerifySpy
) -> None:
    limiter = FailureLimiter(max_verifications=2, verify_wait=120)  # this test waits, never refuses
    url = live_server(build_api(database, login_limiter=limiter))
    # 12 different (unknown) users from 12 addresses: no count refuses any, all are checked.
    answers = anyio.run(burst, url, 12, lambda client, i: client.post(
        "/api/home/whoami", auth=(f"user{i}", "a guess"), headers={"x-forwarded-for": f"10.1.0.{i}"}))
    assert [r.status_code for r in answers] == [401] * 12
    assert verify_spy.calls == 12 and verify_spy.most == 2


def test_waiting_too_long_for_a_password_check_is_429_with_retry_after(
    database: Any, live_server: Any, verify_spy: VerifySpy
) -> None:
    verify_spy.delay = 1.0
    limiter = FailureLimiter(max_verifications=1, verify_wait=0.2)
    url = live_server(build_api(database, login_limiter=limiter))
    answers = anyio.run(burst, url, 4, lambda client, i: client.post(
        "/api/home/whoami", auth=(f"user{i}", "a guess"), headers={"x-forwarded-for": f"10.2.0.{i}"}))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401, 429, 429, 429]
    busy = next(r for r in answers if r.status_code == 429)
    assert "too many password checks at once" in busy.json()["error"]["message"]
    assert busy.headers["retry-after"] == "1"
    assert verify_spy.most == 1


def test_login_page_counts_before_verifying_too(joe: Any, live_server: Any, verify_spy: VerifySpy,
                                                tmp_path: Any) -> None:
    api = build_api(joe)
    Site(api)
    url = live_server(api)

    async def guess(_: httpx.AsyncClient, i: int) -> httpx.Response:
        async with httpx.AsyncClient(base_url=url) as browser:  # its own login CSRF cookie
            form = (await browser.get("/login")).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
            return await browser.post("/login", data={"username": "joebloggs", "password": f"guess {i}",
                                                      "csrf_token": token})

    answers = anyio.run(burst, url, 30, guess)
    assert sorted(r.status_code for r in answers) == [401] * 5 + [429] * 25
    assert verify_spy.calls == 5
    assert all("retry-after" in r.headers for r in answers if r.status_code == 429)


# -- nobody locks the holder out ----------------------------------------------------------


def test_wrong_secrets_for_a_known_key_id_do_not_lock_its_holder_out(database: Any, live_server: Any) -> None:
    cli(database, "users", "create", "joebloggs")
    key_id, secret = new_key(database, "joebloggs/default")
    url = live_server(build_api(database))
    wrong = {"authorisation": f"{key_id}:{'x' * len(secret)}"}
    answers = [call(url, "203.0.113.66", data=wrong).status_code for _ in range(30)]
    assert answers == [401] * 5 + [429] * 25  # the attacker's address, for this key id
    # The holder, from its own address, never noticed.
    assert call(url, "198.51.100.7", data={"authorisation": f"{key_id}:{secret}"}).status_code == 200
    # Nor does the attacker's address lose other keys: limits are per (address, key id) first.
    other_id, other_secret = new_key(database, "joebloggs/default")
    assert call(url, "203.0.113.66", data={"authorisation": f"{other_id}:{other_secret}"}).status_code == 200


def test_an_address_scanning_key_ids_is_refused_but_keys_used_there_before_still_work(
    database: Any, live_server: Any
) -> None:
    cli(database, "users", "create", "joebloggs")
    key_id, secret = new_key(database, "joebloggs/default")
    fresh_id, fresh_secret = new_key(database, "joebloggs/default")
    url = live_server(build_api(database))
    office = "192.0.2.10"  # one NAT address: the holder and a scanner behind it
    assert call(url, office, data={"authorisation": f"{key_id}:{secret}"}).status_code == 200
    scans = [call(url, office, data={"authorisation": f"k-{i:016x}:{'y' * 40}"}).status_code for i in range(25)]
    assert scans == [401] * 20 + [429] * 5
    # The key that has worked from this address keeps working; a key new here waits.
    assert call(url, office, data={"authorisation": f"{key_id}:{secret}"}).status_code == 200
    limited = call(url, office, data={"authorisation": f"{fresh_id}:{fresh_secret}"})
    assert limited.status_code == 429 and "from this address" in limited.json()["error"]["message"]
    assert call(url, "192.0.2.11", data={"authorisation": f"{fresh_id}:{fresh_secret}"}).status_code == 200


def test_password_guesses_from_elsewhere_do_not_lock_the_user_out_where_they_logged_in(
    joe: Any, live_server: Any, verify_spy: VerifySpy
) -> None:
    url = live_server(build_api(joe, login_limiter=FailureLimiter(per_user_everywhere=6)))
    home = "198.51.100.20"
    assert call(url, home, auth=("joebloggs", PASSWORD)).status_code == 200
    # A guesser spread over 10 addresses, 2 guesses each: the user's count everywhere (6 per
    # window, the first login from home included) stops it, whatever the number of addresses.
    answers = [call(url, f"203.0.113.{i}", auth=("joebloggs", f"guess {i}.{j}")).status_code
               for i in range(10) for j in range(2)]
    assert answers.count(401) == 5 and answers.count(429) == 15
    assert verify_spy.calls == 6
    # From the address the user logged in from before: still in.
    assert call(url, home, auth=("joebloggs", PASSWORD)).status_code == 200
    # A wrong password there is limited per (address, user) as always: 5 and then no more.
    there = [call(url, home, auth=("joebloggs", f"oops {i}")).status_code for i in range(7)]
    assert there == [401] * 5 + [429] * 2


def test_a_successful_key_call_does_no_limiter_io(database: Any, live_server: Any) -> None:
    from sqlalchemy import event

    cli(database, "users", "create", "joebloggs")
    key_id, secret = new_key(database, "joebloggs/default")
    url = live_server(build_api(database))
    assert call(url, "10.5.0.1", auth=("joebloggs", "a guess")).status_code == 401  # counts exist
    assert call(url, "10.5.0.1", data={"authorisation": f"{key_id}:nope"}).status_code == 401
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        for address in ("10.5.0.1", "10.5.0.2"):
            for _ in range(3):
                assert call(url, address, data={"authorisation": f"{key_id}:{secret}"}).status_code == 200
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "interlink_login_attempts" in s]
    # ... while a password attempt does take its slot in the shared table.
    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        call(url, "10.5.0.3", auth=("joebloggs", "a guess"))
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert [s for s in statements if "interlink_login_attempts" in s]


# -- the count is shared ------------------------------------------------------------------


def test_two_worker_processes_share_the_password_count(database: Any, workers: list[str]) -> None:  # noqa: F811
    cli(database, "users", "create", "joebloggs", "--password-stdin", input=PASSWORD + "\n")
    one, other = workers
    answers = [httpx.post((one, other)[i % 2] + "/api/home/whoami", auth=("joebloggs", f"guess {i}")).status_code
               for i in range(8)]
    assert answers == [401] * 5 + [429] * 3  # per process it would have been 8 x 401
    for url in (one, other):
        assert httpx.post(url + "/api/home/whoami", auth=("joebloggs", PASSWORD)).status_code == 429


def redis_url() -> str:
    url = "redis://127.0.0.1:6379/0"
    try:
        import redis
    except ImportError:  # pragma: no cover - the [redis] extra is not installed
        pytest.skip("the redis package (interlink[redis]) is not installed")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server answers at {url}")
    return url


@pytest.fixture
def redis_counters() -> Iterator[LimitsCounters]:
    url = redis_url()
    yield LimitsCounters(url, namespace=f"interlink-test-{uuid.uuid4().hex}")


def test_two_servers_share_the_password_count_through_redis(
    joe: Any, live_server: Any, verify_spy: VerifySpy, redis_counters: LimitsCounters
) -> None:
    # One LimitsCounters per server, as in two processes (a redis client is bound to its loop).
    urls = [live_server(build_api(joe, login_limiter=FailureLimiter(storage=counters)))
            for counters in (redis_counters, LimitsCounters(redis_counters.url, redis_counters.namespace))]
    answers = anyio.run(burst, urls[0], 20, lambda client, i: client.post(
        urls[i % 2] + "/api/home/whoami", auth=("joebloggs", f"guess {i}")))
    assert sorted(r.status_code for r in answers) == [401] * 5 + [429] * 15
    assert verify_spy.calls == 5


def test_login_limits_names_the_store(joe: Any, live_server: Any) -> None:
    api = build_api(joe, login_limits="memory://")
    url = live_server(api)
    assert [call(url, "10.9.0.1", auth=("joebloggs", "nope")).status_code for _ in range(6)] == [401] * 5 + [429]
    assert isinstance(api.app.limiter.shared, MemoryCounters)
    from sqlalchemy import func, select

    from interlink.store import LoginAttempt

    with joe.session() as session:  # memory:// keeps nothing in the database
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    database_api = build_api(joe)
    live_server(database_api)
    assert type(database_api.app.limiter.shared).__name__ == "DatabaseCounters"


# -- the pure core ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_counters_windows_and_clear() -> None:
    clock = Clock()
    counters = MemoryCounters(clock)
    assert counters.hit_now("b", 60) == (1, 60)
    clock.now += 10
    assert counters.hit_now("b", 60) == (2, 50)
    assert counters.peek_now("b") == (2, 50)
    clock.now += 50
    assert counters.peek_now("b") == (0, 0.0)
    assert counters.hit_now("b", 60) == (1, 60)  # a new window
    counters.clear_now("b")
    assert counters.peek_now("b") == (0, 0.0)


def test_spraying_new_identities_cannot_reset_a_victims_count() -> None:
    clock = Clock()
    counters = MemoryCounters(clock, max_tracked=100, protect_from=5)
    for _ in range(5):
        counters.hit_now("victim", 60)
    for _ in range(3):
        counters.hit_now("half-way", 60)
    for i in range(10_000):  # the spray: far more names than fit
        counters.hit_now(f"spray{i}", 60)
    assert len(counters) <= 100
    assert counters.peek_now("victim")[0] == 5  # at its limit: never evicted
    assert counters.peek_now("half-way")[0] == 3  # fewer failures went first
    # Filled with live refusals only, a new name is refused rather than one forgotten.
    full = MemoryCounters(clock, max_tracked=3, protect_from=1)
    for name in "abc":
        full.hit_now(name, 60)
    assert full.hit_now("d", 60)[0] == FULL and full.peek_now("a")[0] == 1
    clock.now += 61  # the window over, there is room again
    assert full.hit_now("d", 60) == (1, 60)


def test_limiter_rule_with_an_injected_clock() -> None:
    clock = Clock()
    limiter = FailureLimiter(per_user=2, per_address=3, window=60, clock=clock, storage="memory://")
    limiter.bind()

    async def attempt(identity: str, address: str, ok: bool, password: bool = False) -> str:
        from interlink.errors import TooManyRequests

        try:
            a = await limiter.begin(identity, address, password=password)
        except TooManyRequests:
            return "refused"
        limiter.release(a)
        await (limiter.succeeded(a) if ok else limiter.failed(a))
        return "ok" if ok else "failed"

    async def scenario() -> None:
        assert await attempt("k-1", "a1", True) == "ok"  # k-1 works from a1
        assert [await attempt("k-1", "a2", False) for _ in range(3)] == ["failed", "failed", "refused"]
        assert await attempt("k-1", "a1", True) == "ok"  # the holder at a1: untouched
        assert [await attempt(f"k-{i}", "a1", False) for i in range(5, 9)] == ["failed"] * 3 + ["refused"]
        assert await attempt("k-1", "a1", True) == "ok"  # trusted at a1 despite its 3 failures
        assert await attempt("k-2", "a1", True) == "refused"  # a1 is over its address limit
        clock.now += 60
        assert await attempt("k-2", "a1", True) == "ok"  # the window has passed
        # Passwords: counted when begun, a success clears its (address, user) count.
        assert [await attempt("joe", "a3", False, True) for _ in range(3)] == ["failed", "failed", "refused"]
        clock.now += 60
        assert await attempt("joe", "a3", True, True) == "ok"
        assert [await attempt("joe", "a3", False, True) for _ in range(3)] == ["failed", "failed", "refused"]

    anyio.run(scenario)


def test_login_limits_can_name_redis(database: Any, live_server: Any, verify_spy: VerifySpy) -> None:
    api = build_api(database, login_limits=redis_url())
    url = live_server(api)
    assert isinstance(api.app.limiter.shared, LimitsCounters)
    name = f"nobody-{uuid.uuid4().hex}"  # Redis outlives the test: a name no other run uses
    answers = [call(url, "10.8.0.1", auth=(name, "nope")).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429] and verify_spy.calls == 5


# -- a store that does not answer: 503 with Retry-After, never a 500 ---------------------------


def test_a_login_store_that_does_not_answer_is_a_503_with_retry_after(joe: Any, live_server: Any) -> None:
    from servers import free_port

    # A real refused connection: nothing listens on this port (Redis is down).
    api = build_api(joe, login_limits=f"redis://127.0.0.1:{free_port()}/0")
    url = live_server(api)
    answer = call(url, "10.9.0.1", auth=("joebloggs", PASSWORD))
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "service_unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert "redis" not in answer.text.lower()  # the caller learns to retry, not our setup


def test_a_database_that_goes_away_is_a_503_for_calls_and_pages_then_recovers(live_server: Any) -> None:
    """PostgreSQL: the site's database is dropped under it (its connections cut), then made again."""
    import os

    url = os.environ.get("INTERLINK_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("needs PostgreSQL (INTERLINK_TEST_POSTGRES_URL): "
                    "an SQLite file cannot be taken away from its open connections")
    import psycopg
    from sqlalchemy.engine import make_url

    from interlink.store import Database

    admin_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"interlink_outage_{uuid.uuid4().hex[:8]}"
    site_url = make_url(url).set(database=name).render_as_string(hide_password=False)

    def admin(sql: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(sql)

    def create() -> Any:
        admin(f'CREATE DATABASE "{name}"')
        database = Database(site_url)
        database.migrate()
        cli(database, "users", "create", "joebloggs", "--password-stdin", input=PASSWORD + "\n")
        database.engine.dispose()
        return database

    create()
    site_database = Database(site_url)  # the server's, closed at the end: no connection outlives the test
    try:
        api = build_api(site_database)
        site = Site(api)
        site.page("/me", "interlink/base.html")
        server = live_server(api)
        assert call(server, "10.9.0.2", auth=("joebloggs", PASSWORD)).status_code == 200
        browser = httpx.Client(base_url=server, headers={"x-forwarded-for": "10.9.0.3"})
        form = browser.get("/login").text
        login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
        logged_in = browser.post("/login", data={"username": "joebloggs", "password": PASSWORD,
                                                 "csrf_token": login_csrf, "next": "/me"})
        assert logged_in.status_code == 303
        page = browser.get("/me")
        assert page.status_code == 200 and "joebloggs" in page.text
        session_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]

        admin(f'DROP DATABASE "{name}" WITH (FORCE)')  # every connection of the server is cut
        down = [call(server, "10.9.0.2", auth=("joebloggs", PASSWORD)) for _ in range(3)]
        assert [r.status_code for r in down] == [503] * 3, down[-1].text
        assert down[-1].json()["error"]["code"] == "service_unavailable"
        assert int(down[-1].headers["retry-after"]) > 0
        time.sleep(2.1)  # past the session cache's 2 s, so the page must read the session again
        for answer in (browser.get("/me"), browser.post("/logout", data={"csrf_token": session_csrf})):
            assert answer.status_code == 503, answer.text
            assert "Try again shortly" in answer.text and int(answer.headers["retry-after"]) > 0
            assert answer.headers["x-frame-options"] == "DENY"  # still a site page
            assert "Traceback" not in answer.text and "psycopg" not in answer.text

        create()
        assert call(server, "10.9.0.2", auth=("joebloggs", PASSWORD)).status_code == 200
        browser.close()
    finally:
        site_database.dispose()
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
