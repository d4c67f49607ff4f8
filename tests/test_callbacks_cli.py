"""`interlink callbacks|webhooks|deliveries|worker`, and at-least-once delivery across a worker killed
mid-delivery: a real `interlink worker` process is SIGKILLed while its requests are in flight, a
new one takes over, and the receiver's de-duplicated count equals the number sent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from callbacks_peers import Receiver
from interlink.callbacks import DeliveryAttempt, Outbox, OutboxMessage, verify
from interlink.cli import main

INTERLINK = Path(sys.executable).parent / "interlink"


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("INTERLINK_SECRET_KEY", key)
    monkeypatch.setenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", "127.0.0.0/8")
    return key


def run(database: Any, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database", database.url, *args], catch_exceptions=False)


def ok(database: Any, *args: str) -> str:
    result = run(database, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_role_signing_secret_shown_once_then_rotated(database: Any, live_server: Any) -> None:
    ok(database, "users", "create", "partner")
    role_id = ok(database, "roles", "create", "--user", "partner", "hooks").strip()
    secret = ok(database, "callbacks", "secret", "--role", "hooks").strip()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    again = run(database, "callbacks", "secret", "--role", "hooks")
    assert again.exit_code == 1 and "shown once" in again.output and secret not in again.output
    assert run(database, "callbacks", "secret", "--role", "nobody").exit_code == 1
    assert run(database, "callbacks", "secret", "--role", "hooks", "--overlap", "soon").exit_code == 2
    rotated = ok(database, "callbacks", "secret", "--role", role_id, "--rotate").strip()
    assert rotated != secret
    # During the overlap both sign: a receiver holding either verifies.
    receiver = Receiver()
    url = live_server(receiver.app)
    Outbox(database).send(f"{url}/cb", {"x": 1}, signer=role_id)
    ok(database, "worker", "--until-idle")
    [got] = receiver.received
    assert verify(got["headers"], got["body"], secret) == verify(got["headers"], got["body"], rotated)


def test_webhooks_and_deliveries_commands(database: Any, live_server: Any) -> None:
    receiver = Receiver()
    url = live_server(receiver.app)
    ok(database, "users", "create", "partner")
    ok(database, "roles", "create", "--user", "partner", "hooks")
    endpoint_id, secret = ok(database, "webhooks", "add", f"{url}/hooks", "--role", "hooks", "--event", "invoice.paid").split()
    assert endpoint_id.startswith("we-") and secret.startswith("whsec_")
    refused = run(database, "webhooks", "add", "http://10.0.0.1/x")
    assert refused.exit_code == 2 and "private" in refused.output
    listing = ok(database, "webhooks", "list")
    assert endpoint_id in listing and f"{url}/hooks" in listing and "invoice.paid" in listing and secret not in listing

    receiver.answers["/hooks"] = [500]
    Outbox(database).emit("invoice.paid", {"id": 1})
    ok(database, "worker", "--until-idle")
    pending = ok(database, "deliveries", "list", "--state", "pending")
    delivery_id = re.search(r"\bd-[0-9a-f]+", pending)[0]  # type: ignore[index]
    assert "HTTP 500" in pending
    ok(database, "deliveries", "retry", delivery_id)
    ok(database, "worker", "--until-idle")
    assert delivery_id in ok(database, "deliveries", "list", "--state", "delivered")
    ids = {r["headers"]["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 2 and len(ids) == 1  # a retry keeps the message id
    assert verify(receiver.received[1]["headers"], receiver.received[1]["body"], secret)

    new_secret = ok(database, "webhooks", "rotate-secret", endpoint_id, "--overlap", "0s").strip()
    Outbox(database).emit("invoice.paid", {"id": 2})
    ok(database, "worker", "--until-idle")
    last = receiver.received[-1]
    assert verify(last["headers"], last["body"], new_secret)
    assert len(last["headers"]["webhook-signature"].split()) == 1  # no overlap asked: the old one is gone

    assert "disabled" in ok(database, "webhooks", "disable", endpoint_id)
    Outbox(database).emit("invoice.paid", {"id": 3})  # nobody subscribed now
    assert "no" in ok(database, "webhooks", "list")
    assert run(database, "deliveries", "retry").exit_code == 2
    assert run(database, "deliveries", "retry", "d-0000").exit_code == 1
    assert run(database, "webhooks", "disable", "we-nothing").exit_code == 1


def test_worker_killed_mid_delivery_loses_nothing(database: Any, live_server: Any, secret_key: str) -> None:
    receiver = Receiver(delay=0.3)
    url = live_server(receiver.app)
    outbox = Outbox(database)
    sent = [outbox.send(f"{url}/k/{n}", {"n": n}, signer="kill-test") for n in range(24)]
    ok(database, "callbacks", "secret", "--signer", "kill-test")  # the worker makes none itself
    env = {**os.environ, "INTERLINK_DATABASE_URL": database.url, "INTERLINK_SECRET_KEY": secret_key,
           "INTERLINK_CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    command = [str(INTERLINK), "worker", "--concurrency", "8", "--lease", "2", "--poll", "0.1"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while len(receiver.received) < 9:  # the second batch is in flight: its answers not yet read
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read() if first.stderr else ""
            time.sleep(0.01)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 40
        while True:
            with database.session() as session:
                done = session.scalar(select(func.count()).where(OutboxMessage.state == "delivered"))
            if done == len(sent):
                break
            assert second.poll() is None and time.monotonic() < deadline, f"{done} of {len(sent)} delivered"
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    ids = receiver.ids()
    assert set(ids) == set(sent)  # every message arrived, de-duplicated count = number sent
    assert sum(ids.values()) > len(sent)  # and the kill did catch messages mid-delivery (sent twice)
    with database.session() as session:
        attempts = session.scalar(select(func.count()).select_from(DeliveryAttempt))
    assert attempts == len(sent)  # the killed worker's attempts never finished, so were never recorded


def test_interlink_serve_runs_a_delivery_worker(database: Any, live_server: Any, secret_key: str, tmp_path: Path) -> None:
    """The real `interlink serve` process delivers callbacks with no worker started beside it."""
    import httpx

    from servers import free_port, wait_until_serving

    from interlink.store import create_key, create_role, create_user

    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    with database.session() as session:
        key, secret = create_key(session, create_role(session, create_user(session, "served"), "partner"))
        key_id = key.key_id
    ok(database, "callbacks", "secret", "--role", "served/partner")  # the worker makes none itself
    (tmp_path / "served_invoices.py").write_text(
        "import os\nfrom callbacks_peers import invoice_api\napi = invoice_api(os.environ['INTERLINK_DATABASE_URL'])\n")
    port = free_port()
    env = {**os.environ, "INTERLINK_DATABASE_URL": database.url, "INTERLINK_SECRET_KEY": secret_key,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(tmp_path)])}
    server = subprocess.Popen([str(INTERLINK), "serve", "served_invoices:api", "--port", str(port), "--no-access-log"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        answer = httpx.post(f"http://127.0.0.1:{port}/api/invoices/create",
                            headers={"authorization": f"Bearer {key_id}:{secret.decode()}"},
                            json={"invoice": {"id": "s-1", "customer": "c", "total": 1}, "callback_url": f"{receiver_url}/served"})
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 20
        while not receiver.received:
            assert time.monotonic() < deadline, "the served app delivered nothing"
            time.sleep(0.05)
        assert receiver.received[0]["path"] == "/served/invoices/s-1"
    finally:
        server.terminate()
        server.wait(20)
