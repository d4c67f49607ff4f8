"""CSRF tokens for forms posted with a session cookie.

The token is derived from the session token: ``HMAC-SHA256(session_token, "interlink-csrf")``,
base64url. Only someone who holds the cookie (the browser) or reads one of the site's pages can
know it; a cross-site form cannot. Nothing is stored. The login form, which has no session
yet, uses a double-submit cookie instead (a random ``interlink_login_csrf`` cookie that the
form must repeat).

The token travels as the form field ``csrf_token`` (``csrfmiddlewaretoken``, Django's name, is
accepted too) or the header ``X-CSRF-Token`` for scripts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from interlink.wire import FormValue

__all__ = ["CSRF_FIELD", "CSRF_FIELDS", "CSRF_HEADER", "csrf_token_for", "csrf_matches", "pop_csrf"]

CSRF_FIELD = "csrf_token"
CSRF_FIELDS = (CSRF_FIELD, "csrfmiddlewaretoken")
CSRF_HEADER = b"x-csrf-token"


def csrf_token_for(session_token: str) -> str:
    digest = hmac.new(session_token.encode(), b"interlink-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_matches(session_token: str, sent: str | None) -> bool:
    if not sent:
        return False
    return hmac.compare_digest(csrf_token_for(session_token).encode(), sent.encode())


def pop_csrf(
    pairs: list[tuple[str, FormValue]],
    json_arguments: dict[str, Any] | None,
    headers: list[tuple[bytes, bytes]],
) -> str | None:
    """Take the CSRF token out of the arguments (so methods never see it), else the header."""
    found: str | None = None
    kept: list[tuple[str, FormValue]] = []
    for name, value in pairs:
        if name in CSRF_FIELDS:
            if isinstance(value, str):
                found = value
        else:
            kept.append((name, value))
    if len(kept) != len(pairs):
        pairs[:] = kept
    if isinstance(json_arguments, dict):
        for name in CSRF_FIELDS:
            value = json_arguments.pop(name, None)
            if isinstance(value, str):
                found = value
    if found is None:
        for header, raw in headers:
            if header == CSRF_HEADER:
                return raw.decode("latin-1")
    return found
