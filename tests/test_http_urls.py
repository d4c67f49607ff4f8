"""The base-URL containment check (pure): what ape-pie's prefix check lets through, we refuse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interlink.http import InvalidURLError
from interlink.http._urls import is_inside, normalise_base_url, resolve_url

BASE = "https://example.com/api"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("foo", "https://example.com/api/foo"),
        ("/foo", "https://example.com/api/foo"),
        ("foo/bar?x=1&y=%20", "https://example.com/api/foo/bar?x=1&y=%20"),
        ("", "https://example.com/api/"),
        ("a/./b/", "https://example.com/api/a/b/"),
        ("a/../b", "https://example.com/api/b"),
        ("../api/x", "https://example.com/api/x"),
        ("https://example.com/api/x?q=1", "https://example.com/api/x?q=1"),
        ("https://EXAMPLE.com:443/api/v1/", "https://EXAMPLE.com:443/api/v1/"),
        ("//example.com/api/y", "https://example.com/api/y"),
        ("https://example.com/api", "https://example.com/api"),
    ],
)
def test_urls_inside_the_base_resolve(url: str, expected: str) -> None:
    assert resolve_url(BASE, url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com.evil.org/api/x",  # ape-pie's startswith() accepts this
        "https://example.com/api-other",  # ... and this
        "https://example.com/api-other/x",
        "http://example.com/api/x",  # other scheme
        "https://example.com:8443/api/x",  # other port
        "https://evil.org/api/x",
        "//evil.org/api/x",
        "../x",  # climbs out
        "a/../../x",
        "%2e%2e/secret",  # encoded dots climb too
        "https://example.com/api/../secret",
        "ftp://example.com/api/x",
    ],
)
def test_urls_outside_the_base_raise(url: str) -> None:
    with pytest.raises(InvalidURLError):
        resolve_url(BASE, url)


def test_base_url_is_normalised_and_validated() -> None:
    assert normalise_base_url("https://Example.com/api") == "https://example.com/api/"
    assert normalise_base_url("http://h") == "http://h/"
    for bad in ("example.com/api", "ftp://h/", "https://h/api?x=1"):
        with pytest.raises(InvalidURLError):
            normalise_base_url(bad)


def test_default_ports_are_equal_to_explicit_ones() -> None:
    assert is_inside("https://h/a/", "https://h:443/a/b")
    assert is_inside("http://h:80/a/", "http://h/a/b")
    assert not is_inside("http://h/a/", "http://h:8080/a/b")


segment = st.text(alphabet="abcxyz-._~0", min_size=1, max_size=6)


@given(st.lists(st.one_of(segment, st.just(".."), st.just(".")), max_size=8))
def test_resolved_urls_never_leave_the_base(parts: list[str]) -> None:
    relative = "/".join(parts)
    try:
        absolute = resolve_url(BASE, relative)
    except InvalidURLError:
        return
    assert absolute.startswith("https://example.com/api/") or absolute == "https://example.com/api"
    assert is_inside(BASE, absolute)


def test_the_rules_live_in_the_core_without_httpx() -> None:
    """The store checks records with these rules; importing them (or the store) loads no httpx."""
    import subprocess
    import sys

    from interlink import urls

    with pytest.raises(urls.URLRuleError):
        urls.resolve_url("https://example.com/api", "https://example.com.evil.org/api")
    assert issubclass(InvalidURLError, urls.URLRuleError) and issubclass(urls.URLRuleError, ValueError)
    code = "import sys, interlink.urls, interlink.service_auth, interlink.store; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
