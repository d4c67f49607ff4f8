"""Peers of the callbacks tests: the invoices API (the FastAPI callbacks tutorial's scenario, as an
interlink ApiServer) and a real receiver that verifies every message with the `standardwebhooks`
reference library and counts distinct message ids."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interlink.callbacks import Callback, Callbacks
from interlink.server import ApiServer, Call
from interlink.identity import Role


@dataclasses.dataclass
class Invoice:
    id: str
    customer: str
    total: float
    title: str | None = None


@dataclasses.dataclass
class InvoiceEvent:
    description: str
    paid: bool


@dataclasses.dataclass
class InvoiceEventReceived:
    ok: bool


@dataclasses.dataclass
class InvoiceReceived:
    msg: str


@dataclasses.dataclass
class InvoicePaid:
    invoice_id: str
    total: float


invoice_paid = Callback(
    "{$request.body#/callback_url}/invoices/{$request.body#/invoice/id}",
    body=InvoiceEvent,
    response=InvoiceEventReceived,
    summary="Invoice paid",
)


def invoice_api(database: Any, *, allowed: str | None = "127.0.0.0/8", delivery_worker: bool = True) -> ApiServer:
    api = ApiServer(database=database, title="Invoices")
    callbacks = Callbacks(api, allowed_networks=allowed, delivery_worker=delivery_worker)
    invoices = api.module("invoices")
    callbacks.webhook("invoice.paid", body=InvoicePaid, summary="An invoice was paid")

    @invoices.method(callbacks=[invoice_paid])
    async def create(rl: Role, invoice: Invoice, callback_url: str, fail: bool = False) -> InvoiceReceived:
        """Create an invoice; the payment is reported to ``callback_url``."""
        await invoice_paid.send(InvoiceEvent(description="Invoice paid", paid=True))
        callbacks.emit("invoice.paid", InvoicePaid(invoice_id=invoice.id, total=invoice.total))
        if fail:
            raise ValueError("the method failed after queueing: nothing may be sent")
        return InvoiceReceived(msg="Invoice received")

    @invoices.method(callbacks=[invoice_paid])
    def create_sync(rl: Role, call: Call, invoice: Invoice, callback_url: str, count: int = 1) -> InvoiceReceived:
        for _ in range(count):
            invoice_paid.send_sync(InvoiceEvent(description="Invoice paid", paid=True))
        return InvoiceReceived(msg="Invoice received")

    return api


class Receiver:
    """A Starlette app that answers callbacks. ``answers``: statuses to give, in order, before 200
    (per path); ``delay``: seconds before answering; ``secrets``: path prefix -> secret to verify with."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.secrets: dict[str, list[str]] = {}
        self.answers: dict[str, list[int]] = {}
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/{path:path}", self.endpoint, methods=["POST", "PUT"])])

    def secret_for(self, path: str) -> list[str]:
        for prefix, secrets in self.secrets.items():
            if path.startswith(prefix):
                return secrets
        return []

    async def endpoint(self, request: Request) -> Response:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        body = await request.body()
        path = request.url.path
        verified = None
        for secret in self.secret_for(path):
            try:
                Webhook(secret).verify(body, dict(request.headers))
                verified = True
                break
            except WebhookVerificationError:
                verified = False
        with self.lock:
            self.received.append({"path": path, "headers": dict(request.headers), "body": body, "verified": verified})
            queue = self.answers.get(path)
            status = queue.pop(0) if queue else 200
        if self.delay:
            await asyncio.sleep(self.delay)
        if status == 200:
            return JSONResponse({"ok": True})
        headers = {"location": "http://127.0.0.1:1/elsewhere"} if 300 <= status < 400 else {}
        return Response("no", status_code=status, headers=headers)

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(r["headers"]["webhook-id"] for r in self.received)
