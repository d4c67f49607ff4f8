"""Credentials files and environment variables (pure: no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from interlink.client import (
    API,
    Credentials,
    CredentialsFileError,
    ProfileNotFound,
    load_profiles,
    parse_profiles,
    resolve_credentials,
)

SPEC_CONFIG = """[default]
access_key_id = k-0123456789abcdef
access_key_secret = abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST

[day to day working]
access_key_id = k-fedcba9876543210
access_key_secret = asdfghjklmASDFGHJKLMasdfghjklmASDFGHJKLM
"""


def test_parses_the_specification_file() -> None:
    profiles = parse_profiles(SPEC_CONFIG, "config")
    assert profiles == {
        "default": Credentials("k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST"),
        "day to day working": Credentials("k-fedcba9876543210", "asdfghjklmASDFGHJKLMasdfghjklmASDFGHJKLM"),
    }
    assert profiles["default"].authorisation == "k-0123456789abcdef:abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST"


def test_secret_is_not_in_repr() -> None:
    credentials = Credentials("k-0123456789abcdef", "topsecret")
    assert "topsecret" not in repr(credentials) and "k-0123456789abcdef" in repr(credentials)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("access_key_id = k-1\n", 1, "[profile name]"),
        ("[default]\naccess_key_id = k-1\nno equals sign here\n", 3, "name = value"),
        ("[a]\naccess_key_id = k-1\naccess_key_secret = s\n[a]\n", 4, "defined twice"),
        ("[a]\naccess_key_id = k-1\naccess_key_id = k-2\n", 3, "set twice"),
    ],
)
def test_malformed_files_name_the_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(CredentialsFileError) as error:
        parse_profiles(text, "/home/me/config")
    assert error.value.source == "/home/me/config"
    assert error.value.line == line
    assert words in str(error.value)
    assert str(error.value).startswith(f"/home/me/config, line {line}: ")


@pytest.mark.parametrize(
    ("text", "name", "line", "words"),
    [
        ("\n[default]\naccess_key_id = k-1\n", "default", 2, "no access_key_secret"),
        ("[x]\n\n[default]\naccess_key_secret = s\n", "x", 1, "[x] has no access_key_id or access_key_secret"),
        ("[default]\naccess_key_id = k:1\naccess_key_secret = s\n", "default", 1, "cannot contain ':'"),
    ],
)
def test_an_unusable_profile_is_an_error_only_when_selected(text: str, name: str, line: int, words: str) -> None:
    profiles = parse_profiles(text, "/home/me/config")
    assert name not in profiles
    for environ, arguments in (({}, {"profile": name}), ({"INTERLINK_PROFILE": name}, {})):
        with pytest.raises(CredentialsFileError) as error:
            resolve_credentials(profiles, environ, **arguments)
        assert str(error.value).startswith(f"/home/me/config, line {line}: ") and words in str(error.value)


MAKE_RUN_FILE = """[default]
access_key_id = k-0123456789abcdef
access_key_secret = abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST

[site]
username = demo
password = not-a-key
"""


def test_a_password_section_beside_the_key_does_not_break_the_file(tmp_path: Path) -> None:
    """The file `make run` writes: [default] key for the client, [site] login for the browser."""
    config = tmp_path / "credentials"
    config.write_text(MAKE_RUN_FILE)
    profiles = load_profiles([config])
    assert resolve_credentials(profiles, {}) == Credentials(
        "k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST")
    with API("http://127.0.0.1:9/api", [config]) as api:
        assert repr(api()) == "<Session http://127.0.0.1:9/api as k-0123456789abcdef>"
        with pytest.raises(CredentialsFileError, match=rf"{config}, line 5: profile \[site\] has no access_key_id"):
            api("site")


def test_an_unusable_default_is_an_error_not_an_anonymous_call() -> None:
    profiles = parse_profiles("[default]\naccess_key_id = k-1\n[other]\naccess_key_id = k-2\naccess_key_secret = s\n")
    assert resolve_credentials(profiles, {}, profile="other") == Credentials("k-2", "s")
    with pytest.raises(CredentialsFileError, match="no access_key_secret"):
        resolve_credentials(profiles, {})


def test_a_later_file_replaces_a_section_usable_or_not(tmp_path: Path) -> None:
    (tmp_path / "one").write_text(SPEC_CONFIG)
    (tmp_path / "two").write_text("[default]\nusername = me\n[other]\naccess_key_id = k-2\naccess_key_secret = s2\n")
    (tmp_path / "three").write_text("[other]\npassword = x\n[default]\naccess_key_id = k-3\naccess_key_secret = s3\n")
    two = load_profiles([tmp_path / "one", tmp_path / "two"])
    assert "default" not in two and "default" in two.unusable and two["other"] == Credentials("k-2", "s2")
    three = load_profiles([tmp_path / "one", tmp_path / "two", tmp_path / "three"])
    assert three["default"] == Credentials("k-3", "s3") and "other" not in three and "other" in three.unusable


def test_files_expand_home_skip_missing_and_later_files_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "one").write_text(SPEC_CONFIG)
    (tmp_path / "two").write_text("[default]\naccess_key_id = k-2\naccess_key_secret = s2\n[extra]\naccess_key_id = k-3\naccess_key_secret = s3\n")
    profiles = load_profiles(["~/one", "~/missing", "~/two"])
    assert sorted(profiles) == ["day to day working", "default", "extra"]
    assert profiles["default"] == Credentials("k-2", "s2")  # the later file's profile wins


def test_a_malformed_file_fails_when_the_api_is_made(tmp_path: Path) -> None:
    bad = tmp_path / "config"
    bad.write_text("[default]\nthis is not ini\n")
    with pytest.raises(CredentialsFileError, match=rf"{bad}, line 2"):
        API("http://127.0.0.1:9/api", [bad])


def test_a_single_path_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(SPEC_CONFIG)
    api = API("http://127.0.0.1:9/api", str(config))
    assert repr(api("day to day working")) == "<Session http://127.0.0.1:9/api as k-fedcba9876543210>"
    api.close()


PROFILES = parse_profiles(SPEC_CONFIG + "[env]\naccess_key_id = k-e\naccess_key_secret = se\n")
DEFAULT = PROFILES["default"]


@pytest.mark.parametrize(
    ("environ", "arguments", "expected"),
    [
        ({}, {}, DEFAULT),
        ({}, {"profile": "env"}, PROFILES["env"]),
        ({}, {"key_id": "k-x", "key_secret": "sx"}, Credentials("k-x", "sx")),
        ({"INTERLINK_PROFILE": "env"}, {}, PROFILES["env"]),
        ({"INTERLINK_PROFILE": "env"}, {"profile": "default"}, DEFAULT),
        ({"INTERLINK_ACCESS_KEY_ID": "k-v", "INTERLINK_ACCESS_KEY_SECRET": "sv"}, {}, Credentials("k-v", "sv")),
        (
            {"INTERLINK_ACCESS_KEY_ID": "k-v", "INTERLINK_ACCESS_KEY_SECRET": "sv", "INTERLINK_PROFILE": "env"},
            {},
            Credentials("k-v", "sv"),
        ),
        ({"INTERLINK_ACCESS_KEY_ID": "k-v", "INTERLINK_ACCESS_KEY_SECRET": "sv"}, {"profile": "env"}, PROFILES["env"]),
    ],
)
def test_resolution_order(environ: dict[str, str], arguments: dict[str, str], expected: Credentials) -> None:
    assert resolve_credentials(PROFILES, environ, **arguments) == expected


def test_no_default_profile_means_anonymous() -> None:
    assert resolve_credentials({}, {}) is None


@pytest.mark.parametrize(
    ("environ", "arguments", "error"),
    [
        ({}, {"profile": "weekend"}, ProfileNotFound),
        ({"INTERLINK_PROFILE": "weekend"}, {}, ProfileNotFound),
        ({}, {"key_id": "k-x"}, ValueError),
        ({"INTERLINK_ACCESS_KEY_ID": "k-v"}, {}, ValueError),
    ],
)
def test_resolution_errors(environ: dict[str, str], arguments: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        resolve_credentials(PROFILES, environ, **arguments)
