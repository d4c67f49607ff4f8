"""The auth types a service record may name: vocabulary shared by the store and the clients.

The store validates records against it and ``interlink.http.ServiceConfigAdapter`` turns a
record into an auth flow; keeping the list in the core lets the store check records without
importing an HTTP client.

The names are zgw-consumers' (``no_auth``, ``api_key``, ``zgw``,
``oauth2_client_credentials``) plus ``basic`` and ``bearer``; interlink's earlier names
``none`` and ``jwt`` stay accepted as aliases and are stored under the canonical name.
"""

from __future__ import annotations

__all__ = ["AUTH_TYPES", "AUTH_TYPE_ALIASES", "check_auth_type"]

AUTH_TYPES = ("no_auth", "basic", "api_key", "bearer", "oauth2_client_credentials", "zgw")
AUTH_TYPE_ALIASES = {"none": "no_auth", "jwt": "zgw"}


def check_auth_type(value: str) -> str:
    """The canonical name of the auth type ``value`` (an alias is translated), else
    ``ValueError`` naming the known ones."""
    value = AUTH_TYPE_ALIASES.get(value, value)
    if value not in AUTH_TYPES:
        known = ", ".join((*AUTH_TYPES, *AUTH_TYPE_ALIASES))
        raise ValueError(f"unknown auth type {value!r}; expected one of {known}")
    return value
