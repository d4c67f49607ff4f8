"""A delivery worker whose INTERLINK_SECRET_KEY is a valid key, but not the one the stored
signing secrets were encrypted with (replaced without keeping the old one in the list).

The messages whose secret cannot be read are not sent: each attempt is recorded with a reason
that says what to do, in one log line without a traceback, and the messages of a signer whose
secret still decrypts go out as usual. Putting the old key back after the new one delivers them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from callbacks_peers import Receiver
from interlink.callbacks import AddressPolicy, DeliveryAttempt, DeliveryWorker, Outbox, OutboxMessage

LOOPBACK = "127.0.0.0/8"


def deliver(database: Any) -> None:
    worker = DeliveryWorker(database, policy=AddressPolicy(LOOPBACK), timeout=5)
    asyncio.run(asyncio.wait_for(worker.run(until_idle=True), 30))


def messages(database: Any) -> dict[str, OutboxMessage]:
    with database.session() as session:
        return {m.url.rsplit("/", 1)[1]: m for m in session.scalars(select(OutboxMessage)).unique()}


def test_a_secret_that_does_not_decrypt_stops_only_its_own_messages(
    database: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("INTERLINK_SECRET_KEY", old)
    monkeypatch.delenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", raising=False)
    outbox = Outbox(database, allowed_networks=LOOPBACK)
    outbox.secret("orders")  # stored under the old key
    receiver = Receiver()
    url = live_server(receiver.app)
    outbox.send(f"{url}/orders", {"paid": True}, signer="orders")
    monkeypatch.setenv("INTERLINK_SECRET_KEY", new)
    outbox.send(f"{url}/invoices", {"sent": True}, signer="invoices")  # its secret: made under the new key
    with caplog.at_level(logging.ERROR, logger="interlink"):
        deliver(database)

    found = messages(database)
    assert found["invoices"].state == "delivered"
    stuck = found["orders"]
    assert stuck.state == "pending" and stuck.attempts == 1
    assert "does not decrypt with INTERLINK_SECRET_KEY" in stuck.last_error
    assert "signer orders" in stuck.last_error and "interlink deliveries retry" in stuck.last_error
    assert [r["path"] for r in receiver.received] == ["/invoices"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all(r.exc_info is None for r in errors), [r.getMessage() for r in errors]
    assert all("signer orders" in r.getMessage() for r in errors)

    # The old key listed after the new one: the message goes out on its next attempt.
    monkeypatch.setenv("INTERLINK_SECRET_KEY", f"{new},{old}")
    with database.session() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == stuck.id).values(
            next_attempt_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    deliver(database)
    assert messages(database)["orders"].state == "delivered"
    assert [r["path"] for r in receiver.received] == ["/invoices", "/orders"]
    with database.session() as session:
        reasons = [a.error for a in session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == stuck.id))]
    assert len(reasons) == 2 and reasons[1] in ("", None)


def test_an_endpoint_whose_secret_does_not_decrypt_is_not_marked_failing(
    database: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interlink.callbacks import WebhookEndpoint, add_endpoint

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("INTERLINK_SECRET_KEY", old)
    monkeypatch.delenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", raising=False)
    receiver = Receiver()
    url = live_server(receiver.app)
    with database.session() as session:
        add_endpoint(session, f"{url}/hooks", policy=AddressPolicy(LOOPBACK))  # its secret: under the old key
    Outbox(database, allowed_networks=LOOPBACK).emit("invoice.paid", {"a": 1})
    monkeypatch.setenv("INTERLINK_SECRET_KEY", new)
    deliver(database)

    (stuck,) = messages(database).values()
    assert stuck.state == "pending" and "webhook endpoint" in stuck.last_error and not receiver.received
    with database.session() as session:
        endpoint = session.scalar(select(WebhookEndpoint))
        # Failing since this attempt would have it disabled after days of a key left unfixed.
        assert endpoint is not None and endpoint.enabled and endpoint.failing_since is None
