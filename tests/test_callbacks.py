"""Callbacks and webhooks end to end: declared on real methods, served by uvicorn, queued in the
outbox in the method's transaction, delivered by the worker (in-process, as `interlink serve`
runs it) to a real receiver (uvicorn) that verifies each message with the `standardwebhooks`
reference library. Runs on SQLite and, when INTERLINK_TEST_POSTGRES_URL is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

from callbacks_peers import InvoicePaid, Receiver, invoice_api
from interlink.callbacks import (
    AddressPolicy,
    DeliveryAttempt,
    DeliveryWorker,
    OutboxMessage,
    WebhookEndpoint,
    add_endpoint,
    signing_secret,
)
from interlink.callbacks import Callback, Callbacks
from interlink.identity import Role
from interlink.server import ApiServer
from interlink.store import create_key, create_role, create_user


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", raising=False)


def caller(database: Any, name: str = "billing") -> tuple[str, str]:
    """A user with a role and a key: (role api_id, "keyid:secret")."""
    with database.session() as session:
        user = create_user(session, name)
        role = create_role(session, user, "partner")
        key, secret = create_key(session, role)
        return role.api_id, f"{key.key_id}:{secret.decode()}"


def wait_for(predicate: Any, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def messages(database: Any) -> list[OutboxMessage]:
    with database.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).unique())


INVOICE = {"id": "2expen51ve", "customer": "Mr. Richie Rich", "total": 9999}


def test_invoice_callback_delivered_signed_and_verified(database: Any, live_server: Any) -> None:
    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    role_id, key = caller(database)
    with database.session() as session:
        secret, shown = signing_secret(session, role_id)
    assert shown and secret.startswith("whsec_")
    receiver.secrets["/events"] = [secret]
    api_url = live_server(invoice_api(database))
    answer = httpx.post(f"{api_url}/api/invoices/create", headers={"authorization": f"Bearer {key}"},
                        json={"invoice": INVOICE, "callback_url": f"{receiver_url}/events"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"msg": "Invoice received"}
    got = wait_for(lambda: receiver.received)
    assert got[0]["path"] == "/events/invoices/2expen51ve"
    assert got[0]["verified"] is True
    assert json.loads(got[0]["body"]) == {"description": "Invoice paid", "paid": True}
    assert got[0]["headers"]["webhook-id"].startswith("msg_")
    assert got[0]["headers"]["host"] == receiver_url.removeprefix("http://")
    delivered = wait_for(lambda: [m for m in messages(database) if m.state == "delivered"])
    assert delivered[0].signer == role_id and delivered[0].attempts == 1
    with database.session() as session:
        attempt = session.scalar(select(DeliveryAttempt))
        assert attempt is not None and attempt.status == 200 and '"ok":true' in attempt.response_excerpt.replace(" ", "")


def test_webhook_endpoint_receives_emitted_event(database: Any, live_server: Any) -> None:
    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    role_id, key = caller(database)
    with database.session() as session:
        endpoint, secret = add_endpoint(session, f"{receiver_url}/hooks", events=["invoice.paid"], role_api_id=role_id,
                                        policy=AddressPolicy("127.0.0.0/8"))
        add_endpoint(session, f"{receiver_url}/other", events=["something.else"], policy=AddressPolicy("127.0.0.0/8"))
    receiver.secrets["/hooks"] = [secret]
    with database.session() as session:
        receiver.secrets["/events"] = [signing_secret(session, role_id)[0]]
    api_url = live_server(invoice_api(database))
    answer = httpx.post(f"{api_url}/api/invoices/create", headers={"authorization": f"Bearer {key}"},
                        json={"invoice": INVOICE, "callback_url": f"{receiver_url}/events"})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: len(receiver.received) >= 2)
    time.sleep(0.3)
    paths = sorted(r["path"] for r in receiver.received)
    assert paths == ["/events/invoices/2expen51ve", "/hooks"]  # not /other: not subscribed
    hook = next(r for r in receiver.received if r["path"] == "/hooks")
    assert hook["verified"] is True
    assert json.loads(hook["body"]) == {"invoice_id": "2expen51ve", "total": 9999.0}


@pytest.mark.parametrize(
    ("callback_url", "reason"),
    [("ftp://x.example/", "http"), ("not a url", "spaces"), ("http://10.0.0.1/hook", "private"),
     ("http://169.254.169.254/latest/meta-data", "metadata")],
)
def test_invalid_callback_url_is_400_naming_the_field_and_nothing_queued(database: Any, live_server: Any, callback_url: str, reason: str) -> None:
    _, key = caller(database)
    api_url = live_server(invoice_api(database, delivery_worker=False))
    answer = httpx.post(f"{api_url}/api/invoices/create", headers={"authorization": f"Bearer {key}"},
                        json={"invoice": INVOICE, "callback_url": callback_url})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == "callback_url" and reason in error["message"]
    assert messages(database) == []


def test_loopback_refused_unless_allowed(database: Any, live_server: Any) -> None:
    _, key = caller(database)
    api_url = live_server(invoice_api(database, allowed=None, delivery_worker=False))
    answer = httpx.post(f"{api_url}/api/invoices/create", headers={"authorization": f"Bearer {key}"},
                        data={"invoice.id": "1", "invoice.customer": "c", "invoice.total": "1", "callback_url": "http://127.0.0.1:9/x"})
    assert answer.status_code == 400 and "loopback" in answer.json()["error"]["message"]
    assert messages(database) == []


def test_failed_method_queues_nothing_and_sync_methods_queue_in_their_transaction(database: Any, live_server: Any) -> None:
    _, key = caller(database)
    api_url = live_server(invoice_api(database, delivery_worker=False))
    headers = {"authorization": f"Bearer {key}"}
    failed = httpx.post(f"{api_url}/api/invoices/create", headers=headers,
                        json={"invoice": INVOICE, "callback_url": "http://127.0.0.1:9/e", "fail": True})
    assert failed.status_code == 500
    assert messages(database) == []
    ok = httpx.post(f"{api_url}/api/invoices/create_sync", headers=headers,
                    json={"invoice": INVOICE, "callback_url": "http://127.0.0.1:9/e", "count": 3})
    assert ok.status_code == 200, ok.text
    queued = messages(database)
    assert [m.url for m in queued] == ["http://127.0.0.1:9/e/invoices/2expen51ve"] * 3
    assert len({m.message_id for m in queued}) == 3 and {m.state for m in queued} == {"pending"}


# -- the worker's faults: retried, disabled, never stuck -------------------------------------


def run_worker(database: Any, **options: Any) -> DeliveryWorker:
    worker = DeliveryWorker(database, policy=AddressPolicy("127.0.0.0/8"), **options)
    asyncio.run(worker.run(until_idle=True))
    return worker


def make_due(database: Any) -> None:
    from interlink.store import utcnow

    with database.session() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.state == "pending").values(next_attempt_at=utcnow()))


def test_retries_on_failure_then_delivers_with_the_same_id(database: Any, live_server: Any) -> None:
    from interlink.callbacks import Outbox

    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    receiver.answers["/r"] = [500, 302]
    outbox = Outbox(database, allowed_networks="127.0.0.0/8")
    message_id = outbox.send(f"{receiver_url}/r", {"n": 1}, signer="tests")
    run_worker(database)
    [message] = messages(database)
    assert message.state == "pending" and message.attempts == 1 and message.last_error == "HTTP 500"
    make_due(database)
    run_worker(database)
    [message] = messages(database)
    assert message.state == "pending" and message.attempts == 2 and message.last_error == "HTTP 302"
    assert len(receiver.received) == 2  # the redirect was not followed
    make_due(database)
    run_worker(database)
    [message] = messages(database)
    assert message.state == "delivered" and message.attempts == 3
    assert [r["headers"]["webhook-id"] for r in receiver.received] == [message_id] * 3
    with database.session() as session:
        statuses = [a.status for a in session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))]
    assert statuses == [500, 302, 200]


def test_410_disables_the_endpoint(database: Any, live_server: Any) -> None:
    from interlink.callbacks import Outbox

    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    receiver.answers["/gone"] = [410]
    with database.session() as session:
        add_endpoint(session, f"{receiver_url}/gone", policy=AddressPolicy("127.0.0.0/8"))
    outbox = Outbox(database, allowed_networks="127.0.0.0/8")
    outbox.emit("invoice.paid", {"a": 1})
    outbox.emit("invoice.paid", {"a": 2})
    run_worker(database, concurrency=1)
    with database.session() as session:
        endpoint = session.scalar(select(WebhookEndpoint))
        assert endpoint is not None and not endpoint.enabled and "410" in endpoint.disabled_reason
    assert {m.state for m in messages(database)} == {"failed"}
    assert len(receiver.received) == 1  # the second was given up with the endpoint, not sent


def test_slow_receiver_times_out_and_refused_names_are_recorded(database: Any, live_server: Any) -> None:
    from interlink.callbacks import Outbox

    receiver = Receiver(delay=2)
    receiver_url = live_server(receiver.app)
    outbox = Outbox(database, allowed_networks="127.0.0.0/8")
    outbox.send(f"{receiver_url}/slow", {"n": 1})
    started = time.monotonic()
    run_worker(database, timeout=0.5)
    assert time.monotonic() - started < 2
    [message] = messages(database)
    assert message.state == "pending" and "timed out" in message.last_error
    # A name that resolves to loopback is refused when only public addresses are allowed.
    with database.session() as session:
        session.execute(update(OutboxMessage).values(url=f"http://localhost.:{receiver_url.rsplit(':', 1)[1]}/x"))
    make_due(database)
    worker = DeliveryWorker(database, policy=AddressPolicy())
    asyncio.run(worker.run(until_idle=True))
    [message] = messages(database)
    assert "refused" in message.last_error and "loopback" in message.last_error


def test_typed_methods_manage_a_roles_own_endpoints(database: Any, live_server: Any) -> None:
    from interlink.callbacks import webhook_methods, verify

    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    _, key = caller(database, "alice")
    _, other_key = caller(database, "mallory")
    api = invoice_api(database)
    callbacks = Callbacks.of(api)
    webhook_methods(callbacks)
    api_url = live_server(api)

    def post(name: str, credentials: str, **arguments: Any) -> httpx.Response:
        return httpx.post(f"{api_url}/api/webhooks/{name}", headers={"authorization": f"Bearer {credentials}"}, json=arguments)

    assert post("add", key, url="http://10.0.0.1/x").json()["error"]["field"] == "url"
    unknown = post("add", key, url=f"{receiver_url}/w", events=["nope"])
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "events"
    added = post("add", key, url=f"{receiver_url}/w", events=["invoice.paid"], description="billing")
    assert added.status_code == 200, added.text
    endpoint = added.json()["endpoint"]
    assert endpoint["events"] == ["invoice.paid"] and endpoint["enabled"] is True
    assert [e["api_id"] for e in post("list", key).json()] == [endpoint["api_id"]]
    assert post("list", other_key).json() == []
    assert post("disable", other_key, endpoint=endpoint["api_id"]).json()["error"]["field"] == "endpoint"
    rotated = post("rotate_secret", key, endpoint=endpoint["api_id"], overlap_hours=1).json()
    callbacks.emit("invoice.paid", InvoicePaid(invoice_id="x", total=1))
    got = wait_for(lambda: receiver.received)
    assert verify(got[0]["headers"], got[0]["body"], rotated["secret"])
    assert verify(got[0]["headers"], got[0]["body"], added.json()["secret"])  # the overlap
    assert post("disable", key, endpoint=endpoint["api_id"]).json()["enabled"] is False


def test_tls_to_the_checked_address_with_the_names_certificate(database: Any, live_server: Any, tmp_path: Any) -> None:
    """The worker connects to the address it checked, and TLS still verifies the URL's name."""
    import ssl

    import trustme

    from interlink.callbacks import Outbox

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    receiver = Receiver()
    base = live_server(receiver.app, ssl_keyfile=str(tmp_path / "key.pem"), ssl_certfile=str(tmp_path / "cert.pem"))
    port = base.rsplit(":", 1)[1]
    outbox = Outbox(database, allowed_networks="127.0.0.0/8,::1/128")
    outbox.send(f"https://localhost:{port}/tls", {"n": 1})
    outbox.send(f"https://127.0.0.1:{port}/by-address", {"n": 2})  # the certificate does not name it
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    worker = DeliveryWorker(database, policy=AddressPolicy("127.0.0.0/8,::1/128"), verify=trust)
    asyncio.run(worker.run(until_idle=True))
    by_url = {m.url.rsplit("/", 1)[1]: m for m in messages(database)}
    assert by_url["tls"].state == "delivered"
    assert by_url["by-address"].state == "pending" and "certificate" in by_url["by-address"].last_error.lower()
    assert [r["path"] for r in receiver.received] == ["/tls"]
    assert receiver.received[0]["headers"]["host"] == f"localhost:{port}"


@pytest.mark.parametrize(
    ("answer", "error"),
    [(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort", "RemoteProtocolError"),
     (b"garbage, not HTTP\r\n\r\n", "RemoteProtocolError"),
     (b"", "RemoteProtocolError")],
)
def test_receivers_that_break_the_connection_are_failures(database: Any, answer: bytes, error: str) -> None:
    import socket
    import threading

    from interlink.callbacks import Outbox

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        connection, _ = server.accept()
        # The whole request is read before answering: closing with unread bytes sends a reset,
        # and the client would see that (ReadError) instead of the broken answer under test.
        received = b""
        while b"\r\n\r\n" not in received and (chunk := connection.recv(65536)):
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length and (chunk := connection.recv(65536)):
            body += chunk
        connection.sendall(answer)
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    Outbox(database, allowed_networks="127.0.0.0/8").send(f"http://127.0.0.1:{port}/x", {"n": 1})
    run_worker(database, timeout=5)
    thread.join(5)
    server.close()
    [message] = messages(database)
    assert message.state == "pending" and message.attempts == 1 and error in message.last_error


def test_concurrent_workers_never_send_a_message_twice(database: Any, live_server: Any) -> None:
    """PostgreSQL: both workers deliver, SKIP LOCKED keeps their claims apart. SQLite: the file
    lock lets one deliver; the other finds the lock taken and leaves."""
    from interlink.callbacks import Outbox

    receiver = Receiver(delay=0.05)
    url = live_server(receiver.app)
    outbox = Outbox(database, allowed_networks="127.0.0.0/8")
    sent = {outbox.send(f"{url}/c/{n}", {"n": n}) for n in range(40)}
    workers = [DeliveryWorker(database, policy=AddressPolicy("127.0.0.0/8"), concurrency=4, name=f"w{i}") for i in range(2)]

    async def both() -> None:
        await asyncio.gather(*(w.run(until_idle=True) for w in workers))

    asyncio.run(both())
    ids = receiver.ids()
    assert set(ids) == sent and set(ids.values()) == {1}
    with database.session() as session:
        by_worker = {w: n for w, n in session.execute(
            select(DeliveryAttempt.worker, func.count()).group_by(DeliveryAttempt.worker))}
    assert sum(by_worker.values()) == 40
    if database.is_sqlite:
        assert len(by_worker) == 1
    else:
        assert set(by_worker) == {"w0", "w1"}


def test_callback_url_from_the_response_is_evaluated_when_the_method_returns(database: Any, live_server: Any) -> None:
    done = Callback("{$request.body#/hook}/done/{$response.body#/id}", body=dict)
    api = ApiServer(database=database)
    Callbacks(api, allowed_networks="127.0.0.0/8", delivery_worker=False)

    @api.method(module="jobs", callbacks=[done])
    def start(rl: Role, hook: str) -> dict[str, str]:
        done.send_sync({"ok": True})
        return {"id": "j-42"}

    _, key = caller(database)
    url = live_server(api)
    answer = httpx.post(f"{url}/api/jobs/start", headers={"authorization": f"Bearer {key}"}, data={"hook": "http://127.0.0.1:9/h"})
    assert answer.status_code == 200, answer.text
    [message] = messages(database)
    assert message.url == "http://127.0.0.1:9/h/done/j-42" and json.loads(message.payload) == {"ok": True}


def test_endpoint_failing_for_five_days_is_disabled(database: Any, live_server: Any) -> None:
    import datetime as dt

    from interlink.callbacks import Outbox
    from interlink.store import utcnow

    receiver = Receiver()
    url = live_server(receiver.app)
    receiver.answers["/down"] = [503, 503]
    with database.session() as session:
        endpoint, _ = add_endpoint(session, f"{url}/down", policy=AddressPolicy("127.0.0.0/8"))
        endpoint_id = endpoint.id
    outbox = Outbox(database, allowed_networks="127.0.0.0/8")
    outbox.emit("report.ready", {"n": 1})
    run_worker(database)
    with database.session() as session:
        found = session.get(WebhookEndpoint, endpoint_id)
        assert found is not None and found.enabled and found.failing_since is not None
        found.failing_since = utcnow() - dt.timedelta(days=5, minutes=1)  # as if failing since then
    make_due(database)
    run_worker(database)
    with database.session() as session:
        found = session.get(WebhookEndpoint, endpoint_id)
        assert found is not None and not found.enabled and "5 days" in found.disabled_reason
    assert {m.state for m in messages(database)} == {"failed"}
