"""Service records: where another service lives and how to authenticate to it.

zgw-consumers' ``Service`` in SQLAlchemy. Differences: certificates and keys are stored as
PEM text (not file paths), and every secret (password, API key, client secret, private key) is
encrypted at rest (``_encryption.py``). ``base_url`` is kept as configured (an absolute http(s)
URL without query or fragment): REST clients treat it as a directory whether or not it ends in
``/`` (zgw-consumers appends the ``/`` when saving; the effect is the same), and a StUF or SOAP
service is posted to exactly as configured, as Open Forms does. A URL with a user name or
password in it (``https://user:pw@host/``) is refused: it would be stored, listed and logged in
plain text; the record's ``username`` and ``secret`` hold them (encrypted).
``interlink.http.build_client(service)`` turns a record into a client; ``str(service)`` is its
label, as Open Forms' and zgw-consumers' models print; ``service.connection_check`` is
zgw-consumers' property.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, validates

from interlink.service_auth import AUTH_TYPES, check_auth_type
from interlink.urls import URLRuleError, has_userinfo, is_inside, normalise_base_url, redact_url
from interlink.store._encryption import decrypt_secret, encrypt_secret
from interlink.store._models import Base, utcnow

__all__ = ["Service", "find_service", "find_service_for_url", "AUTH_TYPES"]


class Service(Base):
    __tablename__ = "interlink_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str] = mapped_column(String(1000))
    auth_type: Mapped[str] = mapped_column(String(40), default="no_auth")
    username: Mapped[str] = mapped_column(String(200), default="")
    client_id: Mapped[str] = mapped_column(String(200), default="")
    token_url: Mapped[str] = mapped_column(String(1000), default="")
    scope: Mapped[str] = mapped_column(String(500), default="")
    client_auth_method: Mapped[str] = mapped_column(String(40), default="client_secret_basic_raw")
    api_key_header: Mapped[str] = mapped_column(String(100), default="")
    api_key_query: Mapped[str] = mapped_column(String(100), default="")
    jwt_lifetime: Mapped[int] = mapped_column(Integer, default=43200)
    user_id: Mapped[str] = mapped_column(String(200), default="")
    user_representation: Mapped[str] = mapped_column(String(200), default="")
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    client_certificate: Mapped[str | None] = mapped_column(Text, default=None)
    client_private_key_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    server_ca: Mapped[str | None] = mapped_column(Text, default=None)
    timeout: Mapped[float | None] = mapped_column(Float, default=None)
    extra_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Protocol settings that are not HTTP: ``{"soap": {...}, "stuf": {...}}`` (interlink.soap,
    # interlink.stuf read them); no secrets here, those stay in the encrypted columns.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __init__(
        self,
        *,
        secret: str | None = None,
        client_private_key: str | None = None,
        token_use_client_tls: bool | None = None,
        api_connection_check_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # After ``options``, whatever the keyword order: these live inside ``options``.
        if token_use_client_tls is not None:
            self.token_use_client_tls = token_use_client_tls
        if api_connection_check_path is not None:
            self.api_connection_check_path = api_connection_check_path
        if secret:
            self.set_secret(secret)
        if client_private_key:
            self.set_client_private_key(client_private_key)

    @validates("base_url")
    def _check_base_url(self, key: str, value: str) -> str:
        _refuse_userinfo("base URL", value)
        normalise_base_url(value)  # the one rule of what a base URL is: URLRuleError if not
        return value.strip()  # kept as configured: a StUF service is posted to exactly this

    @validates("token_url")
    def _check_token_url(self, key: str, value: str) -> str:
        _refuse_userinfo("token URL", value)
        return value

    @validates("auth_type")
    def _check_auth_type(self, key: str, value: str) -> str:
        return check_auth_type(value)  # zgw-consumers' names; ``none``/``jwt`` are aliases

    @property
    def token_use_client_tls(self) -> bool:
        """Send OAuth2 token requests with this record's CA and client certificate. Off by
        default: the token endpoint is usually a public identity provider (default trust, no
        client certificate). Kept in ``options["http"]``."""
        return bool(((self.options or {}).get("http") or {}).get("token_use_client_tls", False))

    @token_use_client_tls.setter
    def token_use_client_tls(self, value: bool) -> None:
        self._set_http_option("token_use_client_tls", bool(value))

    @property
    def api_connection_check_path(self) -> str:
        """What :attr:`connection_check` GETs, relative to ``base_url`` (zgw-consumers' field);
        empty: the base URL itself. Kept in ``options["http"]``."""
        return str(((self.options or {}).get("http") or {}).get("api_connection_check_path", ""))

    @api_connection_check_path.setter
    def api_connection_check_path(self, value: str) -> None:
        self._set_http_option("api_connection_check_path", str(value or ""))

    def _set_http_option(self, name: str, value: object) -> None:
        options = dict(self.options or {})  # a new dict, so that the JSON column sees the change
        options["http"] = {**(options.get("http") or {}), name: value}
        self.options = options

    @property
    def connection_check(self) -> int | None:
        """zgw-consumers' property: the HTTP status of a GET to ``api_connection_check_path``
        (else the base URL) with this record's client, or ``None`` when the service cannot be
        reached. Reading it makes a request."""
        # The store does not build clients; interlink.http reads records (imported when
        # asked, as zgw-consumers' model imports its client).
        from interlink.http import connection_check

        return connection_check(self)

    # Secrets: set in plain text, stored encrypted, read back through get_*.
    def set_secret(self, plain: str | None) -> None:
        self.secret_encrypted = encrypt_secret(plain) if plain else None

    def get_secret(self) -> str:
        return decrypt_secret(self.secret_encrypted) if self.secret_encrypted else ""

    def set_client_private_key(self, pem: str | None) -> None:
        self.client_private_key_encrypted = encrypt_secret(pem) if pem else None

    def get_client_private_key(self) -> str | None:
        return decrypt_secret(self.client_private_key_encrypted) if self.client_private_key_encrypted else None

    def __str__(self) -> str:
        return self.label or self.slug or ""  # as Open Forms' and zgw-consumers' models print

    def __repr__(self) -> str:
        base_url = redact_url(self.base_url)  # a row stored before userinfo was refused
        return f"Service(slug={self.slug!r}, label={self.label!r}, base_url={base_url!r}, auth_type={self.auth_type!r})"


_INSTEAD = {
    "base URL": "the record's basic-auth credentials (auth_type='basic', username=..., secret=...)",
    "token URL": "the record's client_id and secret",
}


def _refuse_userinfo(what: str, url: str | None) -> None:
    """No credentials in a URL: ``base_url`` is plain text in the table, in ``services list``
    and in logs. The message shows the URL redacted, never the password."""
    if url and has_userinfo(url):
        raise URLRuleError(
            f"{what} {redact_url(url)!r} holds a user name or password: leave them out of the URL "
            f"and give them as {_INSTEAD[what]} instead, where the secret is stored encrypted"
        )


def find_service(session: Session, slug: str) -> Service | None:
    return session.scalars(select(Service).where(Service.slug == slug)).one_or_none()


def find_service_for_url(session: Session, url: str) -> Service | None:
    """The service whose base URL contains ``url``, the longest (most specific) one winning."""
    candidates = [s for s in session.scalars(select(Service)) if is_inside(s.base_url, url)]
    return max(candidates, key=lambda s: len(s.base_url), default=None)
