"""``redact_url``: the one way a URL reaches a terminal or a log. Userinfo and the values of
credential-looking query parameters never survive it; everything else does."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interlink.urls import CREDENTIAL_NAMES, has_userinfo, is_credential_name, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://me:pw@h.example/x?api_key=k&page=2", "https://***@h.example/x?api_key=***&page=2"),
        ("https://token@h.example/", "https://***@h.example/"),
        ("https://u:p@ss@h.example:8443/a", "https://***@h.example:8443/a"),
        ("https://h.example/a?ACCESS_TOKEN=t;x=1", "https://h.example/a?ACCESS_TOKEN=***;x=1"),
        ("https://h.example/a?%61pi_key=k", "https://h.example/a?%61pi_key=***"),
        ("https://h.example/a?token[]=k&token[]=j", "https://h.example/a?token[]=***&token[]=***"),
        ("https://s3.example/o?X-Amz-Signature=abc&X-Amz-Credential=c&sort_key=1",
         "https://s3.example/o?X-Amz-Signature=***&X-Amz-Credential=***&sort_key=1"),
        ("https://h.example/cb#access_token=t&state=s", "https://h.example/cb#access_token=***&state=s"),
        ("https://h.example/users/me@example.org", "https://h.example/users/me@example.org"),
        ("/zaken?code=abc&zip_code=1234", "/zaken?code=***&zip_code=1234"),
        ("//u:p@h.example/x", "//***@h.example/x"),
        ("https://h.example/a b\n?x=1", "https://h.example/a%20b%0A?x=1"),
        ("https://[::1/?token=x", "https://[::1/?token=***"),
        (b"https://u:p@h.example/", "https://***@h.example/"),
    ],
)
def test_examples(url: str | bytes, shown: str) -> None:
    assert redact_url(url) == shown


def test_names_of_the_record_itself_are_redacted_too() -> None:
    """A service record's API key may travel in a parameter of any name (``api_key_query``)."""
    assert redact_url("https://h/?x-tenant-key=k&a=1", also=["X-Tenant-Key"]) == "https://h/?x-tenant-key=***&a=1"
    assert redact_url("https://h/?x-tenant-key=k&a=1") == "https://h/?x-tenant-key=k&a=1"


def test_every_listed_name_is_a_credential_in_any_case_and_encoding() -> None:
    for name in CREDENTIAL_NAMES:
        assert is_credential_name(name.upper())
        assert is_credential_name("".join(f"%{ord(c):02x}" for c in name))
    for name in ("page", "sort_key", "zip_code", "state", "keyword", "codec", "session_count"):
        assert not is_credential_name(name)


def test_has_userinfo() -> None:
    assert has_userinfo("https://u:p@h/") and has_userinfo("https://u@h/") and has_userinfo(" https://u:@h")
    assert not has_userinfo("https://h/u@x") and not has_userinfo("https://h/?to=a@b") and not has_userinfo("h@x")


# Secrets carry a marker that appears nowhere else in the URLs built below (hosts, paths and
# plain values are lower case and digits), so "ZQ" in the output means a secret leaked.
MARK = "ZQ"
plain = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
secret = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?# %", min_size=1, max_size=24
).map(lambda s: MARK + s + MARK)  # a leak of its head or its tail shows


@st.composite
def credential_name(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(CREDENTIAL_NAMES)))
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    how = draw(st.integers(0, 2))
    if how == 1:  # percent-encode some letters, as a caller may
        return "".join(f"%{ord(c):02X}" if draw(st.booleans()) else c for c in cased)
    if how == 2:
        return cased + "[]"
    return cased


@st.composite
def url_with_secrets(draw: st.DrawFn) -> tuple[str, list[str], list[str]]:
    secrets: list[str] = []
    kept: list[str] = []
    scheme = draw(st.sampled_from(["https://", "http://", "//", "HTTPS://"]))
    userinfo = ""
    if draw(st.booleans()):
        user = draw(secret)
        password = draw(st.none() | secret)
        secrets += [user] + ([password] if password else [])
        # "@" and ":" may stay raw (the last "@" ends the userinfo); "/", "?", "#" may not.
        safe = draw(st.sampled_from(["", "@:!$&'()*+,;="]))
        userinfo = quote(user, safe=safe.replace(":", "")) + (f":{quote(password, safe=safe)}" if password else "") + "@"
    host = draw(plain) + ".example" + draw(st.sampled_from(["", ":8443"]))
    path = "/" + "/".join(draw(st.lists(plain, max_size=3)))
    pairs: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            value = draw(secret)
            secrets.append(value)
            encode = draw(st.sampled_from([quote_plus, lambda v: quote(v, safe="=:@/?!$'()*,")]))
            pairs.append(f"{draw(credential_name())}={encode(value)}")
        else:
            name, value = draw(plain.filter(lambda n: not is_credential_name(n))), draw(plain)
            kept.append(f"{name}={value}")
            pairs.append(f"{name}={value}")
    url = f"{scheme}{userinfo}{host}{path}"
    if pairs:
        url += "?" + draw(st.sampled_from(["&", ";"])).join(pairs)
    if draw(st.booleans()):
        value = draw(secret)
        secrets.append(value)
        url += f"#access_token={quote_plus(value)}&state=s1"
        kept.append("state=s1")
    return url, secrets, kept


@settings(max_examples=500, deadline=None)
@given(url_with_secrets())
def test_no_secret_survives_redaction(case: tuple[str, list[str], list[str]]) -> None:
    url, secrets, kept = case
    shown = redact_url(url)
    assert MARK not in shown, (url, shown)  # no secret, nor any part of one, encoded or not
    for pair in kept:  # and what is not a credential is still there to read
        assert pair in shown
    assert "\n" not in shown and "\r" not in shown


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120) | st.binary(max_size=120))
def test_any_text_comes_back_redacted_on_one_line(text: str | bytes) -> None:
    shown = redact_url(text)
    assert isinstance(shown, str)
    assert not any(c in shown for c in "\n\r\t\x00")
