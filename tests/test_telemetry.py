"""interlink.telemetry: spans of calls, of clients with traceparent between two real interlink
servers under uvicorn, of callbacks delivered on a later attempt, and Prometheus metrics scraped
from a real server. Spans go to the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from interlink.client import API
from interlink.errors import BadArguments
from interlink.identity import Role as RoleType
from interlink.observe import observer, set_observer
from interlink.server import ApiServer
from interlink.store import MemoryKeys, Role
from interlink.telemetry import Telemetry, uninstrument_clients

KEY_A = ("k-00000000000000aa", "aaaaaaaaaaaaaaaaaaaaAAAAAAAAAAAAAAAAAAAA")
KEY_B = ("k-00000000000000bb", "bbbbbbbbbbbbbbbbbbbbBBBBBBBBBBBBBBBBBBBB")
SECRET_WORD = "hunter2-plaintext-argument"


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider whose spans are kept in memory; the httpx instrumentation and the observer are
    undone afterwards, so other tests' clients send no traceparent."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider, exporter
    finally:
        uninstrument_clients()
        set_observer(None)
        provider.shutdown()


def finished(exporter: InMemorySpanExporter, count: int, seconds: float = 15) -> list[ReadableSpan]:
    """The spans exported so far, once there are at least ``count`` (servers end theirs in their
    own threads, a moment after the client has its answer)."""
    deadline = time.monotonic() + seconds
    while True:
        found = list(exporter.get_finished_spans())
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def server_b(provider: TracerProvider, *, metrics: bool = False) -> ApiServer:
    api = ApiServer(authenticator=MemoryKeys({KEY_B[0]: (KEY_B[1], Role(name="relay"))}), docs=False)
    Telemetry(api, tracer_provider=provider, metrics=metrics)
    home = api.module("home")

    @home.method
    def whoami(rl: RoleType, secret_word: str) -> dict[str, Any]:
        return {"role": rl.name, "length": len(secret_word)}

    @home.method
    def refuse(rl: RoleType, number: int) -> int:
        raise BadArguments("never", field="number")

    return api


def server_a(provider: TracerProvider, b_url: str) -> ApiServer:
    api = ApiServer(authenticator=MemoryKeys({KEY_A[0]: (KEY_A[1], Role(name="front"))}), docs=False)
    Telemetry(api, tracer_provider=provider)
    home = api.module("home")

    @home.method
    def relay(rl: RoleType, word: str) -> dict[str, Any]:
        # A plain def: it runs in the worker pool, where the call's span must still be current.
        with API(b_url + "/api")(key_id=KEY_B[0], key_secret=KEY_B[1]) as b:
            answer = b.home.whoami(secret_word=word)
        return {"via": rl.name, "length": answer.length}

    return api


def by_name(found: list[ReadableSpan], name: str) -> ReadableSpan:
    matches = [span for span in found if span.name == name]
    assert matches, f"no span {name!r} among {[span.name for span in found]}"
    return matches[0]


def all_attribute_text(found: list[ReadableSpan]) -> str:
    texts = []
    for span in found:
        texts.append(span.name)
        texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            texts += [event.name, *(f"{k}={v}" for k, v in (event.attributes or {}).items())]
    return "\n".join(texts)


def test_one_trace_across_two_interlink_servers(spans: Any, live_server: Any) -> None:
    provider, exporter = spans
    b_url = live_server(server_b(provider).app)
    a_url = live_server(server_a(provider, b_url).app)
    with API(a_url + "/api")(key_id=KEY_A[0], key_secret=KEY_A[1]) as a:
        answer = a.home.relay(word=SECRET_WORD)
    assert answer.length == len(SECRET_WORD)

    found = finished(exporter, 4)
    relay, whoami = by_name(found, "home.relay"), by_name(found, "home.whoami")
    clients = [span for span in found if span.kind == SpanKind.CLIENT]
    assert relay.kind == whoami.kind == SpanKind.SERVER
    # The test's own client call, A's call to B: one trace, each hop the child of the one before.
    trace_ids = {span.context.trace_id for span in found}
    assert len(trace_ids) == 1, [span.name for span in found]
    to_a = [span for span in clients if span.parent is None]
    assert len(to_a) == 1 and relay.parent is not None and relay.parent.span_id == to_a[0].context.span_id
    to_b = [span for span in clients if span.parent is not None and span.parent.span_id == relay.context.span_id]
    assert len(to_b) == 1, "A's call to B is a client span under A's call"
    assert whoami.parent is not None and whoami.parent.span_id == to_b[0].context.span_id
    # interlink's attributes: method, the role's public id, the status.
    assert relay.attributes is not None and whoami.attributes is not None
    assert relay.attributes["interlink.method"] == "home.relay"
    assert whoami.attributes["interlink.method"] == "home.whoami"
    assert str(relay.attributes["interlink.role"]).startswith("r-")
    assert whoami.attributes["http.response.status_code"] == 200
    # Neither the argument's value nor a key's secret (nor its id) is anywhere in a span.
    text = all_attribute_text(found)
    for secret in (SECRET_WORD, KEY_A[1], KEY_B[1], KEY_A[0], KEY_B[0]):
        assert secret not in text


def test_refused_calls_are_spans_with_status_and_error_kind(spans: Any, live_server: Any) -> None:
    provider, exporter = spans
    b_url = live_server(server_b(provider, metrics=True).app)
    wrong = httpx.post(f"{b_url}/api/home/whoami", data={"secret_word": SECRET_WORD},
                       auth=(KEY_B[0], "x" * 40), timeout=30)
    assert wrong.status_code == 401
    bad = httpx.post(f"{b_url}/api/home/whoami", data={}, auth=KEY_B, timeout=30)
    assert bad.status_code == 400
    refused = httpx.post(f"{b_url}/api/home/refuse", data={"number": "7"}, auth=KEY_B, timeout=30)
    assert refused.status_code == 400

    found = [span for span in finished(exporter, 3) if span.kind == SpanKind.SERVER]
    outcomes = sorted((span.name, (span.attributes or {})["http.response.status_code"],
                       (span.attributes or {})["error.type"]) for span in found)
    assert outcomes == [("home.refuse", 400, "bad_arguments"), ("home.whoami", 400, "bad_arguments"),
                        ("home.whoami", 401, "not_authorised")]
    # A 4xx is the caller's mistake: the server span is not an error.
    assert all(not span.status.is_ok or span.status.status_code.name == "UNSET" for span in found)
    text = all_attribute_text(found)
    assert SECRET_WORD not in text and "x" * 40 not in text and "never" not in text
    # Traced and counted at once.
    counted = scrape(b_url)
    assert counted[("interlink_calls_total", (("method", "home.whoami"), ("status", "400")))] == 1
    assert counted[("interlink_authentication_failures_total", (("method", "home.whoami"),))] == 1


def test_a_caller_trace_is_continued(spans: Any, live_server: Any) -> None:
    provider, exporter = spans
    b_url = live_server(server_b(provider).app)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    # Sent with the standard library: httpx is instrumented here and would send its own span's.
    import base64
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(b_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    basic = base64.b64encode(f"{KEY_B[0]}:{KEY_B[1]}".encode()).decode()
    connection.request("POST", "/api/home/whoami", body="secret_word=w", headers={
        "content-type": "application/x-www-form-urlencoded", "authorization": f"Basic {basic}",
        "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    assert connection.getresponse().status == 200
    connection.close()
    (span,) = [s for s in finished(exporter, 1) if s.kind == SpanKind.SERVER]
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


def test_without_telemetry_the_pipeline_runs_its_own_call(spans: Any) -> None:
    api = ApiServer(authenticator=MemoryKeys({}), docs=False)
    app = api.app
    app.setup()
    # No extension wraps the call: no instance attribute shadows the pipeline's method.
    assert "call" not in vars(app.pipeline)
    provider, _ = spans
    traced = ApiServer(authenticator=MemoryKeys({}), docs=False)
    Telemetry(traced, tracer_provider=provider)
    traced.app.setup()
    assert "call" in vars(traced.app.pipeline)
    assert type(observer()).__name__ == "TelemetryObserver"


# -- callbacks: queued in the call's trace, each attempt a span linked to it -------------------


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("INTERLINK_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("INTERLINK_CALLBACK_ALLOWED_NETWORKS", raising=False)


def callback_caller(database: Any) -> tuple[str, tuple[str, str]]:
    """A role with a key and a signing secret for its callbacks: (role api_id, (key id, secret))."""
    from interlink.callbacks import signing_secret
    from interlink.store import create_key, create_role, create_user

    with database.session() as session:
        user = create_user(session, "billing")
        role = create_role(session, user, "partner")
        key, secret = create_key(session, role)
        signing_secret(session, role.api_id)
        return role.api_id, (key.key_id, secret.decode())


def deliver_until_idle(database: Any) -> None:
    import asyncio

    from interlink.callbacks import AddressPolicy, DeliveryWorker

    asyncio.run(DeliveryWorker(database, policy=AddressPolicy("127.0.0.0/8")).run(until_idle=True))


def test_a_callback_delivered_on_its_second_attempt_continues_the_calls_trace(
        spans: Any, database: Any, live_server: Any, secret_key: None) -> None:
    from sqlalchemy import select, update

    from callbacks_peers import Receiver, invoice_api
    from interlink.callbacks import OutboxMessage
    from interlink.store import utcnow

    provider, exporter = spans
    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    receiver.answers["/events/invoices/inv-1"] = [500]  # the first attempt fails, the second is taken
    api = invoice_api(database, delivery_worker=False)
    Telemetry(api, tracer_provider=provider)
    api_url = live_server(api.app)
    _, key = callback_caller(database)
    answer = httpx.post(f"{api_url}/api/invoices/create", auth=key, timeout=30, json={
        "invoice": {"id": "inv-1", "customer": "Mr. Richie Rich", "total": 9999},
        "callback_url": f"{receiver_url}/events"})
    assert answer.status_code == 200, answer.text

    call = by_name(finished(exporter, 2), "invoices.create")
    with database.session() as session:
        [queued] = session.scalars(select(OutboxMessage)).unique()
        stored = json.loads(queued.trace_context or "{}")
    assert stored["traceparent"].split("-")[1] == format(call.context.trace_id, "032x")
    assert [event.name for event in call.events] == ["interlink.queued"]
    assert str((call.attributes or {})["interlink.role"]).startswith("r-")

    deliver_until_idle(database)
    with database.session() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    deliver_until_idle(database)
    with database.session() as session:
        [message] = session.scalars(select(OutboxMessage)).unique()
    assert message.state == "delivered" and message.attempts == 2

    found = finished(exporter, 6)
    attempts = sorted((span for span in found if span.name.startswith("deliver ")),
                      key=lambda span: (span.attributes or {})["interlink.delivery.attempt"])
    assert [((s.attributes or {})["interlink.delivery.attempt"], (s.attributes or {})["interlink.delivery.outcome"],
             (s.attributes or {})["http.response.status_code"]) for s in attempts] == [
        (1, "refused", 500), (2, "delivered", 200)]
    for attempt in attempts:
        # In the call's trace, under it, and linked to it ("queued by").
        assert attempt.context.trace_id == call.context.trace_id
        assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
        assert [link.context.span_id for link in attempt.links] == [call.context.span_id]
        assert (attempt.attributes or {})["interlink.delivery.message_id"] == message.message_id
    assert attempts[0].status.status_code.name == "ERROR" and attempts[1].status.status_code.name == "UNSET"
    # Each attempt's request carried its span to the receiver.
    sent = [r["headers"]["traceparent"].split("-") for r in receiver.received]
    assert [part[1] for part in sent] == [format(call.context.trace_id, "032x")] * 2
    # The payload's values are nowhere in a span.
    assert "Richie" not in all_attribute_text(found)


# -- metrics: /metrics of a real server, scraped and parsed --------------------------------------


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``url``'s /metrics, parsed with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(f"{url}/metrics", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_scraped_from_a_real_server_move_with_calls(
        spans: Any, database: Any, live_server: Any, secret_key: None) -> None:
    from callbacks_peers import Receiver, invoice_api
    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    api = invoice_api(database, delivery_worker=False)
    Telemetry(api, tracing=False, metrics=True)
    api_url = live_server(api.app)
    _, key = callback_caller(database)

    before = scrape(api_url)
    assert before[("interlink_outbox_messages", (("state", "pending"),))] == 0
    assert before[("interlink_outbox_oldest_pending_age_seconds", ())] == 0

    invoice = {"id": "inv-9", "customer": "Mr. Richie Rich", "total": 9999}
    for _ in range(2):
        ok = httpx.post(f"{api_url}/api/invoices/create", auth=key, timeout=30,
                        json={"invoice": invoice, "callback_url": f"{receiver_url}/events"})
        assert ok.status_code == 200, ok.text
    # Key ids scanned from one address: the failed-login limits allow 20 a minute, then 429s.
    statuses = [httpx.post(f"{api_url}/api/invoices/create", auth=(f"k-{i:016x}", "y" * 40), timeout=30,
                           json={}).status_code for i in range(22)]
    assert statuses == [401] * 20 + [429] * 2, statuses

    after = scrape(api_url)
    create = "invoices.create"
    assert after[("interlink_calls_total", (("method", create), ("status", "200")))] == 2
    assert after[("interlink_calls_total", (("method", create), ("status", "401")))] == statuses.count(401)
    assert after[("interlink_authentication_failures_total", (("method", create),))] == statuses.count(401)
    assert after[("interlink_rate_limited_total", (("method", create),))] == statuses.count(429)
    assert after[("interlink_call_duration_seconds_count", (("method", create),))] == 24
    assert after[("interlink_outbox_messages", (("state", "pending"),))] == 2
    assert after[("interlink_outbox_oldest_pending_age_seconds", ())] >= 0

    deliver_until_idle(database)
    delivered = scrape(api_url)
    assert delivered[("interlink_delivery_attempts_total", (("kind", "callback"), ("outcome", "delivered")))] == 2
    assert delivered[("interlink_outbox_messages", (("state", "pending"),))] == 0
    assert delivered[("interlink_outbox_messages", (("state", "delivered"),))] == 2

    # No label carries an argument's value, a key or a secret.
    text = httpx.get(f"{api_url}/metrics", timeout=30).text
    for value in ("Richie", "inv-9", key[0], key[1], "y" * 40, receiver_url):
        assert value not in text


def test_metrics_are_served_only_when_asked_for(spans: Any, live_server: Any) -> None:
    provider, _ = spans
    api = server_b(provider)  # tracing only
    url = live_server(api.app)
    assert httpx.get(f"{url}/metrics", timeout=30).status_code == 404


# -- a sync run: one trace, its pages and batches as events --------------------------------------

from flows_peers import Peers, peers, sync_database  # noqa: E402,F401


def test_a_sync_run_is_a_trace_with_its_pages_batches_and_quarantines(
        spans: Any, peers: Peers, sync_database: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from prometheus_client.parser import text_string_to_metric_families

    import interlink.http._service_client as service_client
    from interlink.flows import JsonApiTarget, RestSource, Sync, run_sync
    from interlink.http import APIClient, build_client
    from interlink.telemetry import Metrics, enable

    # Clients built from records share one token per client and token endpoint in the process,
    # and the OpenID provider lives for the whole session: another test file run earlier in this
    # process may hold this client's token already. Start from no token, so this run asks for one.
    monkeypatch.setattr(service_client, "_oauth2_cache", {})
    provider, exporter = spans
    metrics = Metrics()
    enable(tracer_provider=provider, metrics=metrics)
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for i in range(1, 11):
        peers.source.put(i, f"Customer {i}" if i != 4 else "", t0 + dt.timedelta(seconds=i))  # 4: refused
    sync = Sync(
        "customers",
        source=RestSource(APIClient(peers.source_url), "api/customers", id="id", cursor="updated_at", page_size=6),
        transform=lambda c: {"name": c["name"]},
        target=JsonApiTarget(build_client(peers.service()), type="customers", match="externalId"),
        database=sync_database, register=False,
    )
    counts = run_sync(sync)
    assert (counts.created, counts.quarantined) == (9, 1)

    found = list(exporter.get_finished_spans())
    run = by_name(found, "sync customers")
    attributes = run.attributes or {}
    assert (attributes["interlink.sync"], attributes["interlink.sync.read"], attributes["interlink.sync.created"],
            attributes["interlink.sync.quarantined"]) == ("customers", 10, 9, 1)
    events = [(event.name, dict(event.attributes or {})) for event in run.events]
    assert [name for name, _ in events] == ["page_read", "batch_written", "quarantined", "page_read", "batch_written"]
    assert events[0][1] == {"records": 6} and events[2][1] == {"records": 1}
    # The token request the target's client made is a client span of the run's trace, marked.
    tokens = [span for span in found if (span.attributes or {}).get("interlink.token_request")]
    assert tokens and all(span.context.trace_id == run.context.trace_id for span in tokens)
    # Counted per sync and outcome.
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics.exposition().decode()) for s in family.samples}
    assert samples[("interlink_sync_records_total", (("outcome", "created"), ("sync", "customers")))] == 9
    assert samples[("interlink_sync_records_total", (("outcome", "quarantined"), ("sync", "customers")))] == 1
    assert samples[("interlink_token_requests_total", (("status", "200"),))] == len(tokens)
    # No record's values in a span.
    assert "Customer 7" not in all_attribute_text(found)


# -- logs carry the ids; OTLP/HTTP export decodes ------------------------------------------------


def test_log_records_carry_the_calls_trace_and_span_ids(spans: Any, live_server: Any) -> None:
    import logging

    from interlink.telemetry import TraceIdsFilter

    provider, exporter = spans
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(logging.Formatter("%(message)s trace=%(trace_id)s span=%(span_id)s"))
    handler.addFilter(TraceIdsFilter())
    log = logging.getLogger("tests.telemetry.site")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        api = ApiServer(authenticator=MemoryKeys({KEY_B[0]: (KEY_B[1], Role(name="relay"))}), docs=False)
        Telemetry(api, tracer_provider=provider)

        @api.module("home").method
        def note(rl: RoleType, secret_word: str) -> bool:
            log.info("noted a word of %d letters", len(secret_word))
            return True

        url = live_server(api.app)
        assert httpx.post(f"{url}/api/home/note", data={"secret_word": SECRET_WORD}, auth=KEY_B, timeout=30).json()
        log.info("outside any call")
    finally:
        log.removeHandler(handler)
    span = by_name(finished(exporter, 2), "home.note")
    assert lines == [
        f"noted a word of {len(SECRET_WORD)} letters trace={span.context.trace_id:032x} span={span.context.span_id:016x}",
        "outside any call trace= span=",
    ]


def test_spans_exported_over_otlp_http_decode_with_the_otlp_protobufs(live_server: Any) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    received: list[bytes] = []

    async def traces(request: StarletteRequest) -> Response:  # a collector's OTLP/HTTP receiver
        assert request.headers["content-type"] == "application/x-protobuf"
        received.append(await request.body())
        return Response(b"", media_type="application/x-protobuf")

    collector = live_server(Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])]))
    provider = TracerProvider(resource=Resource.create({"service.name": "invoices"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{collector}/v1/traces", timeout=30)))
    try:
        url = live_server(server_b(provider).app)
        answer = httpx.post(f"{url}/api/home/whoami", data={"secret_word": SECRET_WORD}, auth=KEY_B, timeout=30)
        assert answer.status_code == 200
        deadline = time.monotonic() + 30
        while True:  # the server ends its span a moment after answering
            assert provider.force_flush(30_000)
            spans_sent = []
            for body in received:
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
                    for scope_spans in resource_spans.scope_spans:
                        spans_sent += [(service, scope_spans.scope.name, span) for span in scope_spans.spans]
            server = [s for s in spans_sent if s[2].name == "home.whoami"]
            if server or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        [(service, scope, span)] = server
        assert (service, scope) == ("invoices", "interlink")
        attributes = {a.key: a.value for a in span.attributes}
        assert attributes["interlink.method"].string_value == "home.whoami"
        assert attributes["http.response.status_code"].int_value == 200
        assert SECRET_WORD.encode() not in b"".join(received) and KEY_B[1].encode() not in b"".join(received)
    finally:
        uninstrument_clients()
        set_observer(None)
        provider.shutdown()


def test_interlink_serve_traces_when_the_otel_environment_names_a_collector(tmp_path: Any, live_server: Any) -> None:
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    from servers import free_port, wait_until_serving

    names: list[tuple[str, str]] = []

    async def traces(request: StarletteRequest) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        for resource_spans in export.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
            names.extend((service, span.name) for scopes in resource_spans.scope_spans for span in scopes.spans)
        return Response(b"", media_type="application/x-protobuf")

    collector = live_server(Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])]))
    (tmp_path / "tracedsite.py").write_text(textwrap.dedent('''
        from interlink import ApiServer

        api = ApiServer(docs=False)

        @api.method(module="home")
        def echo(text: str) -> str:
            return text
    '''))
    port = free_port()
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "traced-site",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "interlink"), "--database", f"sqlite:///{tmp_path / 'site.db'}",
         "serve", "tracedsite:api", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        assert httpx.post(f"http://127.0.0.1:{port}/api/home/echo", data={"text": "hi"}, timeout=30).json() == "hi"
        deadline = time.monotonic() + 30
        while ("traced-site", "home.echo") not in names and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert ("traced-site", "home.echo") in names, output[-2000:]


def test_nothing_of_opentelemetry_is_imported_unless_configured(tmp_path: Any) -> None:
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f'''
        import os, sys
        for name in [n for n in os.environ if n.startswith("OTEL_")]:
            del os.environ[name]
        from interlink.server import ApiServer
        from interlink.callbacks import Callbacks
        from interlink.client import API
        from interlink.http import APIClient
        from interlink.cli._serve import _configure
        api = ApiServer(database="sqlite:///{tmp_path / 'site.db'}", docs=False)
        Callbacks(api, allowed_networks="127.0.0.0/8")

        @api.method(module="home")
        def echo(text: str) -> str:
            return text

        _configure(api, None, None)  # what interlink serve does
        api.app.setup()
        loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "prometheus_client", "interlink.telemetry")))
        print(loaded)
    ''')
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_client_spans_redact_credentials_in_urls(spans: Any, live_server: Any) -> None:
    provider, exporter = spans
    url = live_server(server_b(provider).app)
    answer = httpx.get(f"{url}/api/openapi.json?access_token=s3cr3t-t0ken&page=2", timeout=30)
    assert answer.status_code == 200
    (client,) = [span for span in finished(exporter, 1) if span.kind == SpanKind.CLIENT]
    recorded = {k: str(v) for k, v in (client.attributes or {}).items() if k in ("url.full", "http.url")}
    assert recorded and all("access_token=***" in v and "page=2" in v for v in recorded.values()), recorded
    assert "s3cr3t-t0ken" not in all_attribute_text([client])


def test_a_method_whose_callbacks_nothing_delivers_is_still_refused_at_setup(spans: Any) -> None:
    from interlink.callbacks import Callback

    provider, _ = spans
    api = ApiServer(authenticator=MemoryKeys({}), docs=False)
    Telemetry(api, tracer_provider=provider)
    paid = Callback("{$request.body#/callback_url}", body=dict)

    @api.module("invoices").method(callbacks=[paid])
    def create(rl: RoleType, callback_url: str) -> bool:
        return True

    with pytest.raises(TypeError, match="nothing delivers them"):
        api.app.setup()


def test_soap_calls_are_client_spans_in_the_callers_trace(spans: Any, soap_peer: Any) -> None:
    from soap_fixtures import Record

    from interlink.soap import build_soap_client
    from interlink.telemetry import enable

    provider, exporter = spans
    enable(tracer_provider=provider)
    client = build_soap_client(Record(base_url=f"{soap_peer.url}/soap11/", options={"soap": {"wsdl": "?wsdl"}}))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("script") as script:
        assert client.service.Echo("hallo") == "hallo"
    posts = [span for span in exporter.get_finished_spans()
             if span.kind == SpanKind.CLIENT and span.name == "POST"]
    assert posts and all(span.parent is not None and span.parent.span_id == script.get_span_context().span_id
                         for span in posts)
    assert "hallo" not in all_attribute_text(list(exporter.get_finished_spans()))


def test_the_rest_tools_server_answers_in_spans_that_continue_the_callers_trace(spans: Any) -> None:
    from rest_servers import TornadoThread

    from interlink.rest import RestHandler, RestServer
    from interlink.telemetry import enable

    provider, exporter = spans
    enable(tracer_provider=provider)

    class FruitsHandler(RestHandler):
        async def get(self, fruit: str) -> None:
            if fruit == "durian":
                raise ValueError("a bug")
            self.write({"fruit": fruit})

    def build() -> RestServer:
        server = RestServer()
        server.add_route(r"/fruits/(?P<fruit>\w+)", FruitsHandler)
        return server

    rest = TornadoThread(build)
    url = rest.start()
    try:
        tracer = provider.get_tracer("tests")
        with tracer.start_as_current_span("script"):
            assert httpx.get(f"{url}/fruits/apple", timeout=30).json() == {"fruit": "apple"}
            assert httpx.get(f"{url}/fruits/durian", timeout=30).status_code == 500
    finally:
        rest.stop()
    found = finished(exporter, 5)
    handled = sorted((s for s in found if s.name == "GET FruitsHandler"), key=lambda s: s.start_time or 0)
    assert [(s.attributes or {})["http.response.status_code"] for s in handled] == [200, 500]
    assert handled[1].status.status_code.name == "ERROR"
    clients = {s.context.span_id: s for s in found if s.kind == SpanKind.CLIENT}
    for span in handled:  # each under the client span of the request it answered
        assert span.kind == SpanKind.SERVER and span.parent is not None and span.parent.span_id in clients
    assert "apple" not in all_attribute_text(handled)  # the path's ids stay out of the span's name


def test_interlink_worker_in_another_process_continues_the_calls_trace_through_the_outbox(
        spans: Any, database: Any, live_server: Any, secret_key: None) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    from callbacks_peers import Receiver, invoice_api

    exported: list[Any] = []

    async def traces(request: StarletteRequest) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        exported.extend(span for r in export.resource_spans for scopes in r.scope_spans for span in scopes.spans)
        return Response(b"", media_type="application/x-protobuf")

    collector = live_server(Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])]))
    provider, exporter = spans
    receiver = Receiver()
    receiver_url = live_server(receiver.app)
    api = invoice_api(database, delivery_worker=False)
    Telemetry(api, tracer_provider=provider)
    api_url = live_server(api.app)
    _, key = callback_caller(database)
    answer = httpx.post(f"{api_url}/api/invoices/create", auth=key, timeout=30, json={
        "invoice": {"id": "inv-2", "customer": "Mr. Richie Rich", "total": 1}, "callback_url": f"{receiver_url}/e"})
    assert answer.status_code == 200, answer.text
    call = by_name(finished(exporter, 2), "invoices.create")

    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "delivery",
           "INTERLINK_CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    done = subprocess.run([str(Path(sys.executable).parent / "interlink"), "--database", database.url, "worker",
                           "--until-idle"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(receiver.received) == 1
    # The worker flushed its spans on the way out: its attempt is in the call's trace.
    [attempt] = [span for span in exported if span.name.startswith("deliver callback")]
    assert attempt.trace_id == call.context.trace_id.to_bytes(16, "big")
    assert attempt.parent_span_id == call.context.span_id.to_bytes(8, "big")
    assert [link.span_id for link in attempt.links] == [call.context.span_id.to_bytes(8, "big")]
    assert receiver.received[0]["headers"]["traceparent"].split("-")[1] == format(call.context.trace_id, "032x")


def test_the_trace_picture_of_the_docs_is_drawn_from_a_real_run(tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    target = tmp_path / "trace.svg"
    done = subprocess.run([sys.executable, str(root / "examples" / "trace_waterfall.py"), str(target)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    drawn = target.read_text()
    for line in ("invoices.create · role r-", "interlink.queued", "attempt 1 refused (500)",
                 "attempt 2 delivered (200)", "POST events/paid (500)", "POST events/paid (200)"):
        assert line in drawn


def test_the_django_shell_runs_the_same_span_per_call(spans: Any) -> None:
    import sys
    import types

    pytest.importorskip("django")
    from django_support import django_ready

    django_ready()
    from django.test import Client, override_settings
    from django.urls import path

    from interlink.django import api_urls

    provider, exporter = spans
    api = ApiServer(docs=False)
    Telemetry(api, tracer_provider=provider)

    @api.module("home").method
    def echo(text: str) -> str:
        return text

    urls = types.ModuleType("telemetry_django_urls")
    urls.urlpatterns = [path("api/", api_urls(api))]  # type: ignore[attr-defined]
    sys.modules[urls.__name__] = urls
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    try:
        with override_settings(ROOT_URLCONF=urls.__name__):
            answer = Client().post("/api/home/echo", data=f"text={SECRET_WORD}",
                                   content_type="application/x-www-form-urlencoded",
                                   HTTP_TRACEPARENT=f"00-{trace_id}-b7ad6b7169203331-01")
            refused = Client().post("/api/home/echo", data="", content_type="application/x-www-form-urlencoded")
    finally:
        del sys.modules[urls.__name__]
    assert answer.status_code == 200 and refused.status_code == 400
    served = sorted((s for s in exporter.get_finished_spans() if s.name == "home.echo"),
                    key=lambda s: s.start_time or 0)
    assert [(s.attributes or {})["http.response.status_code"] for s in served] == [200, 400]
    assert format(served[0].context.trace_id, "032x") == trace_id
    assert served[0].kind == SpanKind.SERVER and (served[1].attributes or {})["error.type"] == "bad_arguments"
    assert SECRET_WORD not in all_attribute_text(served)
