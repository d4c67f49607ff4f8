"""A newcomer's mistakes end early, in one line that says what to do: a server with callbacks and
no usable INTERLINK_SECRET_KEY, a role's first signing secret, database URL mistakes, missing
extras inside the command line, client credentials files and API roots, and the small things
(``webhooks list``, ``--help``, the README's and the docs' examples).

The command line runs for real: as a process where what is printed matters (a traceback is
text on stderr), else through click's CliRunner. Servers run under uvicorn on 127.0.0.1; the
receiver of callbacks is a real Starlette app (``callbacks_peers.Receiver``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from client_site import site  # noqa: F401  (fixture)
from interlink.cli import LAZY_COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
INTERLINK = Path(sys.executable).parent / "interlink"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLINK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), *(p for p in [env.get("PYTHONPATH")] if p)])
    return {**env, **extra}


def interlink(*args: str, cwd: Path, env: dict[str, str] | None = None, blocked: tuple[str, ...] = (),
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real ``interlink`` command as a process. ``blocked``: modules that are not installed
    for this run (``sys.modules[name] = None`` makes their import fail as a missing one does)."""
    if blocked:
        code = (f"import sys\nfor name in {list(blocked)!r}: sys.modules[name] = None\n"
                "from interlink.cli import main\nsys.argv[0] = 'interlink'\nmain()\n")
        command = [sys.executable, "-c", code, *args]
    else:
        command = [str(INTERLINK), *args]
    return subprocess.run(command, cwd=cwd, env=env or _clean_env(), capture_output=True, text=True, timeout=timeout)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The process failed with exit 1 and exactly one line on stderr, no traceback."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return lines[0]


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


# -- 1. callbacks without INTERLINK_SECRET_KEY -------------------------------------------------

SERVED = "import os\nfrom callbacks_peers import invoice_api\napi = invoice_api(os.environ['INTERLINK_DATABASE_URL'])\n"


@pytest.mark.parametrize("key", ["", "not-a-fernet-key"])
def test_serve_with_callbacks_refuses_to_start_without_a_usable_secret_key(tmp_path: Path, key: str) -> None:
    (tmp_path / "served_invoices.py").write_text(SERVED)
    env = _clean_env(INTERLINK_DATABASE_URL=f"sqlite:///{tmp_path / 'site.db'}", INTERLINK_SECRET_KEY=key)
    done = interlink("serve", "served_invoices:api", "--port", "0", cwd=tmp_path, env=env)
    line = one_line(done)
    assert "INTERLINK_SECRET_KEY" in line and "Fernet.generate_key()" in line
    assert "this server delivers callbacks" in line


def test_the_app_under_plain_uvicorn_does_not_start_either(tmp_path: Path) -> None:
    """Any ASGI server: the lifespan refuses, so uvicorn stops at startup (with its own report)."""
    (tmp_path / "served_invoices.py").write_text(SERVED)
    env = _clean_env(INTERLINK_DATABASE_URL=f"sqlite:///{tmp_path / 'site.db'}")
    done = subprocess.run([sys.executable, "-m", "uvicorn", "served_invoices:api", "--port", "0"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "INTERLINK_SECRET_KEY is not set" in done.stderr and "Fernet.generate_key()" in done.stderr


def test_the_worker_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'site.db'}"
    assert interlink("--database", database, "users", "create", "someone", cwd=tmp_path).returncode == 0
    line = one_line(interlink("--database", database, "worker", "--until-idle", cwd=tmp_path))
    assert "INTERLINK_SECRET_KEY is not set" in line and "Fernet.generate_key()" in line


def test_callbacks_docs_say_it_up_front() -> None:
    page = (ROOT / "docs" / "callbacks.md").read_text()
    first_section = page.split("\n## ", 1)[0]
    assert "INTERLINK_SECRET_KEY" in first_section and "Fernet.generate_key()" in first_section


# -- 2. a role's first signing secret is made by a person, shown once --------------------------


@pytest.fixture
def callbacks_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", "127.0.0.0/8")


def test_a_roles_callbacks_wait_for_its_secret_then_go_signed_with_it(
    database: Any, live_server: Any, callbacks_env: None
) -> None:
    import asyncio

    from sqlalchemy import select

    from callbacks_peers import Receiver
    from interlink.callbacks import DeliveryWorker, Outbox, OutboxMessage, SigningSecret

    receiver = Receiver()
    url = live_server(receiver.app)
    assert cli("--database", database.url, "users", "create", "partner").exit_code == 0
    role_id = cli("--database", database.url, "roles", "create", "--user", "partner", "billing").stdout.strip()
    message_id = Outbox(database).send(f"{url}/paid", {"paid": True}, signer=role_id)

    asyncio.run(DeliveryWorker(database).run(until_idle=True))
    assert receiver.received == []  # nothing unsigned, nothing signed with a secret nobody saw
    with database.session() as session:
        assert session.scalar(select(SigningSecret).where(SigningSecret.signer == role_id)) is None
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
        assert message is not None and message.state == "pending"
        assert f"interlink callbacks secret --role {role_id}" in message.last_error
        api_id = message.api_id
    listed = cli("--database", database.url, "deliveries", "list")
    assert "has no signing secret yet" in listed.stdout

    made = cli("--database", database.url, "callbacks", "secret", "--role", "partner/billing")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("whsec_")
    again = cli("--database", database.url, "callbacks", "secret", "--role", "partner/billing")
    assert again.exit_code == 1 and "shown once" in again.output and secret not in again.output

    receiver.secrets["/paid"] = [secret]
    assert cli("--database", database.url, "deliveries", "retry", api_id).exit_code == 0
    asyncio.run(DeliveryWorker(database).run(until_idle=True))
    assert [r["verified"] for r in receiver.received] == [True]


def test_signers_named_in_code_are_read_by_code_and_rotated_by_name(database: Any, callbacks_env: None) -> None:
    from interlink.callbacks import Outbox

    secret = Outbox(database).secret("invoices")
    assert Outbox(database).secret("invoices") == secret  # the code reads it whenever it likes
    shown = cli("--database", database.url, "callbacks", "secret", "--signer", "invoices")
    assert shown.exit_code == 1 and "Outbox(...).secret('invoices')" in shown.output and secret not in shown.output
    rotated = cli("--database", database.url, "callbacks", "secret", "--signer", "invoices", "--rotate")
    assert rotated.exit_code == 0 and rotated.stdout.strip() not in ("", secret)
    neither = cli("--database", database.url, "callbacks", "secret")
    assert neither.exit_code == 2 and "--role" in neither.output


# -- 3. database URL mistakes -------------------------------------------------------------------


def test_a_typo_in_a_sqlite_name_is_refused_not_made(tmp_path: Path) -> None:
    real = tmp_path / "app.db"
    assert interlink("--database", f"sqlite:///{real}", "users", "create", "someone", cwd=tmp_path).returncode == 0
    for args in (["keys", "list"], ["users", "list"], ["deliveries", "list"], ["sync", "status"],
                 ["roles", "create", "--user", "someone", "x"]):
        line = one_line(interlink("--database", "sqlite:///ap.db", *args, cwd=tmp_path))
        assert "no database at sqlite:///ap.db" in line and "interlink users create NAME" in line, args
    line = one_line(interlink("keys", "list", cwd=tmp_path, env=_clean_env(INTERLINK_DATABASE_URL="sqlite:///ap.db")))
    assert "INTERLINK_DATABASE_URL" in line
    # The default database (a forgotten `export`) is refused the same way.
    line = one_line(interlink("keys", "list", cwd=tmp_path))
    assert "no database at sqlite:///interlink.db" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # nothing new was made


def test_commands_that_make_data_may_make_the_database(tmp_path: Path) -> None:
    done = interlink("--database", "sqlite:///new.db", "users", "create", "first", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("u-"), done.stderr
    assert interlink("--database", "sqlite:///new.db", "users", "list", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///nofolder/app.db", "cannot use the database sqlite:///nofolder/app.db: the folder"),
        ("notaurl", "'notaurl' is not a database URL"),
        ("foo://host/db", "names no database SQLAlchemy knows ('foo')"),
        # nothing listens on port 1: the connection is refused, said in one line, password masked
        ("postgresql+psycopg://me:hunter2@127.0.0.1:1/app", "cannot open the database postgresql+psycopg://me:***@127.0.0.1:1/app"),
    ],
)
def test_other_database_mistakes_are_one_line_naming_the_url(tmp_path: Path, url: str, expected: str) -> None:
    for args in (["users", "create", "someone"], ["keys", "list"]):
        line = one_line(interlink("--database", url, *args, cwd=tmp_path))
        assert expected in line and "hunter2" not in line, line


def test_a_postgresql_url_without_its_driver_names_the_extra(tmp_path: Path) -> None:
    done = interlink("--database", "postgresql://me:hunter2@db.example/app", "keys", "list", cwd=tmp_path,
                     blocked=("psycopg", "psycopg2"))
    line = one_line(done)
    assert "postgresql://me:***@db.example/app" in line and "pip install 'interlink[postgres]'" in line
    assert "hunter2" not in line


def test_serve_checks_the_database_url_before_starting(tmp_path: Path) -> None:
    (tmp_path / "plain_site.py").write_text("from interlink.server import ApiServer\napi = ApiServer()\n")
    line = one_line(interlink("--database", "notaurl", "serve", "plain_site:api", "--port", "0", cwd=tmp_path))
    assert "'notaurl' is not a database URL" in line


# -- 4. missing extras inside the command line ---------------------------------------------------


def test_deliveries_list_without_rich_names_the_cli_extra(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'app.db'}"
    assert interlink("--database", database, "users", "create", "someone", cwd=tmp_path).returncode == 0
    line = one_line(interlink("--database", database, "deliveries", "list", cwd=tmp_path, blocked=("rich",)))
    assert line == "Error: this command needs the cli extra (rich is not installed): pip install 'interlink[cli]'"
    verbose = interlink("--database", database, "-v", "deliveries", "list", cwd=tmp_path, blocked=("rich",))
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr  # -v: the whole story


def test_sync_run_without_prefect_names_the_flows_extra(tmp_path: Path) -> None:
    line = one_line(interlink("sync", "run", "customers", cwd=tmp_path, blocked=("prefect",)))
    assert "pip install 'interlink[flows]'" in line


def test_an_unexpected_error_is_one_line_and_says_how_to_see_more(tmp_path: Path) -> None:
    (tmp_path / "broken_site.py").write_text(
        "from interlink.server import ApiServer\nclass Broken(ApiServer):\n"
        "    @property\n    def database(self):\n        raise KeyError('boom')\n"
        "    @database.setter\n    def database(self, value):\n        pass\napi = Broken()\n")
    line = one_line(interlink("serve", "broken_site:api", "--port", "0", cwd=tmp_path))
    assert "KeyError" in line and "interlink -v" in line


# -- 5. client mistakes ---------------------------------------------------------------------------


def test_an_explicit_credentials_file_that_does_not_exist_is_named(tmp_path: Path) -> None:
    from interlink.client import API, CredentialsFileError

    done = interlink("call", "home.whoami", "--root", "http://127.0.0.1:1/api", "--credentials", "nofile.ini", cwd=tmp_path)
    line = one_line(done)
    assert "nofile.ini: no such credentials file" in line
    with pytest.raises(CredentialsFileError, match="missing.ini: no such credentials file"):
        API("http://127.0.0.1:1/api", [str(tmp_path / "missing.ini")])
    API("http://127.0.0.1:1/api", ["~/.nobody-has-this/credentials"])  # the per-user places stay optional


def test_a_root_without_the_api_prefix_says_so(site: Any, tmp_path: Path) -> None:
    from client_site import SPEC_CONFIG

    from interlink.client import API
    from interlink.errors import NoSuchMethod

    credentials = tmp_path / "credentials"
    credentials.write_text(SPEC_CONFIG)
    bare = site.root.removesuffix("/api")
    with API(bare, [str(credentials)]) as client, pytest.raises(NoSuchMethod, match="probably lacks the API prefix"):
        client.home.whoami()
    done = CliRunner().invoke(main, ["call", "home.whoami", "--root", bare, "--credentials", str(credentials)])
    assert done.exit_code == 1 and "probably lacks the API prefix" in done.stderr
    # An interlink server's own answer is left as it is.
    with API(site.root, [str(credentials)]) as client, pytest.raises(NoSuchMethod) as unknown:
        client.home.nothing_here()
    assert "prefix" not in unknown.value.message


# -- 6. smaller things ----------------------------------------------------------------------------


def test_webhooks_list_shows_the_roles_name(database: Any, callbacks_env: None) -> None:
    assert cli("--database", database.url, "users", "create", "partner").exit_code == 0
    role_id = cli("--database", database.url, "roles", "create", "--user", "partner", "billing").stdout.strip()
    added = cli("--database", database.url, "webhooks", "add", "http://127.0.0.1:9/hook", "--role", role_id)
    assert added.exit_code == 0, added.output
    listed = cli("--database", database.url, "webhooks", "list").stdout
    assert "partner/billing" in listed and role_id not in listed


def test_the_readme_keeps_app_ini_private() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "> app.ini" in readme and "chmod 600 app.ini" in readme
    assert readme.index("chmod 600 app.ini") > readme.index("> app.ini")


def test_the_docs_auth_example_makes_no_short_key_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import secrets

    page = (ROOT / "docs" / "rest-server.md").read_text()
    assert "a long random secret" not in page
    block = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "Auth(" in b and "issuer=" in b)
    code = "\n".join(line for line in block.splitlines() if not line.startswith("rsa = "))  # its keys are placeholders
    monkeypatch.setenv("FRUITS_TOKEN_KEY", secrets.token_urlsafe(64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        namespace: dict[str, Any] = {}
        exec(compile(code, "rest-server.md", "exec"), namespace)  # noqa: S102 - the page's own example
    assert namespace["claims"]["sub"] == "alice"


def test_top_level_help_names_every_command_group() -> None:
    done = cli("--help")
    assert done.exit_code == 0
    description, _, commands = done.stdout.partition("Commands:")
    for name in [*LAZY_COMMANDS, "users", "roles", "keys"]:
        assert re.search(rf"^\s+{name}\s", commands, re.M), name
    for word in ("users", "roles", "keys", "service records", "callbacks", "webhooks", "deliveries", "sync"):
        assert word in description, word
    assert "-v, --verbose" in done.stdout
