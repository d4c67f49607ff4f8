"""Callbacks inside a served call: what an ApiServer's hook does around each method.

Before the method runs, the call's data is captured for runtime expressions and every declared
callback whose URL the request already determines is checked: a URL that is not http(s), or an
address that is refused, is a 400 naming the argument, before any work is done. ``send`` and
``emit`` only note the message; just before the call's transaction commits, the notes become
outbox rows in that same transaction (so a method that fails sends nothing), with URLs that may
read the response (``$response.body#/id``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlink.errors import BadArguments, ServerError
from interlink.server._call import Call, CallSlot, current_call

from ._addresses import AddressPolicy, DestinationRefused, check_url
from ._declare import Callback, Webhook
from ._expressions import CallData, EvaluationError
from ._signing import new_message_id

if TYPE_CHECKING:
    from interlink.identity import Backend
    from interlink.server import ApiServer, CallHook, Method, Pipeline, Request

__all__ = ["CallbackHook", "queue_callback"]

logger = logging.getLogger("interlink.callbacks")
ANONYMOUS_SIGNER = "anonymous"


@dataclass
class CallState:
    """One call's captured data and the messages it queued."""

    hook: CallbackHook
    data: CallData
    signer: str
    callbacks: list[tuple[Callback, str, str | None, str]] = field(default_factory=list)
    events: list[tuple[Webhook, str, str]] = field(default_factory=list)

    def flush(self, call: Call) -> None:
        from ._outbox import enqueue_callback, enqueue_webhook

        if not self.callbacks and not self.events:
            return
        data = CallData(**{**self.data.__dict__, "response_body": call.response, "has_response": True})
        session = call.db
        for callback, payload, url, message_id in self.callbacks:
            if url is None:
                try:
                    url = callback.template.evaluate(data)
                except EvaluationError as error:
                    raise BadArguments(f"callback {callback.name}: {error.message}", field=error.field or None) from None
            self.hook.check(url, callback, "")
            enqueue_callback(session, url, payload, signer=self.signer, event=callback.name, method=callback.method,
                             message_id=message_id)
        for webhook, payload, message_id in self.events:
            enqueue_webhook(session, webhook.event, payload, method=webhook.method, message_id=message_id)


# This extension's state of each call it watches.
STATE: CallSlot[CallState] = CallSlot("callbacks")


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        if key in ("authorization", "cookie"):
            continue  # credentials are never material for a URL
        out.setdefault(key, value.decode("latin-1"))
    return out


class CallbackHook:
    """What an ApiServer with callbacks or webhooks does around its calls (``api.call_hook``)."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self._policy: AddressPolicy | None = None
        self._backend: Backend | None = None

    @property
    def policy(self) -> AddressPolicy:
        if self._policy is None:
            allowed = self.api.callback_allowed_networks
            if allowed is None:
                from interlink.settings import Settings

                allowed = Settings.from_environ().callback_allowed_networks
            self._policy = AddressPolicy(allowed)
        return self._policy

    def watches(self, method: Method) -> bool:
        return bool(method.callbacks) or bool(self.api.webhooks)

    # -- the extension seam ---------------------------------------------------------------

    def bind(self, pipeline: Pipeline, backend: Backend) -> None:
        self._backend = backend

    def call_hook(self, method: Method) -> CallHook | None:
        if not self.watches(method):
            return None

        def begin(call: Call, request: Request, kwargs: dict[str, Any]) -> None:
            self.begin(call, method, request, kwargs)

        return begin

    def routes(self) -> tuple[()]:
        return ()

    def openapi(self, document: Any) -> None:
        pass

    def lifespan(self) -> Any:
        return self.running()

    def check(self, url: str, callback: Callback, field_name: str) -> None:
        try:
            check_url(url, self.policy)
        except DestinationRefused as error:
            raise BadArguments(f"callback {callback.name}: {error}", field=field_name or None) from None

    def begin(self, call: Call, method: Method, request: Request, kwargs: dict[str, Any]) -> None:
        headers = _headers(request.headers)
        shapes = method.arguments.shapes
        body = {name: shapes[name].encode(value) for name, value in kwargs.items() if name in shapes}
        # The query's pairs with the authorisation field already taken out: credentials are
        # never material for a URL.
        query = {name: value for name, value in request.query[:100] if isinstance(value, str)}
        data = CallData(url=request.url, method="POST", request_headers=headers,
                        request_query=query, request_body=body)
        role = call.role
        signer = getattr(role, "api_id", None) or ANONYMOUS_SIGNER
        for callback in method.callbacks:
            if callback.template.uses_response:
                continue
            try:
                url = callback.template.evaluate(data)
            except EvaluationError:
                continue  # an optional argument left out: send() says so if it is used
            field_name = next((e.field for e in callback.template.expressions if e.kind == "request" and e.field), "")
            self.check(url, callback, field_name)
        state = CallState(self, data, signer)
        STATE.set(call, state)
        call.before_commit.append(state.flush)

    def emit(self, event: str, body: Any) -> str:
        webhook = self.api.webhooks.get(event)
        if webhook is None:
            raise LookupError(f"no webhook {event!r} declared (api.webhook({event!r}, body=...))")
        payload = webhook.encode(body)
        message_id = new_message_id()
        call = current_call()
        state = None if call is None else STATE.get(call)
        if state is not None:
            state.events.append((webhook, payload, message_id))
            return message_id
        from ._outbox import enqueue_webhook

        database = self.database()
        with database.session() as session:
            enqueue_webhook(session, event, payload, method=webhook.method, message_id=message_id)
        return message_id

    def database(self) -> Any:
        if self._backend is None:
            self.api.app.setup()
        if self._backend is None or self._backend.database is None:
            raise ServerError("callbacks and webhooks need the ApiServer's database (the outbox lives there)")
        return self._backend.database

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The in-process delivery worker, for the app's lifetime (``delivery_worker=True``)."""
        backend = self._backend
        if not self.api.delivery_worker or backend is None or backend.database is None:
            yield
            return
        from ._worker import DeliveryWorker

        worker = DeliveryWorker(backend.database, policy=self.policy)
        async with worker.in_background():
            yield


def queue_callback(callback: Callback, payload: str, url: str | None, message_id: str) -> None:
    call = current_call()
    state = None if call is None else STATE.get(call)
    if state is None:
        raise RuntimeError(
            f"{callback!r}.send() is called inside a method that lists it (callbacks=[...]); "
            "outside an interlink call use interlink.callbacks.Outbox(database).send(url, body)"
        )
    state.callbacks.append((callback, payload, url, message_id))
