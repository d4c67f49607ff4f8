"""Typed API methods for a caller to manage its own webhook endpoints::

    api = ApiServer(...)
    callbacks = Callbacks(api)
    callbacks.webhook("invoice.paid", body=InvoicePaid)
    webhook_methods(callbacks)    # POST /api/webhooks/add, /list, /disable, /rotate_secret

Each role sees and changes only the endpoints it made; ``add`` and ``rotate_secret`` return
the endpoint's secret, the one time it is shown.
"""

from __future__ import annotations

import dataclasses

from interlink.errors import BadArguments
from interlink.identity import Role
from interlink.server import ApiServer, Call

from ._addresses import DestinationRefused
from ._calls import Callbacks
from ._models import WebhookEndpoint
from ._outbox import DEFAULT_OVERLAP, add_endpoint, disable_endpoint, find_endpoint, list_endpoints, rotate_endpoint_secret

__all__ = ["EndpointInfo", "NewSecret", "webhook_methods"]


@dataclasses.dataclass
class EndpointInfo:
    api_id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str
    description: str


@dataclasses.dataclass
class NewSecret:
    endpoint: EndpointInfo
    secret: str


def _info(endpoint: WebhookEndpoint) -> EndpointInfo:
    return EndpointInfo(endpoint.api_id, endpoint.url, list(endpoint.events), endpoint.enabled,
                        endpoint.disabled_reason, endpoint.description)


def webhook_methods(callbacks: Callbacks | ApiServer, module: str = "webhooks", *, requires: tuple[str, ...] = ()) -> None:
    """Publish ``add``, ``list``, ``disable`` and ``rotate_secret`` under ``module`` of the
    callbacks' ApiServer (given an ApiServer: of its Callbacks)."""
    if isinstance(callbacks, ApiServer):
        callbacks = Callbacks.of(callbacks)
    api = callbacks.api
    webhooks = api.module(module)

    def own(call: Call, rl: Role, endpoint: str) -> WebhookEndpoint:
        try:
            return find_endpoint(call.db, endpoint, role_api_id=rl.api_id)
        except LookupError as error:
            raise BadArguments(str(error), field="endpoint") from None

    @webhooks.method(name="add", requires=requires)
    def add(rl: Role, call: Call, url: str, events: list[str] | None = None, description: str = "") -> NewSecret:
        """Subscribe ``url`` to ``events`` (none: every event); returns the endpoint's secret, once."""
        declared = callbacks.webhooks
        unknown = sorted(set(events or ()) - set(declared))
        if unknown:
            raise BadArguments(f"no such event(s): {', '.join(unknown)}; known: {', '.join(sorted(declared))}", field="events")
        if len(description) > 200:
            raise BadArguments("at most 200 characters", field="description")
        try:
            endpoint, secret = add_endpoint(call.db, url, events=events or (), role_api_id=rl.api_id,
                                            description=description, policy=callbacks.policy)
        except DestinationRefused as error:
            raise BadArguments(str(error), field="url") from None
        return NewSecret(_info(endpoint), secret)

    @webhooks.method(name="list", requires=requires)
    def list_(rl: Role, call: Call) -> list[EndpointInfo]:
        """This role's webhook endpoints (never a secret)."""
        return [_info(e) for e in list_endpoints(call.db, role_api_id=rl.api_id)]

    @webhooks.method(name="disable", requires=requires)
    def disable(rl: Role, call: Call, endpoint: str) -> EndpointInfo:
        """Stop sending to an endpoint; its pending messages are given up."""
        found = own(call, rl, endpoint)
        disable_endpoint(call.db, found, "disabled by its owner")
        return _info(found)

    @webhooks.method(name="rotate_secret", requires=requires)
    def rotate_secret(rl: Role, call: Call, endpoint: str, overlap_hours: float = DEFAULT_OVERLAP.total_seconds() / 3600) -> NewSecret:
        """A new secret (shown once); the old one also signs for ``overlap_hours``."""
        import datetime as dt

        if not 0 <= overlap_hours <= 24 * 30:
            raise BadArguments("between 0 and 720 hours", field="overlap_hours")
        found = own(call, rl, endpoint)
        secret = rotate_endpoint_secret(call.db, found, dt.timedelta(hours=overlap_hours))
        return NewSecret(_info(found), secret)
