"""The auth types a service record may name: vocabulary shared by the store and the clients.

The store validates records against it and ``interlink.http.ServiceConfigAdapter`` turns a
record into an auth flow; keeping the list in the core lets the store check records without
importing an HTTP client.
"""

from __future__ import annotations

__all__ = ["AUTH_TYPES", "check_auth_type"]

AUTH_TYPES = ("none", "basic", "api_key", "bearer", "oauth2_client_credentials", "jwt")


def check_auth_type(value: str) -> str:
    """``value`` if it is a known auth type, else ``ValueError`` naming the known ones."""
    if value not in AUTH_TYPES:
        raise ValueError(f"unknown auth type {value!r}; expected one of {', '.join(AUTH_TYPES)}")
    return value
