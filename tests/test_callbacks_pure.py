"""The pure parts of interlink.callbacks: runtime expressions, Standard Webhooks signatures
(interop both ways with the `standardwebhooks` reference library), the retry schedule, and the
address rules against SSRF."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interlink.callbacks import (
    SCHEDULE,
    AddressPolicy,
    CallData,
    DestinationRefused,
    EvaluationError,
    ExpressionError,
    Outcome,
    SignatureError,
    check_url,
    decide,
    new_secret,
    parse_expression,
    parse_template,
    signature_headers,
    verify,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)

# -- runtime expressions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "$url", "$method", "$statusCode", "$request.header.accept", "$request.header.X-Trace_id!",
        "$request.query.queryUrl", "$request.query.", "$request.path.eventType", "$request.body",
        "$request.body#/user/uuid", "$request.body#/a~1b/c~0d", "$response.body#/status",
        "$response.header.Location", "$request.body#", "$request.body#/0/items/12",
    ],
)
def test_valid_expressions_round_trip(text: str) -> None:
    expression = parse_expression(text)
    assert str(expression) == text.rstrip("#")


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("$request.bdy#/id", 9, "expected header"),
        ("$request.header.", 16, "token characters"),
        ("$request.header.a b", 16, "token characters"),
        ("$request.body#id", 14, "starts with '/'"),
        ("$request.body#/a~2", 16, "'~' must be followed"),
        ("request.body", 0, "starts with '$'"),
        ("$statuscode", 0, "expected $url"),
        ("$response", 0, "expected $url"),
    ],
)
def test_invalid_expressions_say_where(text: str, position: int, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert caught.value.position == position
    assert reason in str(caught.value)


def test_template_with_two_expressions() -> None:
    template = parse_template("{$request.body#/callback_url}/invoices/{$request.body#/invoice/id}")
    data = CallData(request_body={"callback_url": "https://e.example/events", "invoice": {"id": "2expen51ve"}})
    assert template.evaluate(data) == "https://e.example/events/invoices/2expen51ve"
    assert [e.field for e in template.expressions] == ["callback_url", "invoice.id"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{$request.body#/url", "without a closing"),
        ("x}{$url}", "without an opening"),
        ("{$request.body#/url}/x}", "without an opening"),
        ("{{$url}}", "nested"),
        ("{$nope.x}", r"expected \$url"),
        ("x" * 3000, "longer than"),
    ],
)
def test_invalid_templates(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_template(text)


def test_fastapi_spelling_accepted_with_a_warning_naming_the_valid_one() -> None:
    with pytest.warns(SyntaxWarning) as caught:
        template = parse_template("{$callback_url}/invoices/{$request.body.id}")
    assert str(template) == "{$request.query.callback_url}/invoices/{$request.body#/id}"
    assert "'{$request.query.callback_url}/invoices/{$request.body#/id}'" in str(caught[0].message)
    data = CallData(request_query={"callback_url": "https://x.example/e"}, request_body={"id": "7"})
    assert template.evaluate(data) == "https://x.example/e/invoices/7"


def test_valid_template_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_template("{$request.query.callback_url}/invoices/{$request.body#/id}")


def test_evaluation_against_every_source() -> None:
    data = CallData(
        url="http://api.example/api/invoices/create?x=1", method="POST", status_code=201,
        request_headers={"x-hook": "https://h.example"}, request_query={"q": "a"}, request_path={"p": "b"},
        request_body={"filter": {"name_gt": "c"}, "items": [1, 2], "flag": True},
        response_body={"id": "r-1"}, response_headers={"location": "/x"}, has_response=True,
    )
    cases = {
        "{$url}": data.url, "{$method}": "POST", "{$statusCode}": "201", "{$request.header.X-Hook}": "https://h.example",
        "{$request.query.q}": "a", "{$request.path.p}": "b", "{$request.body#/filter/name_gt}": "c",
        "{$request.body#/items/1}": "2", "{$request.body#/flag}": "true", "{$response.body#/id}": "r-1",
        "{$response.header.location}": "/x",
    }
    for text, expected in cases.items():
        assert parse_template(text).evaluate(data) == expected, text


def test_missing_and_structured_values_name_the_field() -> None:
    data = CallData(request_body={"invoice": {"lines": [1]}})
    with pytest.raises(EvaluationError) as caught:
        parse_template("{$request.body#/invoice/id}").evaluate(data)
    assert caught.value.field == "invoice.id"
    with pytest.raises(EvaluationError, match="not a single value"):
        parse_template("{$request.body#/invoice}").evaluate(data)
    with pytest.raises(EvaluationError, match="response"):
        parse_template("{$response.body#/id}").evaluate(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_template_parser_fuzz(text: str) -> None:
    """Any text: a template, or an ExpressionError; never another exception."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            template = parse_template(text)
        except ExpressionError:
            return
    # What parsed re-parses to the same thing.
    assert parse_template(str(template)) == template


# -- Standard Webhooks ---------------------------------------------------------------------


def test_we_verify_what_the_reference_library_signs() -> None:
    from standardwebhooks.webhooks import Webhook

    secret = new_secret()
    body = '{"description":"Invoice paid","paid":true}'
    now = dt.datetime.now(dt.UTC)
    signature = Webhook(secret).sign("msg_1", now, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    assert verify(headers, body.encode(), secret) == "msg_1"
    with pytest.raises(SignatureError):
        verify(headers, body.encode() + b" ", secret)


def test_the_reference_library_verifies_what_we_sign_including_during_rotation() -> None:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    old, new = new_secret(), new_secret()
    body = b'{"a":1}'
    headers = signature_headers("msg_2", body, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {"a": 1}
    assert Webhook(new).verify(body, headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


@pytest.mark.parametrize("unpad", [lambda s: s.rstrip("="), lambda s: s.rstrip("=")[len("whsec_"):]],
                         ids=["whsec_", "bare"])
def test_a_secret_without_base64_padding_works_as_in_the_reference_library(unpad) -> None:
    # Secrets copied from other systems often lose their '=' padding; the reference libraries
    # add it back, so do we (both ways: they verify what we sign, we verify what they sign).
    from standardwebhooks.webhooks import Webhook

    for key_bytes in (32, 31, 24):  # one, two and no '=' of padding
        padded = "whsec_" + base64.b64encode(bytes(range(key_bytes))).decode()
        secret = unpad(padded)
        body = b'{"a":1}'
        headers = signature_headers("msg_5", body, [secret])
        assert headers == signature_headers("msg_5", body, [padded], timestamp=int(headers["webhook-timestamp"]))
        assert Webhook(secret).verify(body, headers) == {"a": 1}
        now = dt.datetime.now(dt.UTC)
        theirs = {"webhook-id": "msg_6", "webhook-timestamp": str(int(now.timestamp())),
                  "webhook-signature": Webhook(secret).sign("msg_6", now, body.decode())}
        assert verify(theirs, body, secret) == "msg_6"
    for not_base64 in ("whsec_" + "A" * 41, "whsec_abc$def" + "A" * 40):
        with pytest.raises(ValueError, match="whsec_ followed by base64"):
            signature_headers("msg_7", b"{}", [not_base64])


def test_timestamp_tolerance_is_five_minutes_both_ways() -> None:
    secret = new_secret()
    headers = signature_headers("msg_3", b"{}", [secret], timestamp=1_000_000)
    assert verify(headers, b"{}", secret, now=1_000_000 + 299)
    assert verify(headers, b"{}", secret, now=1_000_000 - 299)
    with pytest.raises(SignatureError, match="too old"):
        verify(headers, b"{}", secret, now=1_000_000 + 301)
    with pytest.raises(SignatureError, match="too new"):
        verify(headers, b"{}", secret, now=1_000_000 - 301)


def test_bad_signature_headers() -> None:
    secret = new_secret()
    good = signature_headers("msg_4", b"{}", [secret])
    for broken in ({**good, "webhook-timestamp": "soon"}, {**good, "webhook-signature": "v2," + good["webhook-signature"][3:]},
                   {k: v for k, v in good.items() if k != "webhook-id"}, {**good, "webhook-signature": "v1," + "A" * 5000}):
        with pytest.raises(SignatureError):
            verify(broken, b"{}", secret)
    assert new_secret().startswith("whsec_") and len(base64.b64decode(new_secret()[6:])) == 32


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "x"]), st.text(max_size=200)),
       st.binary(max_size=200))
def test_verify_fuzz(headers: dict[str, str], body: bytes) -> None:
    try:
        verify(headers, body, new_secret())
    except SignatureError:
        return
    raise AssertionError("a random message verified")


# -- retry schedule ------------------------------------------------------------------------


def test_svix_schedule() -> None:
    assert [s.total_seconds() for s in SCHEDULE] == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    for attempt in range(1, 8):
        decision = decide(Outcome(500), attempt, NOW)
        assert decision.state == "pending" and decision.next_attempt_at == NOW + SCHEDULE[attempt]
    assert decide(Outcome(500), 8, NOW).state == "failed"


def test_outcomes() -> None:
    assert decide(Outcome(204), 1, NOW).state == "delivered"
    assert decide(Outcome(302), 1, NOW).state == "pending"  # 3xx is a failure
    gone = decide(Outcome(410), 1, NOW)
    assert gone.state == "failed" and gone.disable_endpoint
    assert decide(Outcome(None, error="timed out"), 1, NOW).reason == "timed out"
    later = decide(Outcome(503, retry_after="120"), 1, NOW)
    assert later.next_attempt_at == NOW + dt.timedelta(seconds=120)
    earlier = decide(Outcome(503, retry_after="1"), 2, NOW)  # never earlier than the schedule
    assert earlier.next_attempt_at == NOW + SCHEDULE[2]
    dated = decide(Outcome(429, retry_after="Mon, 23 Nov 2026 13:00:00 GMT"), 1, NOW)
    assert dated.next_attempt_at == NOW + dt.timedelta(hours=1)
    capped = decide(Outcome(429, retry_after="99999999"), 1, NOW)
    assert capped.next_attempt_at == NOW + dt.timedelta(hours=24)
    assert decide(Outcome(429, retry_after="garbage"), 1, NOW).next_attempt_at == NOW + SCHEDULE[1]
    dead = decide(Outcome(500), 2, NOW, failing_since=NOW - dt.timedelta(days=5))
    assert dead.state == "failed" and dead.disable_endpoint
    assert decide(Outcome(500), 2, NOW, failing_since=NOW - dt.timedelta(days=4)).state == "pending"


# -- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.1.1", "::1", "fe80::1",
     "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "0.0.0.0", "224.0.0.1", "100.64.0.1", "2002:7f00:1::",
     "64:ff9b::a00:1", "fd00:ec2::254", "240.0.0.1"],
)
def test_internal_addresses_refused(address: str) -> None:
    with pytest.raises(DestinationRefused):
        AddressPolicy().check_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert str(AddressPolicy().check_address(address)) == address


def test_allowed_networks() -> None:
    policy = AddressPolicy("127.0.0.0/8, ::1")
    assert str(policy.check_address("127.0.0.1")) == "127.0.0.1"
    assert str(policy.check_address("::1")) == "::1"
    with pytest.raises(DestinationRefused):
        policy.check_address("10.0.0.1")
    with pytest.raises(DestinationRefused, match="every|169.254"):
        policy.check_addresses(["127.0.0.1", "169.254.169.254"])  # one bad answer refuses the name
    with pytest.raises(ValueError, match="'nonsense'"):
        AddressPolicy("127.0.0.0/8,nonsense")


def test_allowed_networks_as_a_list() -> None:
    # Callbacks(api, allowed_networks=[...]) and Outbox(..., allowed_networks=[...]) hand the list
    # on as given: CIDR text and network objects alike.
    policy = AddressPolicy(["127.0.0.0/8", ipaddress.ip_network("::1/128")])
    assert str(policy.check_address("127.0.0.1")) == "127.0.0.1"
    assert str(policy.check_address("::1")) == "::1"
    with pytest.raises(DestinationRefused):
        policy.check_address("10.0.0.1")
    with pytest.raises(ValueError, match="'nonsense'"):
        AddressPolicy(["127.0.0.0/8", "nonsense"])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x.example/", "http"), ("https:///path", "host"), ("https://u:p@x.example/", "credentials"),
        ("https://x.example/#f", "fragment"), ("https://x.example/a b", "spaces"), ("http://127.0.0.1/", "loopback"),
        ("http://[::1]:8000/", "loopback"), ("http://localhost:8000/", "loopback"), ("http://169.254.169.254/latest", "metadata"),
        ("https://x.example:99999/", "valid URL"), ("", "required"),
    ],
)
def test_url_rules(url: str, message: str) -> None:
    with pytest.raises(DestinationRefused, match=message):
        check_url(url, AddressPolicy())


def test_url_rules_pass() -> None:
    assert check_url("https://hooks.example/in?x=1", AddressPolicy()) == ("https", "hooks.example", 443)
    assert check_url("http://127.0.0.1:9/x", AddressPolicy("127.0.0.0/8")) == ("http", "127.0.0.1", 9)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_url_rules_fuzz(url: str) -> None:
    try:
        check_url(url, AddressPolicy())
    except DestinationRefused:
        pass
