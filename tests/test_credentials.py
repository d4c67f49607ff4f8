"""interlink.credentials: ids, secrets, hashing and the parsing of what callers send."""

from __future__ import annotations

import base64
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interlink.credentials import (
    KEY_ID_PATTERN,
    check_key_secret,
    hash_key_secret,
    new_api_id,
    new_key_id,
    new_key_secret,
    parse_authorisation,
    parse_basic_header,
    split_key_password,
)
from interlink.errors import NotAuthorised

SPEC_KEY = "k-0123456789abcdef"
SPEC_SECRET = "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST"  # the specification's example, 40 characters


def basic(userpass: str) -> str:
    return "Basic " + base64.b64encode(userpass.encode()).decode()


def test_api_ids_are_prefixed_random_hex() -> None:
    ids = {new_api_id("u") for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"u-[0-9a-f]{16}", i) for i in ids)
    assert re.fullmatch(r"r-[0-9a-f]{16}", new_api_id("r-"))
    # Not sequential: sorted order of creation is not the order of the ids.
    made = [new_api_id("u") for _ in range(50)]
    assert made != sorted(made)


@pytest.mark.parametrize("prefix", ["", "U", "a b", "-", "é"])
def test_api_id_prefix_must_be_simple(prefix: str) -> None:
    with pytest.raises(ValueError):
        new_api_id(prefix)


def test_key_ids_match_the_pattern_and_the_specification() -> None:
    assert KEY_ID_PATTERN.fullmatch(new_key_id())
    assert KEY_ID_PATTERN.fullmatch(SPEC_KEY)
    assert not KEY_ID_PATTERN.fullmatch("k-0123456789ABCDEF")
    assert not KEY_ID_PATTERN.fullmatch("k-0123456789abcde")


def test_key_secrets_are_40_letters_and_digits_and_distinct() -> None:
    secrets_ = [new_key_secret() for _ in range(100)]
    assert len(set(secrets_)) == 100
    allowed = set(string.ascii_letters + string.digits)
    assert all(len(s) == 40 and set(s) <= allowed for s in secrets_)
    # Over many secrets every class of character turns up (would fail for a digits-only bug).
    joined = "".join(secrets_)
    assert set(joined) & set(string.ascii_lowercase)
    assert set(joined) & set(string.ascii_uppercase)
    assert set(joined) & set(string.digits)


def test_hash_is_not_the_secret_and_checks_in_both_directions() -> None:
    secret = new_key_secret()
    stored = hash_key_secret(secret)
    assert secret not in stored
    assert stored.startswith("sha256$") and len(stored) == len("sha256$") + 64
    assert check_key_secret(secret, stored)
    assert not check_key_secret(secret[:-1], stored)
    assert not check_key_secret(secret + "x", stored)
    assert not check_key_secret(secret, stored.removeprefix("sha256$"))  # unknown scheme
    assert not check_key_secret(secret, "")


@given(st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=60))
def test_check_accepts_exactly_the_hashed_secret(secret: str) -> None:
    stored = hash_key_secret(secret)
    assert check_key_secret(secret, stored)
    assert not check_key_secret(secret + "0", stored)


def test_parse_authorisation_of_the_specification_example() -> None:
    assert parse_authorisation(f"{SPEC_KEY}:{SPEC_SECRET}") == (SPEC_KEY, SPEC_SECRET)
    assert parse_authorisation(f" {SPEC_KEY}:{SPEC_SECRET}\n") == (SPEC_KEY, SPEC_SECRET)


@pytest.mark.parametrize(
    "value",
    [
        "",
        SPEC_SECRET,  # no key id
        f"{SPEC_KEY}:",  # no secret
        f"{SPEC_KEY}{SPEC_SECRET}",  # no colon
        f"u-0123456789abcdef:{SPEC_SECRET}",  # not a key id
        f"K-0123456789ABCDEF:{SPEC_SECRET}",
    ],
)
def test_parse_authorisation_rejects_without_echoing_the_secret(value: str) -> None:
    with pytest.raises(NotAuthorised) as caught:
        parse_authorisation(value)
    assert caught.value.status == 401
    assert caught.value.field == "authorisation"
    assert SPEC_SECRET not in str(caught.value)
    assert SPEC_SECRET not in repr(caught.value)
    assert SPEC_SECRET not in str(caught.value.to_dict())


def test_parse_basic_header_with_key_password_keeps_later_colons() -> None:
    header = basic(f"joebloggs:{SPEC_KEY}:{SPEC_SECRET}")
    username, password = parse_basic_header(header)
    assert username == "joebloggs"
    assert password == f"{SPEC_KEY}:{SPEC_SECRET}"
    assert split_key_password(password) == (SPEC_KEY, SPEC_SECRET)


def test_parse_basic_header_plain_password_and_scheme_case() -> None:
    assert parse_basic_header(basic("joebloggs:hunter2")) == ("joebloggs", "hunter2")
    assert parse_basic_header("basic " + basic("a:b")[6:]) == ("a", "b")
    assert parse_basic_header(basic("joe:")) == ("joe", "")
    assert split_key_password("hunter2") is None
    assert split_key_password("k-nothex:abc") is None
    assert split_key_password(f"{SPEC_KEY}:") is None
    assert split_key_password("with:colon") is None


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":password-without-user").decode(),
        "Basic ",
        "Bearer abc",
        "",
    ],
)
def test_parse_basic_header_rejects_malformed(header: str) -> None:
    with pytest.raises(NotAuthorised) as caught:
        parse_basic_header(header)
    assert caught.value.status == 401
    assert "password-without-user" not in str(caught.value)
