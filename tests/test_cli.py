"""The `interlink` command: users, roles and keys, through CliRunner and as a real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import click
import pytest
from click.testing import CliRunner, Result

from interlink.cli import main
from interlink.credentials import KEY_ID_PATTERN
from interlink.store import Database, KeyAuthenticator, find_key

INTERLINK = Path(sys.executable).parent / "interlink"


def run(database: Database, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database", database.url, *args], catch_exceptions=False)


def ok(database: Database, *args: str) -> str:
    result = run(database, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def created_key(stdout: str) -> tuple[str, str]:
    match = re.fullmatch(r"access_key_id = (\S+)\naccess_key_secret = (\S+)\n", stdout)
    assert match, stdout
    return match[1], match[2]


def test_the_issue_walkthrough_gives_a_working_key(database: Database) -> None:
    user_id = ok(database, "users", "create", "joebloggs").strip()
    assert re.fullmatch(r"u-[0-9a-f]{16}", user_id)
    role_id = ok(database, "roles", "create", "--user", "joebloggs", "everyday").strip()
    assert re.fullmatch(r"r-[0-9a-f]{16}", role_id)
    result = run(database, "keys", "create", "--role", "everyday")
    assert result.exit_code == 0
    key_id, secret = created_key(result.stdout)
    assert KEY_ID_PATTERN.fullmatch(key_id)
    assert re.fullmatch(r"[A-Za-z0-9]{40}", secret)
    assert "Store the secret now" in result.stderr and secret not in result.stderr

    async def check() -> None:
        auth = KeyAuthenticator(database)
        role = await auth.authenticate_key(key_id, secret)
        assert role is not None and role.api_id == role_id and role.user.username == "joebloggs"
        assert await auth.authenticate_user_key("joebloggs", key_id, secret) is not None

    anyio.run(check)


def test_keys_create_by_api_id_and_by_user_slash_role(database: Database) -> None:
    ok(database, "users", "create", "joe")
    ok(database, "users", "create", "ann")
    joes = ok(database, "roles", "create", "--user", "joe", "everyday").strip()
    anns = ok(database, "roles", "create", "--user", "ann", "everyday").strip()
    by_id, _ = created_key(ok(database, "keys", "create", "--role", anns))
    by_path, _ = created_key(ok(database, "keys", "create", "--role", "joe/everyday"))
    with database.session() as session:
        assert find_key(session, by_id).role.api_id == anns
        assert find_key(session, by_path).role.api_id == joes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["roles", "create", "--user", "nobody", "everyday"], "no user 'nobody'"),
        (["keys", "create", "--role", "weekly"], "no role 'weekly'"),
        (["keys", "create", "--role", "everyday"], "ambiguous"),
        (["users", "create", "joe"], "already exists"),
        (["roles", "create", "--user", "joe", "everyday"], "already has a role 'everyday'"),
        (["users", "create", "joe:x"], "may not contain ':'"),
        (["keys", "revoke", "k-0000000000000000"], "no key 'k-0000000000000000'"),
        (["keys", "list", "--role", "weekly"], "no role 'weekly'"),
        (["roles", "list", "--user", "nobody"], "no user 'nobody'"),
    ],
)
def test_commands_that_cannot_be_done_exit_1_with_one_line(
    database: Database, args: list[str], message: str
) -> None:
    ok(database, "users", "create", "joe")
    ok(database, "users", "create", "ann")
    ok(database, "roles", "create", "--user", "joe", "everyday")
    ok(database, "roles", "create", "--user", "ann", "everyday")
    result = run(database, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_lists_show_users_roles_and_keys_but_no_secrets(database: Database) -> None:
    user_id = ok(database, "users", "create", "joebloggs").strip()
    role_id = ok(database, "roles", "create", "--user", "joebloggs", "everyday").strip()
    key_id, secret = created_key(ok(database, "keys", "create", "--role", role_id))

    users = ok(database, "users", "list")
    assert user_id in users and "joebloggs" in users
    roles = ok(database, "roles", "list")
    assert role_id in roles and "everyday" in roles and "default" in roles
    assert "everyday" in ok(database, "roles", "list", "--user", "joebloggs")
    keys = ok(database, "keys", "list")
    assert key_id in keys and "joebloggs/everyday" in keys and "active" in keys
    assert key_id in ok(database, "keys", "list", "--role", role_id)
    for listing in (users, roles, keys):
        assert secret not in listing


def test_revoke_stops_the_key_and_is_idempotent(database: Database) -> None:
    ok(database, "users", "create", "joebloggs")
    key_id, secret = created_key(ok(database, "keys", "create", "--role", "joebloggs/default"))
    assert ok(database, "keys", "revoke", key_id).strip() == f"revoked {key_id}"
    assert "already revoked" in ok(database, "keys", "revoke", key_id)
    assert "revoked" in ok(database, "keys", "list")

    async def check() -> None:
        assert await KeyAuthenticator(database).authenticate_key(key_id, secret) is None

    anyio.run(check)


def test_group_takes_added_commands_and_passes_its_state() -> None:
    """Other modules extend the CLI with main.add_command; ctx.obj carries --database."""
    seen: list[str | None] = []

    @click.command("probe-extension")
    @click.pass_obj
    def probe(state: object) -> None:
        seen.append(getattr(state, "database_url"))

    main.add_command(probe)
    try:
        result = CliRunner().invoke(main, ["--database", "sqlite://", "probe-extension"])
        assert result.exit_code == 0, result.output
        assert seen == ["sqlite://"]
    finally:
        main.commands.pop("probe-extension")


def test_lazy_commands_load_on_use_and_hide_when_missing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` lives in another module; it is imported only when used, listed only if present."""
    monkeypatch.setattr(
        main, "lazy_commands", {"people": "interlink.cli:users", "ghost": "interlink.no_such:cmd"}
    )
    listing = CliRunner().invoke(main, ["--help"]).stdout
    assert "people" in listing and "ghost" not in listing
    ok(database, "people", "create", "lazyuser")
    assert "lazyuser" in ok(database, "users", "list")
    missing = CliRunner().invoke(main, ["ghost"])
    assert missing.exit_code == 2 and "No such command" in missing.stderr
    main.commands.pop("people", None)


def test_database_from_the_environment(database: Database) -> None:
    result = CliRunner().invoke(
        main, ["users", "create", "envuser"], env={"INTERLINK_DATABASE_URL": database.url}
    )
    assert result.exit_code == 0, result.output
    assert "envuser" in ok(database, "users", "list")


def test_real_process_defaults_to_interlink_db_in_the_current_directory(tmp_path: Path) -> None:
    """The installed console script, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "INTERLINK_DATABASE_URL"}

    def interlink(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(INTERLINK), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    created = interlink("users", "create", "joebloggs")
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"u-[0-9a-f]{16}\n", created.stdout)
    assert (tmp_path / "interlink.db").exists()
    assert interlink("roles", "create", "--user", "joebloggs", "everyday").returncode == 0
    keyed = interlink("keys", "create", "--role", "everyday")
    assert keyed.returncode == 0, keyed.stderr
    key_id, secret = created_key(keyed.stdout)
    duplicate = interlink("users", "create", "joebloggs")
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip() == "Error: user 'joebloggs' already exists"

    database = Database(f"sqlite:///{tmp_path / 'interlink.db'}")
    try:
        with database.session() as session:
            key = find_key(session, key_id)
        assert key.role.name == "everyday" and key.role.user.username == "joebloggs"
    finally:
        database.dispose()
    for path in tmp_path.glob("interlink.db*"):  # the database and its WAL
        assert secret.encode() not in path.read_bytes()
    # Migrations take turns with a lock file beside the database; it is gone once they are done.
    assert not list(tmp_path.glob("*migrate-lock*")), sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--role", "joe/default", "--expires-in", "soon"], "not a duration"),
        (["keys", "create", "--role", "joe/default", "--allow-network", "10.0.0.0/99"], "--allow-network"),
        (["keys", "rotate", "k-0000000000000000", "--grace", "-1h"], "may not be negative"),
        (["services", "add", "x", "https://x.example/", "--header", "no colon"], "--header"),
        (["users", "create"], "Missing argument"),
        (["roles", "list", "--no-such-option"], "No such option"),
    ],
)
def test_wrong_command_lines_exit_2_in_every_group(database: Database, args: list[str], message: str) -> None:
    ok(database, "users", "create", "joe")
    result = run(database, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [["services", "check", "nothere"], ["keys", "rotate", "k-0000000000000000"], ["users", "set-password",
                                                                                   "--password-stdin", "nobody"]],
)
def test_not_found_exits_1_in_every_group(database: Database, args: list[str]) -> None:
    result = CliRunner().invoke(main, ["--database", database.url, *args], input="a long password\n")
    assert result.exit_code == 1, result.output
    assert "no " in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_every_listing_is_one_rich_table(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """users, roles, keys and services all print through print_table (services used to print tabs)."""
    monkeypatch.setenv("INTERLINK_SECRET_KEY", "a-test-secret-key-that-is-long-enough-0123456789")
    ok(database, "users", "create", "joe")
    ok(database, "services", "add", "zaken", "https://zaken.example.org/api/v1")
    for group in ("users", "roles", "keys", "services"):
        listing = ok(database, group, "list")
        assert listing.splitlines()[0].strip() == group, listing
        assert "\t" not in listing and "┃" in listing, listing
    services = ok(database, "services", "list")
    # the base URL as configured (no "/" appended: clients treat it as a directory anyway)
    assert "https://zaken.example.org/api/v1" in services and "api/v1/" not in services and "slug" in services


def test_help_lists_every_command_on_one_whole_line() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    commands = result.stdout.split("Commands:", 1)[1].strip().splitlines()
    assert {line.split()[0] for line in commands} == {
        "call", "callbacks", "deliveries", "keys", "roles", "serve", "services", "sync", "users", "webhooks", "worker",
    }
    for line in commands:
        assert not line.rstrip().endswith("..."), line
    serve = next(line for line in commands if line.split()[0] == "serve")
    assert serve.rstrip().endswith("under uvicorn."), serve


def test_key_status_in_listings_comes_from_the_store(database: Database) -> None:
    import datetime as dt

    from interlink.store import Key, list_keys, utcnow

    ok(database, "users", "create", "joe")
    revoked, _ = created_key(ok(database, "keys", "create", "--role", "joe/default"))
    rotating, _ = created_key(ok(database, "keys", "create", "--role", "joe/default"))
    expired, _ = created_key(ok(database, "keys", "create", "--role", "joe/default", "--expires-in", "0s"))
    ok(database, "keys", "revoke", revoked)
    ok(database, "keys", "rotate", rotating, "--grace", "1h")
    now = utcnow() + dt.timedelta(seconds=1)
    with database.session() as session:
        status = {key.key_id: key.status(now) for key in list_keys(session)}
        assert status == {revoked: "revoked", rotating: "rotating", expired: "expired"}
        assert Key(secret_hash=None).status(now) == "no secret"
    listing = ok(database, "keys", "list")
    assert "rotating (old secret until" in listing and "revoked 20" in listing and "expired" in listing


def test_set_password_ends_the_users_site_sessions_through_the_store(database: Database) -> None:
    import datetime as dt

    from interlink.store import LoginSession, end_sessions, find_user, utcnow

    ok(database, "users", "create", "joe")
    ok(database, "users", "create", "ann")
    later = utcnow() + dt.timedelta(days=1)
    with database.session() as session:
        joe, ann = find_user(session, "joe"), find_user(session, "ann")
        for n, user in enumerate((joe, joe, ann)):
            session.add(LoginSession(token_hash=f"hash-{n}", user_id=user.id, expires_at=later))
    result = CliRunner().invoke(main, ["--database", database.url, "users", "set-password", "--password-stdin",
                                       "joe"], input="a long enough password\n")
    assert result.exit_code == 0, result.output
    with database.session() as session:
        assert [s.user.username for s in session.query(LoginSession)] == ["ann"]
        assert end_sessions(session, find_user(session, "ann")) == 1
        assert session.query(LoginSession).count() == 0


@pytest.mark.parametrize("fields", [["a..b=1"], [".a=1"], ["a.=1", "a=2"]])
def test_call_fields_the_wire_tree_could_not_read_are_usage_errors(fields: list[str]) -> None:
    from interlink.cli._call import parse_fields

    with pytest.raises(click.BadParameter):
        parse_fields(fields)


def test_urls_printed_by_the_cli_are_redacted(database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Userinfo and credential query values never reach the terminal: an unreachable site's
    root, a webhook endpoint and a callback delivery whose URLs carry secrets."""
    import socket

    from cryptography.fernet import Fernet

    from interlink.callbacks import Outbox

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    secret = "pw-0123456789abcdef"
    (tmp_path / "none.ini").write_text("")
    result = run(database, "call", "home.ping", "--root", f"http://bob:{secret}@127.0.0.1:{port}/api",
                 "--credentials", str(tmp_path / "none.ini"))
    assert result.exit_code == 1 and "cannot call home.ping at http://***@127.0.0.1" in result.output
    assert secret not in result.output

    monkeypatch.setenv("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", "127.0.0.0/8")
    ok(database, "webhooks", "add", f"http://127.0.0.1:{port}/hooks?token={secret}&tenant=t1")
    listing = ok(database, "webhooks", "list")
    assert f"/hooks?token=***&tenant=t1" in listing and secret not in listing

    Outbox(database).send(f"http://127.0.0.1:{port}/cb?sig={secret}", {"x": 1})
    listing = ok(database, "deliveries", "list")
    assert "/cb?sig=***" in listing and secret not in listing
