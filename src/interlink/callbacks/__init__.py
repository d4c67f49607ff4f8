"""interlink.callbacks: callbacks and webhooks, documented in OpenAPI and delivered.

Declared once and typed (``Callback``, ``callbacks.webhook``), shown in ``/api/openapi.json``
and ``/docs``, queued in a transactional outbox in the store, and sent by a delivery worker:
signed as Standard Webhooks, retried on Svix's schedule, never to internal addresses unless
allowed. The parsers (runtime expressions, signatures, the retry schedule, the address rules)
are pure modules; the worker is a thin async shell over them.

``Callbacks(api)`` plugs all of it into an ApiServer through the server's extension seam. It
and ``webhook_methods`` are loaded on first use, so that importing this package (for
``FastAPICallbacks`` or ``Outbox``, say) does not load the server.
"""

import typing

try:
    import httpx  # noqa: F401
    import sqlalchemy  # noqa: F401
    import starlette  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.callbacks needs the callbacks extra ({error}): pip install 'interlink[callbacks]'") from error

from ._addresses import AddressPolicy, DestinationRefused, check_url, parse_networks
from ._declare import Callback, Webhook
from ._expressions import CallData, EvaluationError, Expression, ExpressionError, Template, parse_expression, parse_template
from ._fastapi import FastAPICallbacks
from ._models import DeliveryAttempt, OutboxMessage, SigningSecret, WebhookEndpoint
from ._outbox import (
    Outbox,
    add_endpoint,
    disable_endpoint,
    find_delivery,
    find_endpoint,
    list_deliveries,
    list_endpoints,
    retry_delivery,
    rotate_endpoint_secret,
    signing_secret,
)
from ._schedule import SCHEDULE, Decision, Outcome, decide
from ._signing import SignatureError, new_secret, sign, signature_headers, verify
from ._worker import DeliveryWorker

if typing.TYPE_CHECKING:  # pragma: no cover
    from ._calls import Callbacks
    from ._methods import EndpointInfo, NewSecret, webhook_methods

# name -> the module it lives in; these need the server, so they are imported when first used.
_LAZY = {
    "Callbacks": "._calls",
    "EndpointInfo": "._methods",
    "NewSecret": "._methods",
    "webhook_methods": "._methods",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'interlink.callbacks' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "SCHEDULE",
    "AddressPolicy",
    "CallData",
    "Callback",
    "Callbacks",
    "Decision",
    "DeliveryAttempt",
    "DeliveryWorker",
    "EndpointInfo",
    "NewSecret",
    "DestinationRefused",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "FastAPICallbacks",
    "Outbox",
    "OutboxMessage",
    "Outcome",
    "SignatureError",
    "SigningSecret",
    "Template",
    "Webhook",
    "WebhookEndpoint",
    "add_endpoint",
    "check_url",
    "decide",
    "disable_endpoint",
    "find_delivery",
    "find_endpoint",
    "list_deliveries",
    "list_endpoints",
    "new_secret",
    "parse_expression",
    "parse_networks",
    "parse_template",
    "retry_delivery",
    "rotate_endpoint_secret",
    "sign",
    "signature_headers",
    "signing_secret",
    "verify",
    "webhook_methods",
]
