"""The transactional outbox: writing messages, and the store operations around them.

Every function taking a ``session`` works inside the caller's transaction: a method's queued
callbacks are written in the same transaction as its own work, so they exist exactly when that
work was committed. :class:`Outbox` is the same for code outside an interlink call (a FastAPI
path operation, a script): one short transaction per message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interlink.observe import observer
from interlink.store._models import utcnow

from ._addresses import AddressPolicy, check_url
from ._declare import Callback, Webhook
from ._models import DeliveryAttempt, OutboxMessage, SigningSecret, WebhookEndpoint
from ._signing import new_message_id, new_secret

if TYPE_CHECKING:
    from interlink.store import Database

__all__ = [
    "Outbox",
    "add_endpoint",
    "disable_endpoint",
    "enqueue_callback",
    "enqueue_webhook",
    "find_delivery",
    "find_endpoint",
    "list_deliveries",
    "list_endpoints",
    "retry_delivery",
    "rotate_endpoint_secret",
    "is_role_signer",
    "signing_secret",
    "live_signing_secrets",
]

DEFAULT_OVERLAP = dt.timedelta(hours=24)


def enqueue_callback(
    session: Session, url: str, payload: str, *, signer: str, event: str = "callback", method: str = "POST",
    message_id: str | None = None,
) -> OutboxMessage:
    message_id = message_id or new_message_id()
    event = event[:200]
    message = OutboxMessage(
        message_id=message_id, kind="callback", event=event, method=method, url=url, payload=payload,
        signer=signer, trace_context=observer().queued(kind="callback", event=event, message_id=message_id),
    )
    session.add(message)
    return message


def enqueue_webhook(session: Session, event: str, payload: str, *, method: str = "POST", message_id: str | None = None) -> list[OutboxMessage]:
    """One message per enabled endpoint subscribed to ``event``, all with one message id."""
    message_id = message_id or new_message_id()
    out: list[OutboxMessage] = []
    trace_context: str | None = None
    for endpoint in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))):
        if endpoint.wants(event):
            if not out:  # queued once, whatever the number of endpoints it fans out to
                trace_context = observer().queued(kind="webhook", event=event, message_id=message_id)
            message = OutboxMessage(
                message_id=message_id, kind="webhook", event=event, method=method, url=endpoint.url,
                payload=payload, endpoint_id=endpoint.id, trace_context=trace_context,
            )
            session.add(message)
            out.append(message)
    return out


# -- signing secrets ------------------------------------------------------------------------


def _secret_row(session: Session, signer: str) -> SigningSecret | None:
    return session.scalar(select(SigningSecret).where(SigningSecret.signer == signer))


def signing_secret(session: Session, signer: str, *, rotate: bool = False, overlap: dt.timedelta = DEFAULT_OVERLAP) -> tuple[str, bool]:
    """``(secret, shown)``: a signer's current secret, created on first use. ``shown`` is True
    when the secret is new (created or rotated now): only then is it handed out."""
    row = _secret_row(session, signer)
    if row is None:
        secret = new_secret()
        row = SigningSecret(signer=signer)
        row.set_secret(secret)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another worker created it meanwhile
            found = _secret_row(session, signer)
            assert found is not None
            return found.live_secrets()[0], False
        return secret, True
    if rotate:
        secret = new_secret()
        row.rotate(secret, overlap)
        return secret, True
    return row.live_secrets()[0], False


def is_role_signer(signer: str) -> bool:
    """Whether ``signer`` is a role (its ``r-…`` api_id): the signer of callbacks from calls
    made with that role's keys."""
    return signer.startswith("r-")


def live_signing_secrets(session: Session, signer: str, now: dt.datetime | None = None) -> list[str]:
    """The secrets to sign a signer's messages with.

    A role's first secret is never made here: ``interlink callbacks secret --role`` makes it and
    shows it, once, to the person who hands it to the role's owner; one made behind their back
    would be shown to no one. Until then this is empty and the role's callbacks wait (their
    reason says what to run). A signer named in code (``Outbox.send(signer=…)``,
    ``FastAPICallbacks(signer=…)``) is made on first use: the code reads it whenever it likes
    (``Outbox.secret``)."""
    row = _secret_row(session, signer)
    if row is None:
        if is_role_signer(signer):
            return []
        signing_secret(session, signer)
        row = _secret_row(session, signer)
        assert row is not None
    return row.live_secrets(now)


# -- webhook endpoints ----------------------------------------------------------------------


def add_endpoint(
    session: Session, url: str, *, events: Iterable[str] = (), role_api_id: str | None = None,
    description: str = "", policy: AddressPolicy | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new subscription and its secret (returned once)."""
    check_url(url, policy)
    secret = new_secret()
    endpoint = WebhookEndpoint(url=url, events=sorted(set(events)), role_api_id=role_api_id, description=description)
    endpoint.set_secret(secret)
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def find_endpoint(session: Session, api_id: str, *, role_api_id: str | None = None) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.api_id == api_id)
    if role_api_id is not None:
        query = query.where(WebhookEndpoint.role_api_id == role_api_id)
    endpoint = session.scalar(query)
    if endpoint is None:
        raise LookupError(f"no webhook endpoint {api_id!r}")
    return endpoint


def list_endpoints(session: Session, *, role_api_id: str | None = None) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    if role_api_id is not None:
        query = query.where(WebhookEndpoint.role_api_id == role_api_id)
    return list(session.scalars(query))


def disable_endpoint(session: Session, endpoint: WebhookEndpoint, reason: str) -> int:
    """Disable an endpoint and give up its pending messages; returns how many were given up."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500]
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.endpoint_id == endpoint.id, OutboxMessage.state == "pending")
        .values(state="failed", finished_at=utcnow(), last_error=f"endpoint disabled: {reason}"[:500])
    )
    return int(getattr(result, "rowcount", 0) or 0)


def rotate_endpoint_secret(session: Session, endpoint: WebhookEndpoint, overlap: dt.timedelta = DEFAULT_OVERLAP) -> str:
    secret = new_secret()
    endpoint.rotate(secret, overlap)
    return secret


# -- deliveries -----------------------------------------------------------------------------


def list_deliveries(session: Session, *, state: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if state is not None:
        query = query.where(OutboxMessage.state == state)
    return list(session.scalars(query).unique())


def find_delivery(session: Session, api_id: str) -> OutboxMessage:
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.api_id == api_id))
    if message is None:
        raise LookupError(f"no delivery {api_id!r}")
    return message


def attempts_of(session: Session, message: OutboxMessage) -> list[DeliveryAttempt]:
    return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == message.id).order_by(DeliveryAttempt.id)))


def retry_delivery(session: Session, message: OutboxMessage) -> None:
    """Send again now (a replay keeps the message id: receivers that saw it de-duplicate)."""
    if message.endpoint is not None and not message.endpoint.enabled:
        raise ValueError(f"{message.api_id}: its endpoint {message.endpoint.api_id} is disabled; enable it first")
    message.state = "pending"
    message.next_attempt_at = utcnow()
    message.locked_until = None
    message.finished_at = None


class Outbox:
    """The outbox for code outside an interlink call::

        outbox = Outbox("postgresql+psycopg://…")
        outbox.send("https://receiver.example/hook", {"paid": True}, signer="billing")

    ``send`` checks the URL, writes the message in its own transaction (or in ``session``'s,
    when given), and returns the message id; a delivery worker sends it.
    """

    def __init__(
        self, database: Database | str | None = None, *, allowed_networks: str | Iterable[str] | None = None
    ) -> None:
        from interlink.settings import Settings
        from interlink.store import Database

        self.database = database if isinstance(database, Database) else Database(database)
        self.database.migrate()
        allowed = Settings.from_environ().callback_allowed_networks if allowed_networks is None else allowed_networks
        self.policy = AddressPolicy(allowed)

    def send(
        self, url: str, body: object, *, signer: str = "default", callback: Callback | None = None,
        event: str | None = None, session: Session | None = None,
    ) -> str:
        check_url(url, self.policy)
        payload = callback.encode(body) if callback is not None else _json(body)
        method = callback.method if callback is not None else "POST"
        name = event or (callback.name if callback is not None else "callback")
        if session is not None:
            return enqueue_callback(session, url, payload, signer=signer, event=name, method=method).message_id
        with self.database.session() as own:
            return enqueue_callback(own, url, payload, signer=signer, event=name, method=method).message_id

    def emit(self, webhook: Webhook | str, body: object, *, session: Session | None = None) -> str:
        event = webhook.event if isinstance(webhook, Webhook) else webhook
        payload = webhook.encode(body) if isinstance(webhook, Webhook) else _json(body)
        message_id = new_message_id()
        if session is not None:
            enqueue_webhook(session, event, payload, message_id=message_id)
        else:
            with self.database.session() as own:
                enqueue_webhook(own, event, payload, message_id=message_id)
        return message_id

    def secret(self, signer: str = "default") -> str:
        with self.database.session() as session:
            return signing_secret(session, signer)[0]


def _json(body: object) -> str:
    from pydantic_core import to_json

    return to_json(body).decode()
