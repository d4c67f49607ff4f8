"""interlink.store on a real database: SQLite per test, PostgreSQL too when configured."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import anyio
import pytest
from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import IntegrityError

from interlink.credentials import KEY_ID_PATTERN, check_key_secret
from interlink.store import (
    AlreadyExists,
    Base,
    Database,
    Key,
    KeyAuthenticator,
    MemoryKeys,
    Role,
    User,
    create_key,
    create_role,
    create_user,
    find_key,
    find_role,
    find_user,
    load_model,
    utcnow,
)
from interlink.wire import Model

TABLES = {"interlink_users", "interlink_roles", "interlink_keys"}


class FakeClock:
    """A monotonic clock the test moves by hand, so cache expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class QueryCounter:
    """Counts SQL statements sent by an engine (to prove a cache hit does no I/O)."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        event.listen(database.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1


def make_user_role_key(database: Database, username: str = "joebloggs") -> tuple[str, str, str]:
    """(role api_id, key id, secret) for a new user with an 'everyday' role and one key."""
    with database.session() as session:
        user = create_user(session, username)
        role = create_role(session, user, "everyday")
        key, secret = create_key(session, role)
        return role.api_id, key.key_id, secret.decode()


# -- schema and migrations ---------------------------------------------------------------


def script_head(database: Database) -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(database.alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrate_creates_the_tables_at_head_and_is_idempotent(database: Database) -> None:
    assert TABLES <= set(inspect(database.engine).get_table_names())
    head = script_head(database)
    assert database.current_revision() == head
    database.migrate()
    database.migrate()
    assert database.current_revision() == head


def test_first_revision_is_0001(database: Database) -> None:
    """Later issues chain their revisions after "0001"; it must keep that id."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(database.alembic_config())
    assert scripts.get_base() == "0001"
    database.downgrade("0001")
    assert database.current_revision() == "0001"
    assert TABLES <= set(inspect(database.engine).get_table_names())
    database.migrate()


def test_migrations_match_the_models(database: Database) -> None:
    """Autogenerate against a migrated database proposes nothing: 0001 and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, parents: type_ != "table"
                or name in Base.metadata.tables,
            },
        )
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_upgrade_again(database: Database) -> None:
    make_user_role_key(database)
    database.downgrade("base")
    assert not TABLES & set(inspect(database.engine).get_table_names())
    assert database.current_revision() is None
    database.migrate()
    assert TABLES <= set(inspect(database.engine).get_table_names())
    with database.session() as session:
        assert session.scalars(select(User)).all() == []


def test_concurrent_migrations_from_many_workers(database_url: str) -> None:
    """Workers starting together on an empty database all succeed, and migrate it once."""
    first = Database(database_url)
    first.downgrade("base")  # the PostgreSQL database is shared by the run: start it empty
    errors: list[BaseException] = []

    def worker() -> None:
        db = Database(database_url)
        try:
            db.migrate()
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            db.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert first.current_revision() == script_head(first)
    assert TABLES <= set(inspect(first.engine).get_table_names())
    first.dispose()


def test_default_url_is_a_sqlite_file_in_the_current_directory(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INTERLINK_DATABASE_URL", raising=False)
    db = Database()
    assert db.url == "sqlite:///interlink.db"
    db.migrate()
    db.dispose()
    assert (tmp_path / "interlink.db").exists()
    monkeypatch.setenv("INTERLINK_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert Database().url.endswith("other.db")


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Any) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_in_memory_sqlite_keeps_its_tables_across_sessions() -> None:
    db = Database("sqlite://")
    db.migrate()
    with db.session() as session:
        create_user(session, "mem")
    with db.session() as session:
        assert find_user(session, "mem").username == "mem"
    db.dispose()


def test_session_rolls_back_when_the_block_raises(database: Database) -> None:
    with pytest.raises(RuntimeError):
        with database.session() as session:
            create_user(session, "ghost")
            raise RuntimeError("boom")
    with database.session() as session, pytest.raises(LookupError):
        find_user(session, "ghost")


# -- users and roles ---------------------------------------------------------------------


def test_create_user_makes_a_default_role(database: Database) -> None:
    with database.session() as session:
        user = create_user(session, "joebloggs")
    assert re.fullmatch(r"u-[0-9a-f]{16}", user.api_id)
    assert isinstance(user, Model) and isinstance(user.default_role, Model)
    assert user.password_hash is None
    assert user.created_at.tzinfo is not None and user.created_at.utcoffset() == dt.timedelta(0)
    with database.session() as session:
        again = find_user(session, user.api_id)
        role = again.default_role
    # Detached now: the role and its user were loaded eagerly.
    assert role is not None
    assert role.name == "default" and role.user.username == "joebloggs"
    assert role.user.default_role is role
    assert re.fullmatch(r"r-[0-9a-f]{16}", role.api_id)
    assert role.is_default
    assert role.has("anything.at.all")
    assert role.permissions == []


def test_usernames_are_unique_and_colon_free(database: Database) -> None:
    with database.session() as session:
        create_user(session, "joebloggs")
    with database.session() as session, pytest.raises(AlreadyExists, match="joebloggs"):
        create_user(session, "joebloggs")
    with database.session() as session, pytest.raises(ValueError, match="':'"):
        create_user(session, "joe:bloggs")
    with database.session() as session, pytest.raises(ValueError):
        create_user(session, "  ")
    # The database itself enforces uniqueness, not only the helper.
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(User(username="joebloggs"))


def test_role_names_are_unique_per_user(database: Database) -> None:
    with database.session() as session:
        joe = create_user(session, "joe")
        ann = create_user(session, "ann")
        create_role(session, joe, "everyday")
        create_role(session, ann, "everyday")  # same name, other user: fine
        with pytest.raises(AlreadyExists):
            create_role(session, joe, "everyday")
        with pytest.raises(AlreadyExists):
            create_role(session, joe, "default")
    with pytest.raises(IntegrityError), database.session() as session:
        joe = find_user(session, "joe")
        session.add(Role(name="everyday", user=joe))


def test_non_default_role_has_only_its_permissions(database: Database) -> None:
    with database.session() as session:
        user = create_user(session, "joe")
        role = create_role(session, user, "reader")
        role.permissions = ["home.read"]
    with database.session() as session:
        loaded = load_model(session, Role, role.api_id)
    assert loaded is not None and not loaded.is_default
    assert loaded.has("home.read")
    assert not loaded.has("home.write")
    assert loaded.permissions == ["home.read"]


def test_find_role_by_api_id_name_and_user_slash_name(database: Database) -> None:
    with database.session() as session:
        joe = create_user(session, "joe")
        ann = create_user(session, "ann")
        joes = create_role(session, joe, "everyday")
        anns = create_role(session, ann, "everyday")
        only = create_role(session, ann, "nightly")
    with database.session() as session:
        assert find_role(session, joes.api_id).api_id == joes.api_id
        assert find_role(session, anns.api_id).api_id == anns.api_id
        assert find_role(session, "nightly").api_id == only.api_id
        assert find_role(session, "joe/everyday").api_id == joes.api_id
        assert find_role(session, "ann/everyday").api_id == anns.api_id
        with pytest.raises(LookupError, match="ambiguous") as caught:
            find_role(session, "everyday")
        assert joes.api_id in str(caught.value) and anns.api_id in str(caught.value)
        with pytest.raises(LookupError, match="no role"):
            find_role(session, "weekly")
        with pytest.raises(LookupError, match="no role"):
            find_role(session, "r-0000000000000000")
        with pytest.raises(LookupError, match="no role"):
            find_role(session, "bob/everyday")


def test_deleting_a_user_deletes_its_roles_and_keys(database: Database) -> None:
    _, key_id, _ = make_user_role_key(database)
    with database.session() as session:
        session.delete(find_user(session, "joebloggs"))
    with database.session() as session:
        assert session.scalars(select(Role)).all() == []
        assert session.scalars(select(Key)).all() == []


# -- keys --------------------------------------------------------------------------------


def test_create_key_returns_the_secret_once_and_stores_only_a_hash(database: Database) -> None:
    with database.session() as session:
        role = create_role(session, create_user(session, "joe"), "everyday")
        key, secret = create_key(session, role)
    assert isinstance(secret, bytes) and len(secret) == 40 and secret.isalnum()
    assert KEY_ID_PATTERN.fullmatch(key.key_id)
    assert key.api_id == key.key_id
    assert key.secret_hash is not None and check_key_secret(secret.decode(), key.secret_hash)
    # Nowhere in the database does the secret appear.
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                assert all(secret.decode() not in str(value) for value in row)


def test_create_secret_replaces_the_previous_secret(database: Database) -> None:
    with database.session() as session:
        role = create_role(session, create_user(session, "joe"), "everyday")
        key, first = create_key(session, role)
        second = key.create_secret()
    assert first != second
    with database.session() as session:
        stored = find_key(session, key.key_id).secret_hash
    assert stored is not None
    assert check_key_secret(second.decode(), stored)
    assert not check_key_secret(first.decode(), stored)


def test_key_made_by_hand_as_in_the_seed(database: Database) -> None:
    with database.session() as session:
        role = create_role(session, create_user(session, "joe"), "everyday")
        key = Key(role=role)
        assert KEY_ID_PATTERN.fullmatch(key.api_id)  # known before saving
        secret = key.create_secret()
        session.add(key)
    with database.session() as session:
        loaded = load_model(session, Key, key.api_id)
    assert loaded is not None and loaded.role.user.username == "joe"
    assert loaded.secret_hash is not None and check_key_secret(secret.decode(), loaded.secret_hash)


def test_load_model_by_api_id_for_every_model(database: Database) -> None:
    role_id, key_id, _ = make_user_role_key(database)
    with database.session() as session:
        user_id = find_user(session, "joebloggs").api_id
    with database.session() as session:
        user = load_model(session, User, user_id)
        role = load_model(session, Role, role_id)
        key = load_model(session, Key, key_id)
        assert load_model(session, User, "u-0000000000000000") is None
        assert load_model(session, Role, user_id) is None
        assert load_model(session, Key, "k-0000000000000000") is None
    assert user is not None and user.username == "joebloggs"
    assert role is not None and role.user.username == "joebloggs" and role.name == "everyday"
    assert role.user.default_role is not None and role.user.default_role.name == "default"
    assert key is not None and key.role.api_id == role_id


def test_times_are_utc_aware_after_a_round_trip(database: Database) -> None:
    _, key_id, _ = make_user_role_key(database)
    local = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    with database.session() as session:
        find_key(session, key_id).expires_at = local
    with database.session() as session:
        key = find_key(session, key_id)
    assert key.expires_at == local
    assert key.expires_at is not None and key.expires_at.tzinfo == dt.UTC
    assert key.created_at.tzinfo == dt.UTC
    with pytest.raises(Exception, match="naive"), database.session() as session:
        find_key(session, key_id).expires_at = dt.datetime(2030, 1, 1)
        session.flush()


# -- KeyAuthenticator ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_authenticate_key_returns_the_role_with_its_user(database: Database) -> None:
    role_id, key_id, secret = make_user_role_key(database)
    auth = KeyAuthenticator(database)
    queries = QueryCounter(database)
    role = await auth.authenticate_key(key_id, secret)
    assert queries.count == 1  # key, role, user and default role in one SELECT
    assert role is not None and role.api_id == role_id
    # Usable outside any session, links included.
    assert role.user.username == "joebloggs"
    assert role.user.default_role is not None and role.user.default_role.name == "default"
    assert role.user.default_role.user is role.user
    assert not role.has("x")
    assert await auth.authenticate_key(key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert await auth.authenticate_key("k-0000000000000000", secret) is None


@pytest.mark.anyio
async def test_basic_form_needs_the_keys_own_user(database: Database) -> None:
    role_id, key_id, secret = make_user_role_key(database, "joebloggs")
    make_user_role_key(database, "ann")
    auth = KeyAuthenticator(database)
    role = await auth.authenticate_user_key("joebloggs", key_id, secret)
    assert role is not None and role.api_id == role_id
    assert await auth.authenticate_user_key("ann", key_id, secret) is None
    assert await auth.authenticate_user_key("nobody", key_id, secret) is None
    assert await auth.authenticate_user_key("joebloggs", key_id, "wrong") is None


@pytest.mark.anyio
async def test_cache_hit_does_no_io_and_still_checks_the_secret(database: Database) -> None:
    _, key_id, secret = make_user_role_key(database)
    auth = KeyAuthenticator(database, cache_seconds=3600)
    assert await auth.authenticate_key(key_id, secret) is not None
    queries = QueryCounter(database)
    for _ in range(20):
        assert await auth.authenticate_key(key_id, secret) is not None
        assert await auth.authenticate_key(key_id, "not-the-secret") is None
        assert await auth.authenticate_user_key("joebloggs", key_id, secret) is not None
    assert queries.count == 0


@pytest.mark.anyio
async def test_revoked_key_stops_working_once_the_cache_time_passes(database: Database) -> None:
    _, key_id, secret = make_user_role_key(database)
    clock = FakeClock()
    auth = KeyAuthenticator(database, cache_seconds=2.0, clock=clock)
    assert await auth.authenticate_key(key_id, secret) is not None
    with database.session() as session:
        find_key(session, key_id).revoked_at = utcnow()
    clock.now += 1.0  # within the window the cached answer may still be used
    assert await auth.authenticate_key(key_id, secret) is not None
    clock.now += 1.0  # cache_seconds after the fetch: read again, and refused
    assert await auth.authenticate_key(key_id, secret) is None
    assert await auth.authenticate_user_key("joebloggs", key_id, secret) is None
    # A fresh authenticator (another worker) refuses at once.
    assert await KeyAuthenticator(database).authenticate_key(key_id, secret) is None


@pytest.mark.anyio
async def test_revocation_is_seen_in_real_time_with_a_short_cache(database: Database) -> None:
    _, key_id, secret = make_user_role_key(database)
    auth = KeyAuthenticator(database, cache_seconds=0.05)
    assert await auth.authenticate_key(key_id, secret) is not None
    with database.session() as session:
        find_key(session, key_id).revoked_at = utcnow()
    await anyio.sleep(0.1)
    assert await auth.authenticate_key(key_id, secret) is None


@pytest.mark.anyio
async def test_expired_key_is_refused_even_from_the_cache(database: Database) -> None:
    _, key_id, secret = make_user_role_key(database)
    with database.session() as session:
        find_key(session, key_id).expires_at = utcnow() - dt.timedelta(seconds=1)
    auth = KeyAuthenticator(database, cache_seconds=3600)
    assert await auth.authenticate_key(key_id, secret) is None
    with database.session() as session:
        # Long enough that a loaded machine still reads and checks the key before it expires.
        find_key(session, key_id).expires_at = utcnow() + dt.timedelta(seconds=1.5)
    assert await auth.authenticate_key(key_id, secret) is not None
    await anyio.sleep(1.6)
    assert await auth.authenticate_key(key_id, secret) is None  # cached, but past expires_at


@pytest.mark.anyio
async def test_key_without_secret_never_authenticates(database: Database) -> None:
    with database.session() as session:
        role = create_role(session, create_user(session, "joe"), "everyday")
        key = Key(role=role)
        session.add(key)
    auth = KeyAuthenticator(database)
    assert await auth.authenticate_key(key.key_id, "") is None
    assert await auth.authenticate_key(key.key_id, "anything") is None


@pytest.mark.anyio
async def test_unknown_key_is_not_cached_so_a_new_key_works_at_once(database: Database) -> None:
    clock = FakeClock()
    auth = KeyAuthenticator(database, cache_seconds=3600, clock=clock)
    with database.session() as session:
        role_pk = create_role(session, create_user(session, "joe"), "everyday").id
    key = Key(role_id=role_pk)
    secret = key.create_secret().decode()
    assert await auth.authenticate_key(key.key_id, secret) is None  # not saved yet
    with database.session() as session:
        session.add(key)
    assert await auth.authenticate_key(key.key_id, secret) is not None


@pytest.mark.anyio
async def test_many_concurrent_first_calls_all_get_their_own_role(database: Database) -> None:
    made = [make_user_role_key(database, f"user{i}") for i in range(5)]
    auth = KeyAuthenticator(database)
    results: dict[int, Any] = {}

    async def call(i: int) -> None:
        role_id, key_id, secret = made[i % 5]
        role = await auth.authenticate_key(key_id, secret)
        results[i] = (role.api_id if role else None, role_id)

    async with anyio.create_task_group() as group:
        for i in range(40):
            group.start_soon(call, i)
    assert len(results) == 40
    assert all(got == want for got, want in results.values())


@pytest.mark.anyio
async def test_cache_size_is_bounded(database: Database) -> None:
    made = [make_user_role_key(database, f"user{i}") for i in range(4)]
    auth = KeyAuthenticator(database, cache_seconds=3600, max_entries=2)
    for _, key_id, secret in made:
        assert await auth.authenticate_key(key_id, secret) is not None
    queries = QueryCounter(database)
    _, last_key, last_secret = made[-1]
    assert await auth.authenticate_key(last_key, last_secret) is not None
    assert queries.count == 0  # most recent stays cached
    _, first_key, first_secret = made[0]
    assert await auth.authenticate_key(first_key, first_secret) is not None
    assert queries.count > 0  # oldest was evicted and read again


# -- MemoryKeys ----------------------------------------------------------------------------


class _User:
    def __init__(self, username: str) -> None:
        self.username = username


class _Role:
    def __init__(self, username: str) -> None:
        self.user = _User(username)


@pytest.mark.anyio
async def test_memory_keys_behave_like_the_database() -> None:
    role = _Role("joebloggs")
    keys = MemoryKeys({"k-0123456789abcdef": (b"abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST", role)})
    assert await keys.authenticate_key("k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST") is role
    assert await keys.authenticate_key("k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRSt") is None
    assert await keys.authenticate_key("k-fedcba9876543210", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST") is None
    good = ("k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST")
    assert await keys.authenticate_user_key("joebloggs", *good) is role
    assert await keys.authenticate_user_key("ann", *good) is None
