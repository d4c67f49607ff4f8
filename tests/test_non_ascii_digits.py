"""Numbers read from headers, tokens and pointers are ASCII digits only.

``str.isdigit()`` is true for superscripts and other Unicode digits ("²", "¹"), which ``int()``
and ``float()`` then refuse with a ValueError; each reader below must treat such text as
unreadable instead of raising.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from interlink.callbacks._expressions import CallData, EvaluationError, parse_expression
from interlink.callbacks._schedule import parse_retry_after as delivery_retry_after
from interlink.callbacks._signing import SignatureError, signature_headers, verify
from interlink.http._oauth2 import TokenState
from interlink.http._retry import parse_retry_after

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["²", "1²", "٣"])
def test_retry_after_with_unicode_digits_is_unreadable(value: str) -> None:
    assert parse_retry_after(value, NOW) is None
    assert delivery_retry_after(value, NOW) is None
    assert parse_retry_after("3", NOW) == 3.0  # the ASCII form still reads


def test_json_pointer_index_with_unicode_digit_finds_nothing() -> None:
    data = CallData(request_body={"items": ["a", "b"]})
    assert parse_expression("$request.body#/items/1").evaluate(data) == "b"
    with pytest.raises(EvaluationError, match="has no value"):
        parse_expression("$request.body#/items/¹").evaluate(data)


def test_webhook_timestamp_with_unicode_digits_is_a_signature_error() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    headers = signature_headers("msg_1", b"{}", [secret], timestamp=1_700_000_000)
    assert verify(headers, b"{}", secret, now=1_700_000_000) == "msg_1"
    headers["webhook-timestamp"] = "¹" + headers["webhook-timestamp"][1:]
    with pytest.raises(SignatureError):
        verify(headers, b"{}", secret, now=1_700_000_000)


def test_token_lifetime_with_unicode_digits_is_taken_as_unknown() -> None:
    state = TokenState("https://idp.example/token", "client", "secret")
    state.accept(200, json.dumps({"access_token": "t", "expires_in": "³⁶⁰⁰"}).encode(), now=0.0)
    assert state.access_token == "t" and state.expires_at is None
    state.accept(200, json.dumps({"access_token": "u", "expires_in": "3600"}).encode(), now=0.0)
    assert state.expires_at == 3600.0
