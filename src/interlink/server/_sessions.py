"""Site login session cookies: which cookie holds the session token, read from raw headers.

The sessions themselves are server-side, in the store (``interlink.store.SessionStore``), so
that several worker processes on one database share them and a logout ends a session
everywhere.
"""

from __future__ import annotations

__all__ = ["SESSION_COOKIE", "LOGIN_CSRF_COOKIE", "cookie_value", "session_cookie"]

SESSION_COOKIE = "interlink_session"
LOGIN_CSRF_COOKIE = "interlink_login_csrf"


def cookie_value(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    """One cookie from the raw headers (no full parse: called on the API path)."""
    prefix = name.encode() + b"="
    for header, value in headers:
        if header == b"cookie":
            for part in value.split(b";"):
                part = part.strip()
                if part.startswith(prefix):
                    return part[len(prefix):].decode("latin-1") or None
    return None


def session_cookie(headers: list[tuple[bytes, bytes]]) -> str | None:
    return cookie_value(headers, SESSION_COOKIE)
