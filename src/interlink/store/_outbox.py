"""The callback outbox's tables (migration 0005): messages to deliver, every attempt, webhook
endpoints, and the signing secrets of roles (and of other signers, such as a FastAPI app's).

They belong to the store, like every interlink table: they are in ``Base.metadata`` whatever
was imported, so migrations and Alembic's autogenerate always see them. ``interlink.callbacks``
writes and delivers them (and re-exports the names).

Secrets are stored encrypted with the store's key (``INTERLINK_SECRET_KEY``, store/_encryption.py)
and decrypted only by the worker that signs, and by the command that shows one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from interlink.credentials import new_api_id
from interlink.store._encryption import decrypt_secret, encrypt_secret
from interlink.store._models import Base, utcnow

__all__ = ["DeliveryAttempt", "OutboxMessage", "SigningSecret", "WebhookEndpoint"]


class _RotatingSecret:
    """A current secret and, during a rotation, the previous one until ``previous_expires_at``."""

    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_expires_at: dt.datetime | None

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = encrypt_secret(secret)

    def rotate(self, secret: str, overlap: dt.timedelta, now: dt.datetime | None = None) -> None:
        now = now or utcnow()
        if overlap > dt.timedelta(0):
            self.previous_secret_encrypted = self.secret_encrypted
            self.previous_expires_at = now + overlap
        else:
            self.previous_secret_encrypted = None
            self.previous_expires_at = None
        self.set_secret(secret)

    def live_secrets(self, now: dt.datetime | None = None) -> list[str]:
        """The secrets to sign with now: the current one first."""
        now = now or utcnow()
        out = [decrypt_secret(self.secret_encrypted)]
        if self.previous_secret_encrypted and self.previous_expires_at and now < self.previous_expires_at:
            out.append(decrypt_secret(self.previous_secret_encrypted))
        return out


class SigningSecret(Base, _RotatingSecret):
    """The secret callbacks to one signer are signed with; a signer is a role's api_id."""

    __tablename__ = "interlink_callback_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    signer: Mapped[str] = mapped_column(String(100), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    previous_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base, _RotatingSecret):
    """A subscription: where a role wants webhook events sent, which ones, and its own secret."""

    __tablename__ = "interlink_webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_id: Mapped[str] = mapped_column(String(40), unique=True)
    role_api_id: Mapped[str | None] = mapped_column(String(40), index=True, default=None)
    url: Mapped[str] = mapped_column(String(2048))
    # Event names; empty = every event.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(200), default="")
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    previous_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(String(500), default="")
    # Start of the current run of failed attempts (None after a success): the 5-day rule.
    failing_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("api_id", new_api_id("we"))
        kwargs.setdefault("events", [])
        kwargs.setdefault("enabled", True)
        kwargs.setdefault("disabled_reason", "")
        kwargs.setdefault("description", "")
        super().__init__(**kwargs)

    def wants(self, event: str) -> bool:
        return self.enabled and (not self.events or event in self.events)

    def __repr__(self) -> str:
        return f"WebhookEndpoint(api_id={self.api_id!r}, url={self.url!r})"


class OutboxMessage(Base):
    """One message to one destination. ``message_id`` is what receivers de-duplicate on: the
    same for every attempt (and for every endpoint a webhook event fans out to)."""

    __tablename__ = "interlink_outbox"
    __table_args__ = (Index("ix_interlink_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_id: Mapped[str] = mapped_column(String(40), unique=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # callback | webhook
    event: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10), default="POST")
    url: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[str] = mapped_column(Text)
    signer: Mapped[str | None] = mapped_column(String(100), default=None)
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("interlink_webhook_endpoints.id", ondelete="CASCADE"), index=True, default=None
    )
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A claimed message is someone's until then; a worker that dies leaves it to the next.
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    # W3C trace context (traceparent, tracestate as JSON) of the work that queued it, when
    # tracing is on (interlink.telemetry): its delivery attempts continue that trace.
    trace_context: Mapped[str | None] = mapped_column(String(512), default=None)

    endpoint: Mapped[WebhookEndpoint | None] = relationship(lazy="joined")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("api_id", new_api_id("d"))
        kwargs.setdefault("state", "pending")
        kwargs.setdefault("attempts", 0)
        kwargs.setdefault("last_error", "")
        kwargs.setdefault("next_attempt_at", utcnow())
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"OutboxMessage(api_id={self.api_id!r}, state={self.state!r})"


class DeliveryAttempt(Base):
    __tablename__ = "interlink_delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("interlink_outbox.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(String(500), default="")
    response_excerpt: Mapped[str] = mapped_column(String(500), default="")
    worker: Mapped[str] = mapped_column(String(100), default="")


