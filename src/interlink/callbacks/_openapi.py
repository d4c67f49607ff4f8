"""What callbacks and webhooks add to an ApiServer's OpenAPI document (through the server's
``Extension.openapi``): each method's declared callbacks under its operation's ``callbacks``,
and the declared webhooks under the document's top-level ``webhooks`` (OpenAPI 3.1), each an
operation this API *sends*, signed as Standard Webhooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._declare import Callback, Webhook

if TYPE_CHECKING:
    from interlink.server import Method, OpenApiDocument

__all__ = ["SIGNATURE_PARAMETERS", "add_to_document"]

SIGNATURE_PARAMETERS = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "The message's id: the same on every attempt; de-duplicate on it"},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "integer"},
     "description": "Seconds since 1970 when this attempt was signed"},
    {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated during a secret's rotation"},
]


def add_to_document(document: OpenApiDocument, methods: Iterable[Method], webhooks: Mapping[str, Webhook]) -> None:
    for method in methods:
        declared = [c for c in method.callbacks if isinstance(c, Callback)]
        if declared:
            document.operation(method)["callbacks"] = {
                callback.name: {callback.url: {callback.method.lower(): outgoing(document, callback, f"{method.name}.{callback.name}")}}
                for callback in declared
            }
    if webhooks:
        document.document["webhooks"] = {
            event: {webhook.method.lower(): outgoing(document, webhook, f"webhook.{event}")}
            for event, webhook in sorted(webhooks.items())
        }


def outgoing(document: OpenApiDocument, message: Callback | Webhook, operation_id: str) -> dict[str, Any]:
    """A callback's or webhook's operation: what this API sends, signed as Standard Webhooks;
    the receiver answers any 2xx within 15 seconds."""
    body = document.schema(message.body.json_schema())
    response: dict[str, Any] = {"description": "Received (any 2xx within 15 s; anything else is retried)"}
    if message.response is not None:
        response["content"] = {"application/json": {"schema": document.schema(message.response.json_schema())}}
    description = message.description or (
        "Sent by this API, signed as Standard Webhooks with the caller's signing secret, retried until "
        "the receiver answers 2xx."
    )
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "description": description,
        "parameters": SIGNATURE_PARAMETERS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"200": response},
    }
    if message.summary:
        operation["summary"] = message.summary
    return operation
