"""OroCommerce's back-office JSON:API as an ``interlink.http`` client.

The usual hand-written client fetches a new OAuth2 token for every request and opens a new
connection per call. On ``APIClient`` it is a few lines: the token is fetched once, cached
and shared by every client built for the same credentials, renewed shortly before it expires
and once more on a 401; connections are kept alive inside ``with``; 429/5xx on reads are
retried with backoff honouring ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from interlink.http import APIClient, OAuth2ClientCredentials

JSONAPI = "application/vnd.api+json"

_tokens: dict[tuple[str, str], OAuth2ClientCredentials] = {}


def oro_auth(token_url: str, client_id: str, client_secret: str) -> OAuth2ClientCredentials:
    """One token source per (token URL, client): every client shares its cached token."""
    key = (token_url, client_id)
    if key not in _tokens:
        _tokens[key] = OAuth2ClientCredentials(token_url, client_id, client_secret, auth_method="client_secret_post")
    return _tokens[key]


class OroApiClient(APIClient):
    """``OroApiClient(base_url, token_url, client_id, client_secret).post("customers", data)``."""

    def __init__(self, base_url: str, token_url: str, client_id: str, client_secret: str) -> None:
        super().__init__(base_url, {
            "auth": oro_auth(token_url, client_id, client_secret),
            "headers": {"Content-Type": JSONAPI, "Accept": JSONAPI},
        })

    def post(self, resource: str, data: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """POST a JSON:API document to ``resource``; the created document, or HTTPStatusError."""
        response = super().post(resource, json=data, **kwargs)
        response.raise_for_status()
        return response.json()
