"""Declaring callbacks and webhooks: typed, once, and the same object sends.

    invoice_paid = Callback(
        "{$request.body#/callback_url}/invoices/{$request.body#/invoice/id}",
        body=InvoiceEvent, response=InvoiceEventReceived,
    )

    @invoices.method(callbacks=[invoice_paid])
    async def create(rl: Role, invoice: Invoice, callback_url: str) -> InvoiceReceived:
        await invoice_paid.send(InvoiceEvent(description="Invoice paid", paid=True))

``send`` queues the message in the call's transaction (nothing goes out inline); the delivery
worker signs and sends it once the call's work is committed. Body types are dataclasses,
pydantic models or anything else ``interlink.wire`` describes: one description gives the JSON
that is sent and the JSON Schema in the OpenAPI document.
"""

from __future__ import annotations

import json
from typing import Any

from interlink.wire import Result

from ._expressions import Template, parse_template
from ._signing import new_message_id

__all__ = ["Callback", "Webhook", "encode_body"]

METHODS = ("POST", "PUT", "PATCH", "DELETE", "GET")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def encode_body(result: Result, body: object) -> str:
    """The JSON text of a body, as the wire encodes its declared type."""
    return _encode(result.encode(body))


class _Typed:
    # body and response are type annotations (any type form, hence Any); bodies are values.
    def __init__(self, body: Any, response: Any) -> None:
        self.body_type = body
        self.body = Result(body)
        self.response_type = response
        self.response = None if response is None else Result(response)

    def encode(self, body: object) -> str:
        try:
            return encode_body(self.body, body)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            raise TypeError(f"{self!r}: the body is not a {getattr(self.body_type, '__name__', self.body_type)} ({error})") from None


class Callback(_Typed):
    """A request this API makes back to its caller, at a URL taken from the call.

    ``url`` is an OpenAPI runtime expression template, checked now (an invalid one raises
    ``ExpressionError``). ``name`` is the key under the operation's ``callbacks`` in the
    OpenAPI document (default: the body type's name, else ``callback``).
    """

    def __init__(
        self,
        url: str,
        *,
        body: Any = Any,
        response: Any = None,
        method: str = "POST",
        name: str | None = None,
        summary: str = "",
        description: str = "",
    ) -> None:
        self.template: Template = parse_template(url, stacklevel=3)
        self.url = str(self.template)
        self.method = method.upper()
        if self.method not in METHODS:
            raise ValueError(f"a callback's method is one of {', '.join(METHODS)}, not {method!r}")
        super().__init__(body, response)
        self.name = name or getattr(body, "__name__", None) or "callback"
        self.summary = summary
        self.description = description

    async def send(self, body: object, *, url: str | None = None) -> str:
        """Queue ``body`` for the current call's caller; returns the message id."""
        return self.send_sync(body, url=url)

    def send_sync(self, body: object, *, url: str | None = None) -> str:
        """``send`` for plain ``def`` methods (it does no I/O either: the row is written when
        the call's transaction commits)."""
        from ._calls import queue_callback

        message_id = new_message_id()
        queue_callback(self, self.encode(body), url, message_id)
        return message_id

    def __repr__(self) -> str:
        return f"Callback({self.url!r}, name={self.name!r})"


class Webhook(_Typed):
    """An event the API sends to every endpoint subscribed to it (``callbacks.webhook(...)``)."""

    def __init__(self, event: str, *, body: Any = Any, summary: str = "", description: str = "", method: str = "POST") -> None:
        if not event or len(event) > 200 or any(c.isspace() for c in event):
            raise ValueError(f"a webhook event name is 1-200 characters without spaces, not {event!r}")
        super().__init__(body, None)
        self.event = event
        self.method = method.upper()
        if self.method not in METHODS:
            raise ValueError(f"a webhook's method is one of {', '.join(METHODS)}, not {method!r}")
        self.summary = summary
        self.description = description

    def __repr__(self) -> str:
        return f"Webhook({self.event!r})"
