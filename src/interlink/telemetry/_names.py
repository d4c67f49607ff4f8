"""The names interlink's spans and metrics use: one place, so docs/observability.md lists them all.

Attributes carry names, statuses, counts and identifiers (a method's name, a role's api_id, a
message id) — never an argument value, a payload, a key, a secret or a token.
"""

from __future__ import annotations

__all__ = [
    "ATTEMPT", "DELIVERY_KIND", "ERROR_TYPE", "EVENT", "HANDLER", "HTTP_METHOD", "HTTP_STATUS", "MESSAGE_ID", "METHOD", "OUTCOME",
    "ROLE", "SYNC", "TOKEN_REQUEST", "TRACER",
]

#: The instrumentation scope of every span interlink makes.
TRACER = "interlink"

METHOD = "interlink.method"  # the API method, "module.function"
ROLE = "interlink.role"  # the caller's role api_id ("r-…"): who, never with what key
HTTP_STATUS = "http.response.status_code"  # the OpenTelemetry semantic convention's name
ERROR_TYPE = "error.type"  # the error's code ("not_authorised") or the exception's class
DELIVERY_KIND = "interlink.delivery.kind"  # callback | webhook
EVENT = "interlink.delivery.event"
MESSAGE_ID = "interlink.delivery.message_id"  # what the receiver de-duplicates on
ATTEMPT = "interlink.delivery.attempt"  # 1, 2, … for one message
OUTCOME = "interlink.delivery.outcome"  # delivered | retry | failed
TOKEN_REQUEST = "interlink.token_request"  # true on a client span that asks for a token
SYNC = "interlink.sync"  # the sync's name
HANDLER = "interlink.handler"  # a rest-tools server's request: "GET FruitsHandler"
HTTP_METHOD = "http.request.method"
