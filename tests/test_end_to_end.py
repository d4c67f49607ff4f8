"""The issue's walk-through as a user types it: CLI commands, `interlink serve` in its own
process, curl; `make run`'s example site and its printed curl; the OpenAPI document and /docs."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate
from servers import free_port, wait_until_serving

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl comes with the machine image")

SITE = textwrap.dedent(
    '''
    from dataclasses import dataclass
    from interlink import ApiServer, Role, User
    from sqlalchemy import select
    from interlink.store import User as UserRow

    api = ApiServer()
    home = api.module("home")

    @dataclass
    class UserFilter:
        name_gt: str
        name_lt: str

    @dataclass
    class SiteDescription:
        name: str

    @home.method
    def describe_site(rl: Role) -> SiteDescription:
        return SiteDescription(name="mysite")

    @home.method
    def list_users(rl: Role, filter: UserFilter) -> list[User]:
        from interlink.store import Database
        with Database().session() as session:
            rows = session.scalars(select(UserRow).where(UserRow.username > filter.name_gt,
                                                         UserRow.username < filter.name_lt))
            return list(rows)
    '''
)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_walkthrough_then_curl(tmp_path: Path) -> None:
    (tmp_path / "mysite").mkdir()
    (tmp_path / "mysite" / "__init__.py").write_text("")
    (tmp_path / "mysite" / "api.py").write_text(SITE)
    env = {**os.environ, "INTERLINK_DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}"}
    interlink = str(BIN / "interlink")

    user_id = run([interlink, "users", "create", "joebloggs"], tmp_path, env).strip()
    assert re.fullmatch(r"u-[0-9a-f]{16}", user_id)
    alice_id = run([interlink, "users", "create", "alice"], tmp_path, env).strip()
    run([interlink, "users", "create", "zed"], tmp_path, env)
    role_id = run([interlink, "roles", "create", "--user", "joebloggs", "everyday"], tmp_path, env).strip()
    assert role_id.startswith("r-")
    printed = run([interlink, "keys", "create", "--role", "everyday"], tmp_path, env)
    key_id = re.search(r"access_key_id = (k-[0-9a-f]{16})", printed).group(1)
    secret = re.search(r"access_key_secret = ([A-Za-z0-9]{40})", printed).group(1)

    port = free_port()
    server = subprocess.Popen(
        [interlink, "serve", "mysite.api:api", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        curl = subprocess.run(
            ["curl", "-s", "-X", "POST", "-d", f"filter.name_gt=a&filter.name_lt=p&authorisation={key_id}:{secret}",
             f"http://127.0.0.1:{port}/api/home/list_users"],
            capture_output=True, text=True, timeout=30,
        )
        assert sorted(httpx.Response(200, content=curl.stdout).json()) == sorted([user_id, alice_id])
        basic = subprocess.run(
            ["curl", "-s", "-X", "POST", "-u", f"joebloggs:{key_id}:{secret}", "-d", "",
             f"http://127.0.0.1:{port}/api/home/describe_site"],
            capture_output=True, text=True, timeout=30,
        )
        assert basic.stdout == '{"name":"mysite"}'
        # Revoked with the CLI while the server runs: refused within the cache window.
        run([interlink, "keys", "revoke", key_id], tmp_path, env)
        deadline = time.monotonic() + 10
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.25)
            status = httpx.post(f"http://127.0.0.1:{port}/api/home/describe_site",
                                data={"authorisation": f"{key_id}:{secret}"}).status_code
        assert status == 401
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert secret not in output


def test_make_run_prints_a_curl_that_works_as_printed(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MYSITE_DATA_DIR": str(tmp_path), "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    env.pop("INTERLINK_DATABASE_URL", None)
    for attempt in range(2):  # the second start reuses the demo key it made the first time
        site = subprocess.Popen([sys.executable, "-m", "examples.mysite"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            lines = []
            for line in site.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if "Uvicorn running" in line or "Application startup complete" in line:
                    break
            text = "".join(lines)
            command = next(line.strip() for line in lines if line.strip().startswith("curl "))
            assert f"http://127.0.0.1:{port}/docs" in text
            # "Application startup complete" is logged before the socket listens
            wait_until_serving(f"http://127.0.0.1:{port}/docs", site)
            curl = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
            users = httpx.Response(200, content=curl.stdout).json()
            assert [u["username"] for u in users] == ["alice", "bob", "carol", "demo", "joebloggs", "johndoe"]
            assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
            if attempt == 0:
                check_the_advertised_credentials_file(text, port)
        finally:
            site.terminate()
            site.wait(10)
    assert oct((tmp_path / "credentials").stat().st_mode & 0o777) == "0o600"


def check_the_advertised_credentials_file(banner: str, port: int) -> None:
    """The file the banner names works as it says: for interlink.client.API and `interlink call`,
    although it also holds the [site] login."""
    from interlink.client import API

    path = re.search(r"Demo credentials file:\s+(\S+)", banner)[1]  # type: ignore[index]
    assert "[site]" in Path(path).read_text()
    root = f"http://127.0.0.1:{port}/api"
    with API(root, [path]) as api:
        users = api().home.list_users(filter={"name_gt": "a", "name_lt": "c"})
    assert [u.username for u in users] == ["alice", "bob"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLINK_")}
    called = subprocess.run(
        [str(BIN / "interlink"), "call", "home.list_users", "filter.name_gt=i", "filter.name_lt=k",
         "--root", root, "--credentials", path],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert called.returncode == 0, called.stderr
    assert [u["username"] for u in json.loads(called.stdout)] == ["joebloggs", "johndoe"]
    # The banner's curl -u forms, with the secret from the same file.
    import configparser

    profile = configparser.ConfigParser()
    profile.read(path)
    key_id, secret = profile["default"]["access_key_id"], profile["default"]["access_key_secret"]
    assert f"-u {key_id}:SECRET" in banner and f"-u demo:{key_id}:SECRET" in banner
    for user in (f"{key_id}:{secret}", f"demo:{key_id}:{secret}"):
        curl = subprocess.run(["curl", "-s", "-u", user, "-d", "filter.name_gt=a", "-d", "filter.name_lt=b",
                               f"{root}/home/list_users"], capture_output=True, text=True, timeout=30)
        assert [u["username"] for u in json.loads(curl.stdout)] == ["alice"], curl.stdout


def test_make_run_on_a_taken_port_says_what_to_do_before_any_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "MYSITE_DATA_DIR": str(tmp_path), "PORT": str(port), "HOST": "127.0.0.1"}
        env.pop("INTERLINK_DATABASE_URL", None)
        done = subprocess.run([sys.executable, "-m", "examples.mysite"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Try it" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"make run PORT={port + 1}" in done.stderr


def test_make_run_installs_only_what_running_needs_and_passes_host_and_port() -> None:
    """`make -n -B` prints every command `make run` would run, running none of them."""
    done = subprocess.run(["make", "-n", "-B", "run", "HOST=127.0.0.2", "PORT=8123"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    installs = [line for line in done.stdout.splitlines() if " install " in line and "'." in line]
    assert installs == [line for line in installs if "[server,store,cli]" in line] and installs, done.stdout
    assert "test" not in " ".join(installs) and "bench" not in " ".join(installs)
    assert "HOST='127.0.0.2' PORT='8123'" in done.stdout and "-m examples.mysite" in done.stdout


def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("interlink-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "interlink/py.typed" in names
    assert "interlink/cli/__init__.py" in names and "interlink/cli.py" not in names


def test_openapi_document_is_valid_and_docs_are_offline(tmp_path: Path, live_server) -> None:  # type: ignore[no-untyped-def]
    env_url = f"sqlite:///{tmp_path / 'x.db'}"
    os.environ["MYSITE_DATA_DIR"] = str(tmp_path)
    os.environ["INTERLINK_DATABASE_URL"] = env_url
    try:
        from examples.mysite.api import api
    finally:
        os.environ.pop("INTERLINK_DATABASE_URL")
        os.environ.pop("MYSITE_DATA_DIR")
    url = live_server(api)
    spec = httpx.get(f"{url}/api/openapi.json").json()
    validate(spec)  # OpenAPI 3.1 schema validation
    assert spec["openapi"] == "3.1.0"
    operation = spec["paths"]["/api/home/list_users"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"filter.name_gt", "filter.name_lt"} <= set(form["properties"])
    assert "authorisation" not in form["properties"]  # a key goes in the Authorization header
    assert "application/json" in operation["requestBody"]["content"]
    assert {"200", "400", "401", "403", "413", "415", "500"} <= set(operation["responses"])
    assert operation["security"]
    upload = spec["paths"]["/api/home/upload"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    assert spec["paths"]["/api/home/ping"]["post"]["security"] == []
    page = httpx.get(f"{url}/docs").text
    assert "//" not in re.sub(r"https?://(127\.0\.0\.1|localhost)", "", page.replace("<!doctype html>", ""))
    for asset in re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page):
        response = httpx.get(f"{url}{asset}")
        assert response.status_code == 200 and len(response.content) > 1000
