"""Server-side sessions (interlink.rest.Session, SessionMixin): over real HTTP, in memory and
in a real Redis (127.0.0.1:6379; the Redis cases skip saying so when none answers).

Redis cases use database 15 and a per-test key prefix, so they never touch the keys of
rest-tools' own session test (database 0, ``session:``), which may run at the same time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from interlink.rest import (
    Auth,
    MemorySessionStorage,
    RedisSessionStorage,
    RestHandler,
    RestHandlerSetup,
    RestServer,
    Session,
    SessionEntry,
    SessionMixin,
    authenticated,
)
from rest_servers import TornadoThread

REDIS_URL = "redis://127.0.0.1:6379/15"
SECRET = "session-test-secret-" + "s" * 64  # 64+ bytes: HS512 wants that much


@pytest.fixture
def redis_conn() -> Iterator[Any]:
    redis = pytest.importorskip("redis", reason="the Redis cases need the redis package: pip install 'interlink[redis]'")
    conn = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=1)
    try:
        conn.ping()
    except redis.RedisError as exc:
        pytest.skip(f"the Redis cases need a Redis server at {REDIS_URL}: {exc}")
    yield conn
    conn.close()


@pytest.fixture
def prefix(redis_conn: Any) -> Iterator[str]:
    prefix = f"interlink-test-{uuid.uuid4().hex}:"
    yield prefix
    for name in redis_conn.scan_iter(match=prefix + "*"):
        redis_conn.delete(name)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Session]:
    if request.param == "memory":
        session = Session("memory", expiration=60)
    else:
        session = Session("redis", expiration=60, url=REDIS_URL, prefix=request.getfixturevalue("prefix"))
    yield session
    session.close()


def test_clear_deletes_every_session(store: Session) -> None:
    for n in range(5):  # rest-tools' clear() raised RuntimeError on a non-empty memory store
        store.set(f"user{n}", {"n": str(n)})
    assert len(store._sessions) == 5
    store.clear()
    assert len(store._sessions) == 0
    with pytest.raises(KeyError):
        store.get_session("user0")


def test_set_get_delete_and_replacement(store: Session) -> None:
    store.set("alice", {"a": "1", "b": "2"})
    assert dict(store.get_session("alice")) == {"a": "1", "b": "2"}
    store.set("alice", {"c": "3"})  # keys the new data lacks are gone
    assert dict(store.get_session("alice")) == {"c": "3"}
    store.set("bob", None)
    assert dict(store.get_session("bob")) == {}
    assert store.delete_session("alice") is True
    assert store.delete_session("alice") is False
    assert sorted(store._sessions) == ["bob"]


def test_expiry_key_name_is_refused_in_redis(redis_conn: Any, prefix: str) -> None:
    store = Session("redis", url=REDIS_URL, prefix=prefix)
    with pytest.raises(ValueError, match="_expiration"):
        store.set("alice", {"_expiration": "9999999999"})
    store.close()


def test_redis_len_counts_sessions_only_and_keys_expire(redis_conn: Any, prefix: str) -> None:
    redis_conn.set(prefix.replace(":", "-other"), "x")  # not a session: rest-tools counted it
    storage = RedisSessionStorage(url=REDIS_URL, prefix=prefix)
    try:
        storage["a"] = SessionEntry({"x": "1"}, time.time() + 30)
        storage["b"] = SessionEntry({}, time.time() + 30)
        assert len(storage) == 2
        assert sorted(storage) == ["a", "b"]
        ttl = redis_conn.ttl(prefix + "a")
        assert 30 < ttl <= 91  # Redis drops an abandoned session a minute after it expires
    finally:
        redis_conn.delete(prefix.replace(":", "-other"))
        storage.close()


def test_redis_layout_is_rest_tools(redis_conn: Any, prefix: str) -> None:
    """A hash ``<prefix><id>`` with the data and ``_expiration``: what rest-tools reads and writes."""
    store = Session("redis", expiration=60, url=REDIS_URL, prefix=prefix)
    store.set("alice", {"name": "Alice"})
    raw = redis_conn.hgetall(prefix + "alice")
    assert raw["name"] == "Alice"
    assert abs(float(raw["_expiration"]) - (time.time() + 60)) < 5
    redis_conn.hset(prefix + "bob", mapping={"_expiration": time.time() + 60, "k": "v"})
    assert dict(store.get_session("bob")) == {"k": "v"}
    store.close()


def test_shares_sessions_with_rest_tools(redis_conn: Any, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = pytest.importorskip("rest_tools.server.session", reason="wipac-rest-tools (bench extra) is the reference")
    import redis

    ours = Session("redis", expiration=60, url=REDIS_URL, prefix="session:")
    # rest-tools always uses database 0: point it at database 15, away from other tests. It also
    # turns on client-side caching, which needs Redis 7.4 or later (its storage refuses older
    # servers; interlink's does not use the cache): leave that out so it runs on any Redis.
    real_redis = redis.Redis

    def their_redis(**kwargs: Any) -> Any:
        kwargs.pop("cache_config", None)
        kwargs["db"] = 15
        return real_redis(**kwargs)

    monkeypatch.setattr(upstream.redis, "Redis", their_redis)
    theirs = upstream.Session(storage_type="redis", expiration=60, host="127.0.0.1")
    user = f"{prefix}user"  # a unique id under rest-tools' fixed "session:" prefix
    try:
        theirs.set(user, {"from": "rest-tools"})
        assert dict(ours.get_session(user)) == {"from": "rest-tools"}
        ours.set(user, {"from": "interlink"})
        assert dict(theirs.get_session(user)) == {"from": "interlink"}
    finally:
        ours.delete_session(user)
        theirs.close()
        ours.close()


def test_memory_storage_is_a_mapping() -> None:
    storage = MemorySessionStorage()
    storage["a"] = SessionEntry({}, 1.0)
    assert list(storage) == ["a"] and len(storage) == 1
    for key in storage:  # deleting while iterating is fine: iteration is over a snapshot
        del storage[key]
    assert len(storage) == 0


def test_unknown_storage_type() -> None:
    with pytest.raises(ValueError):
        Session("postgres")


# -- SessionMixin over real HTTP --------------------------------------------------------
def _build(session: Session) -> RestServer:
    class Counter(SessionMixin, RestHandler):
        @authenticated
        async def post(self) -> None:
            data = self.session
            assert data is not None
            data["count"] = str(int(data.get("count", "0")) + 1)
            self.write({"count": data["count"]})

        async def get(self) -> None:
            self.write({"session": None if self.session is None else dict(self.session)})

    server = RestServer()
    server.add_route("/count", Counter, {**RestHandlerSetup({"auth": {"secret": SECRET}}), "session": session})
    return server


@pytest.fixture(params=["memory", "redis"])
def site(request: pytest.FixtureRequest) -> Iterator[tuple[str, Session]]:
    if request.param == "memory":
        session = Session("memory", expiration=60)
    else:
        session = Session("redis", expiration=60, url=REDIS_URL, prefix=request.getfixturevalue("prefix"))
    server = TornadoThread(lambda: _build(session))
    url = server.start()
    yield url, session
    server.stop()
    session.close()


def test_session_mixin_keeps_each_users_session(site: tuple[str, Session]) -> None:
    url, session = site
    auth = Auth(SECRET)
    alice = {"Authorization": "Bearer " + auth.create_token("alice", expiration=60)}
    bob = {"Authorization": "Bearer " + auth.create_token("bob", expiration=60)}
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        assert http.get("/count").json() == {"session": None}  # anonymous: no session
        assert http.post("/count", headers=alice).json() == {"count": "1"}
        assert http.post("/count", headers=alice).json() == {"count": "2"}
        assert http.post("/count", headers=bob).json() == {"count": "1"}
        assert http.get("/count", headers=alice).json() == {"session": {"count": "2"}}
        assert http.post("/count").status_code == 403
    assert dict(session.get_session("alice")) == {"count": "2"}
