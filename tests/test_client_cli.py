"""``interlink call`` against a live interlink server (click's CliRunner, and once as a process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from interlink.cli import main
from interlink.cli._call import parse_fields
from client_site import SPEC_CONFIG, USERS, site  # noqa: F401  (fixture)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("INTERLINK_PROFILE", "INTERLINK_ACCESS_KEY_ID", "INTERLINK_ACCESS_KEY_SECRET",
                 "INTERLINK_API_ROOT", "INTERLINK_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "credentials"
    path.write_text(SPEC_CONFIG)
    return path


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_call_prints_json_when_piped(site, config) -> None:
    result = run("call", "home.list_users", "filter.name_gt=c", "filter.name_lt=joh",
                 "--root", site.root, "--credentials", str(config), "--profile", "day to day working")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"username": "carol", "api_id": "u-0000000000000000"},
        {"username": "joebloggs", "api_id": "u-0000000000000001"},
    ]


def test_call_prints_a_table_when_asked(site, config) -> None:
    result = run("call", "home.list_users", "usernames=bob", "usernames=alice", "--output", "table",
                 "--root", site.root, "--credentials", str(config))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("username" in line and "api_id" in line for line in lines)
    assert any("alice" in line for line in lines) and any("bob" in line for line in lines)
    assert not any("carol" in line for line in lines)


def test_call_uploads_files_and_reads_root_from_the_environment(site, config, tmp_path, monkeypatch) -> None:
    document = tmp_path / "notes.txt"
    document.write_text("hello file")
    monkeypatch.setenv("INTERLINK_API_ROOT", site.root)
    monkeypatch.setenv("INTERLINK_ACCESS_KEY_ID", "k-0123456789abcdef")
    monkeypatch.setenv("INTERLINK_ACCESS_KEY_SECRET", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST")
    result = run("call", "home.upload", f"document@{document}", "note=a=b")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "filename": "notes.txt", "content_type": "text/plain", "size": 10, "text": "hello file", "note": "a=b"}


def test_call_reports_api_errors_on_stderr(site, config) -> None:
    result = CliRunner().invoke(main, ["call", "home.echo", "number=lots", "--root", site.root,
                                       "--credentials", str(config)])
    assert result.exit_code == 1
    assert "bad_arguments (HTTP 400)" in result.stderr and "(field: number)" in result.stderr
    assert result.stdout == ""


def test_call_reports_unknown_profile(site, config) -> None:
    result = CliRunner().invoke(main, ["call", "home.whoami", "--root", site.root,
                                       "--credentials", str(config), "--profile", "weekend"])
    assert result.exit_code == 1 and "no profile 'weekend'" in result.output


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["filter.name_gt=a", "filter.name_lt=p"], {"filter": {"name_gt": "a", "name_lt": "p"}}),
        (["usernames.=", "usernames=joebloggs", "usernames=johndoe"], {"usernames": ["joebloggs", "johndoe"]}),
        (["usernames.0=joebloggs", "usernames.1=johndoe"], {"usernames": {"0": "joebloggs", "1": "johndoe"}}),
        (["filter.="], {"filter": {}}),
        (["x=a=b", "y="], {"x": "a=b", "y": ""}),
    ],
)
def test_parse_fields(fields: list[str], expected: dict[str, object]) -> None:
    assert parse_fields(fields) == expected


@pytest.mark.parametrize("fields", [["novalue"], ["a=1", "a.b=2"], ["a.b=2", "a=1"], ["=x"], ["a.=x"]])
def test_parse_fields_refuses_what_cannot_be_sent(fields: list[str]) -> None:
    with pytest.raises(click.BadParameter):
        parse_fields(fields)


def test_interlink_call_as_a_process(site, config) -> None:
    env = {**os.environ, "INTERLINK_API_ROOT": site.root, "INTERLINK_CREDENTIALS_FILE": str(config)}
    for name in ("INTERLINK_PROFILE", "INTERLINK_ACCESS_KEY_ID", "INTERLINK_ACCESS_KEY_SECRET"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "interlink.cli", "call", "home.describe_site"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"name": "my wonderful site", "users": {"count": len(USERS)}, "role": "default"}
