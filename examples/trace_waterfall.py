"""Render one trace — an API call, the callback it queued, the callback's two delivery
attempts — as an SVG waterfall, from the spans interlink exported (docs/observability.md).

    python examples/trace_waterfall.py docs/images/trace-callback.svg

It runs the scenario for real, in this process: an invoices API (an ApiServer with Callbacks
and Telemetry) and a receiver that refuses the first attempt, both under uvicorn on loopback,
a SQLite outbox in a temporary directory, and the delivery worker. The spans are those the
OpenTelemetry SDK's in-memory exporter kept; nothing in the picture is drawn by hand.
"""

from __future__ import annotations

import asyncio
import html
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interlink.callbacks import AddressPolicy, Callback, Callbacks, DeliveryWorker, OutboxMessage, signing_secret
from interlink.identity import Role
from interlink.server import ApiServer
from interlink.store import Database, create_key, create_role, create_user, utcnow
from interlink.telemetry import Telemetry, uninstrument_clients


@dataclass
class Invoice:
    id: str
    total: float


@dataclass
class InvoicePaid:
    invoice_id: str
    paid: bool


invoice_paid = Callback("{$request.body#/callback_url}/paid", body=InvoicePaid, summary="Invoice paid")


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def run_scenario(directory: str) -> list[ReadableSpan]:
    os.environ.setdefault("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    database = Database(f"sqlite:///{directory}/invoices.db")
    database.migrate()

    api = ApiServer(database=database, title="Invoices", docs=False)
    Callbacks(api, allowed_networks="127.0.0.0/8", delivery_worker=False)
    Telemetry(api, tracer_provider=provider)

    @api.module("invoices").method(callbacks=[invoice_paid])
    async def create(rl: Role, invoice: Invoice, callback_url: str) -> str:
        await invoice_paid.send(InvoicePaid(invoice_id=invoice.id, paid=True))
        return "received"

    answers = [500]  # the receiver refuses the first attempt

    async def receive(request: Request) -> Response:
        await request.body()
        return Response("busy", status_code=answers.pop(0)) if answers else JSONResponse({"ok": True})

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    try:
        receiver, receiver_thread, receiver_url = serve(
            Starlette(routes=[Route("/events/paid", receive, methods=["POST"])]))
        servers.append((receiver, receiver_thread))
        site, site_thread, site_url = serve(api.app)
        servers.append((site, site_thread))
        with database.session() as session:
            role = create_role(session, create_user(session, "billing"), "partner")
            key, secret = create_key(session, role)
            signing_secret(session, role.api_id)
            key_id = key.key_id
        answer = httpx.post(f"{site_url}/api/invoices/create", auth=(key_id, secret.decode()), timeout=30,
                            json={"invoice": {"id": "inv-1", "total": 10}, "callback_url": f"{receiver_url}/events"})
        answer.raise_for_status()
        worker = DeliveryWorker(database, policy=AddressPolicy("127.0.0.0/8"))
        asyncio.run(worker.run(until_idle=True))
        with database.session() as session:  # the retry is due now, not in a few seconds
            session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        asyncio.run(worker.run(until_idle=True))
        time.sleep(0.2)
        return list(exporter.get_finished_spans())
    finally:
        for server, _ in servers:
            server.should_exit = True
        # Stopped before the interpreter exits: a server thread still shutting down while the
        # interpreter finalises can crash it (a segmentation fault, seen about once in a dozen runs).
        for _, thread in servers:
            thread.join(10)
        uninstrument_clients()
        provider.shutdown()
        database.dispose()


def label(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    # The httpx instrumentation writes the older HTTP conventions' names unless told otherwise
    # (OTEL_SEMCONV_STABILITY_OPT_IN=http); interlink's spans write the stable ones.
    status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
    if span.name.startswith("deliver "):
        return (f"{span.name} · attempt {attributes.get('interlink.delivery.attempt')} "
                f"{attributes.get('interlink.delivery.outcome')} ({status})")
    if span.kind.name == "CLIENT":
        url = str(attributes.get("url.full", attributes.get("http.url", "")))
        return f"{span.name} {url.split('/', 3)[-1] if url.count('/') >= 3 else url} ({status})"
    if span.kind.name == "SERVER":
        return f"{span.name} · role {attributes.get('interlink.role', '-')} ({status})"
    return span.name


def render_svg(spans: list[ReadableSpan]) -> str:
    """A waterfall: one row per span, children under their parents, bars to scale."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    ids = {span.context.span_id for span in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None and span.parent.span_id in ids else None
        by_parent.setdefault(parent, []).append(span)
    rows: list[tuple[int, ReadableSpan]] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time or 0):
            rows.append((depth, span))
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    start = min(span.start_time or 0 for span in spans)
    end = max(span.end_time or 0 for span in spans)
    total = max(end - start, 1)
    width, left, bar_width, row_height = 1100, 470, 600, 26
    height = 40 + row_height * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="10" y="22" font-size="14" font-weight="bold">one trace: '
             f'{format(spans[0].context.trace_id, "032x")} ({total / 1e6:.0f} ms)</text>']
    colours = {"SERVER": "#3b7dd8", "CLIENT": "#8a8a8a", "PRODUCER": "#e08a1e", "INTERNAL": "#5aa469"}
    for n, (depth, span) in enumerate(rows):
        y = 40 + n * row_height
        x = left + bar_width * ((span.start_time or 0) - start) / total
        w = max(2.0, bar_width * ((span.end_time or 0) - (span.start_time or 0)) / total)
        colour = "#c0392b" if span.status.status_code.name == "ERROR" else colours.get(span.kind.name, "#888")
        text = html.escape(label(span))
        parts.append(f'<text x="{10 + 14 * depth}" y="{y + 16}">{text[:70]}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_height - 8}" fill="{colour}"/>')
        if span.links:
            parts.append(f'<text x="{min(x + w + 4, width - 90):.1f}" y="{y + 16}" fill="#555">↩ linked</text>')
        for event in span.events:
            ex = left + bar_width * (event.timestamp - start) / total
            parts.append(f'<circle cx="{ex:.1f}" cy="{y + row_height / 2}" r="4" fill="black"/>')
            parts.append(f'<text x="{ex + 6:.1f}" y="{y + 2}" font-size="10">{html.escape(event.name)}</text>')
    parts.append(f'<text x="10" y="{height - 10}" fill="#555">blue: server span · grey: client (httpx) · '
                 'orange: delivery attempt · red: an attempt that failed · dot: event</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "trace-callback.svg"
    with tempfile.TemporaryDirectory() as directory:
        spans = run_scenario(directory)
    with open(target, "w", encoding="utf-8") as file:
        file.write(render_svg(spans))
    print(f"{len(spans)} spans -> {target}")


if __name__ == "__main__":
    main()
