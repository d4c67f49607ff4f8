"""The outbox's tables — messages to deliver, every attempt, webhook endpoints, signing
secrets — by the names callbacks have always used. The tables belong to the store
(``interlink.store``), which has them whatever is imported; these are the same classes.
"""

from __future__ import annotations

from interlink.store import DeliveryAttempt, OutboxMessage, SigningSecret, WebhookEndpoint

__all__ = ["DeliveryAttempt", "OutboxMessage", "SigningSecret", "WebhookEndpoint", "excerpt"]


def excerpt(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
