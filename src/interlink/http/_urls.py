"""The URL rules of ``interlink.urls`` with the client's error class.

The rules themselves are pure and live in the core (the store checks records with them);
this shell only turns their ``URLRuleError`` into :class:`InvalidURLError`, which is also an
``httpx.InvalidURL``, so callers catch one class whichever layer refused the URL. The guard
exists because ape-pie's ``str.startswith`` containment check lets
``https://example.com.evil.org`` through for the base ``https://example.com``.
"""

from __future__ import annotations

from typing import Any

from interlink import urls
from interlink.http._errors import InvalidURLError

__all__ = ["InvalidURLError", "normalise_base_url", "resolve_url", "is_inside", "is_base_url"]

is_base_url = urls.is_base_url


def normalise_base_url(base_url: str) -> str:
    try:
        return urls.normalise_base_url(base_url)
    except urls.URLRuleError as exc:
        raise InvalidURLError(str(exc)) from None


def is_inside(base_url: str, url: str) -> bool:
    try:
        return urls.is_inside(base_url, url)
    except urls.URLRuleError as exc:
        raise InvalidURLError(str(exc)) from None


def resolve_url(base_url: str, url: Any) -> str:
    try:
        return urls.resolve_url(base_url, url)
    except urls.URLRuleError as exc:
        raise InvalidURLError(str(exc)) from None
