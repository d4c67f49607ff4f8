"""``Callbacks``: callbacks and webhooks on an ApiServer, plugged in through its extension seam.

    api = ApiServer(database="sqlite:///invoices.db")
    callbacks = Callbacks(api, allowed_networks="127.0.0.1/32")   # attaches itself
    invoice_paid = callbacks.webhook("invoice.paid", body=InvoicePaid)

    @invoices.method(callbacks=[invoice_callback])
    async def create(rl: Role, invoice: Invoice, callback_url: str) -> InvoiceReceived:
        await invoice_callback.send(InvoiceEvent(...))
        callbacks.emit("invoice.paid", InvoicePaid(...))

What it does through the seam (``interlink.server.Extension``), and nothing else:

- ``call_hook``: decided once per method — a method that lists callbacks, or every method once
  webhooks are declared, gets a hook; the others keep the server's lean path. Before the method
  runs, the hook captures the call's data for runtime expressions and checks every declared
  callback whose URL the request already determines: a URL that is not http(s), or an address
  that is refused, is a 400 naming the argument, before any work is done. ``send`` and ``emit``
  only note the message (in this extension's own slot of the Call); just before the call's
  transaction commits, the notes become outbox rows in that same transaction (so a method that
  fails sends nothing), with URLs that may read the response (``$response.body#/id``).
- ``openapi``: each operation's ``callbacks`` and the document's ``webhooks`` (callbacks/_openapi.py).
- ``lifespan``: the in-process delivery worker, for the app's lifetime (``delivery_worker=True``).
- ``bind``: keeps the backend, whose database holds the outbox.

This is the example to copy for a new extension (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interlink.errors import BadArguments, ServerError
from interlink.server import Call, CallSlot, current_call

from ._addresses import AddressPolicy, DestinationRefused, check_url
from ._declare import Callback, Webhook
from ._expressions import CallData, EvaluationError
from ._signing import new_message_id

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from interlink.identity import Backend, DatabaseSessions
    from interlink.server import ApiServer, CallHook, CallRunner, Method, OpenApiDocument, Pipeline, Request

__all__ = ["Callbacks", "queue_callback"]

logger = logging.getLogger("interlink.callbacks")
ANONYMOUS_SIGNER = "anonymous"


@dataclass
class CallbackState:
    """One call's captured data and the messages it queued."""

    callbacks: Callbacks
    data: CallData
    signer: str
    queued: list[tuple[Callback, str, str | None, str]] = field(default_factory=list)
    events: list[tuple[Webhook, str, str]] = field(default_factory=list)

    def flush(self, call: Call) -> None:
        """Just before the call commits: the queued messages become outbox rows in its transaction."""
        from ._outbox import enqueue_callback, enqueue_webhook

        if not self.queued and not self.events:
            return
        data = CallData(**{**self.data.__dict__, "response_body": call.response, "has_response": True})
        session = call.db
        for callback, payload, url, message_id in self.queued:
            if url is None:
                try:
                    url = callback.template.evaluate(data)
                except EvaluationError as error:
                    raise BadArguments(f"callback {callback.name}: {error.message}", field=error.field or None) from None
            self.callbacks.check(url, callback, "")
            enqueue_callback(session, url, payload, signer=self.signer, event=callback.name, method=callback.method,
                             message_id=message_id)
        for webhook, payload, message_id in self.events:
            enqueue_webhook(session, webhook.event, payload, method=webhook.method, message_id=message_id)


#: This extension's own state of each call it watches (the Call knows nothing of it).
STATE: CallSlot[CallbackState] = CallSlot("callbacks")


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        if key in ("authorization", "cookie"):
            continue  # credentials are never material for a URL
        out.setdefault(key, value.decode("latin-1"))
    return out


class Callbacks:
    """Callbacks and webhooks of an ApiServer: documented in its OpenAPI document, queued in its
    database's outbox in each call's transaction, delivered by a worker that runs with the app.

    ``allowed_networks``: networks callbacks may reach besides public addresses (CIDRs, comma
    separated or a list; None: ``$INTERLINK_CALLBACK_ALLOWED_NETWORKS``). ``delivery_worker``:
    run a delivery worker in-process while the app serves (``interlink worker`` runs more).
    """

    def __init__(
        self,
        api: ApiServer,
        *,
        allowed_networks: str | Iterable[str] | None = None,
        delivery_worker: bool = True,
    ) -> None:
        if any(isinstance(extension, Callbacks) for extension in api.extensions):
            raise ValueError("this ApiServer has its Callbacks already: use that one (api.extensions)")
        self.api = api
        self.allowed_networks = allowed_networks
        self.delivery_worker = delivery_worker
        self.webhooks: dict[str, Webhook] = {}
        self._policy: AddressPolicy | None = None
        self._backend: Backend | None = None
        api.add_extension(self)

    @classmethod
    def of(cls, api: ApiServer) -> Callbacks:
        """The Callbacks attached to ``api``; LookupError when it has none."""
        for extension in api.extensions:
            if isinstance(extension, Callbacks):
                return extension
        raise LookupError("this ApiServer has no callbacks: attach them with interlink.callbacks.Callbacks(api)")

    @property
    def policy(self) -> AddressPolicy:
        """Where callbacks may go (docs/callbacks.md, "Security")."""
        if self._policy is None:
            allowed = self.allowed_networks
            if allowed is None:
                from interlink.settings import Settings

                allowed = Settings.from_environ().callback_allowed_networks
            self._policy = AddressPolicy(allowed)
        return self._policy

    # -- declaring and emitting -------------------------------------------------------------

    def webhook(self, event: str, *, body: Any = Any, summary: str = "", description: str = "") -> Webhook:
        """Declare a webhook event (shown under the OpenAPI document's ``webhooks``)."""
        if event in self.webhooks:
            raise ValueError(f"webhook {event!r} is already declared")
        webhook = self.webhooks[event] = Webhook(event, body=body, summary=summary, description=description)
        self.api.invalidate()  # every method now gets the hook, so emit() joins its transaction
        return webhook

    def emit(self, event: str, body: object) -> str:
        """Queue webhook ``event`` for every endpoint subscribed to it; returns the message id.
        Inside a method it is written in the call's transaction, else in one of its own."""
        webhook = self.webhooks.get(event)
        if webhook is None:
            raise LookupError(f"no webhook {event!r} declared (callbacks.webhook({event!r}, body=...))")
        payload = webhook.encode(body)
        message_id = new_message_id()
        call = current_call()
        state = None if call is None else STATE.get(call)
        if state is not None:
            state.events.append((webhook, payload, message_id))
            return message_id
        from ._outbox import enqueue_webhook

        with self.database().session() as session:
            enqueue_webhook(session, event, payload, method=webhook.method, message_id=message_id)
        return message_id

    def check(self, url: str, callback: Callback, field_name: str) -> None:
        try:
            check_url(url, self.policy)
        except DestinationRefused as error:
            raise BadArguments(f"callback {callback.name}: {error}", field=field_name or None) from None

    def database(self) -> DatabaseSessions:
        """The ApiServer's database, where the outbox lives."""
        if self._backend is None:
            self.api.app.setup()  # outside a call, before the app has served: open the backend now
        backend = self._backend
        if backend is None or backend.database is None:
            raise ServerError("callbacks and webhooks need the ApiServer's database (the outbox lives there)")
        return backend.database

    # -- the extension seam -----------------------------------------------------------------

    def bind(self, pipeline: Pipeline, backend: Backend) -> None:
        self._backend = backend

    def declared(self) -> bool:
        """Whether anything is declared to be delivered: a webhook, or a method's callback."""
        return bool(self.webhooks) or any(method.callbacks for method in self.api.methods.values())

    def check_ready(self) -> None:
        """Before serving: with something declared and the in-process worker on, a usable
        ``INTERLINK_SECRET_KEY`` (signing secrets are stored encrypted with it), or
        ``SecretKeyMissing`` in one line saying how to make one. ``interlink serve`` asks
        before it starts uvicorn; the lifespan asks again for any other ASGI server."""
        if self.delivery_worker and self.declared():
            from interlink.store import check_secret_key

            check_secret_key()

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """The in-process delivery worker, for the app's lifetime (``delivery_worker=True``),
        when something is declared to be delivered."""
        self.check_ready()
        backend = self._backend
        if not self.delivery_worker or not self.declared() or backend is None or backend.database is None:
            yield
            return
        from interlink.store import Database

        from ._worker import DeliveryWorker

        database = backend.database
        if not isinstance(database, Database):
            raise TypeError(
                f"the in-process delivery worker needs an interlink.store.Database, not {database!r}: "
                "pass delivery_worker=False and run `interlink worker` on the outbox's database"
            )
        worker = DeliveryWorker(database, policy=self.policy)
        async with worker.in_background():
            yield

    def call_hook(self, method: Method) -> CallHook | None:
        if not method.callbacks and not self.webhooks:
            return None  # the method keeps the lean path
        declared = tuple(c for c in method.callbacks if isinstance(c, Callback))
        shapes = method.arguments.shapes
        # A callback whose URL the request determines is checked before the method runs; the
        # argument at fault is named in the 400.
        early = [
            (callback, next((e.field for e in callback.template.expressions if e.kind == "request" and e.field), ""))
            for callback in declared
            if not callback.template.uses_response
        ]

        def begin(call: Call, request: Request, kwargs: dict[str, Any]) -> None:
            body = {name: shapes[name].encode(value) for name, value in kwargs.items() if name in shapes}
            # The query's pairs with the authorisation field already taken out: credentials are
            # never material for a URL.
            query = {name: value for name, value in request.query[:100] if isinstance(value, str)}
            data = CallData(url=request.url, method="POST", request_headers=_headers(request.headers),
                            request_query=query, request_body=body)
            for callback, field_name in early:
                try:
                    url = callback.template.evaluate(data)
                except EvaluationError:
                    continue  # an optional argument left out: send() says so if it is used
                self.check(url, callback, field_name)
            signer = getattr(call.role, "api_id", None) or ANONYMOUS_SIGNER
            state = CallbackState(self, data, signer)
            STATE.set(call, state)
            call.before_commit.append(state.flush)

        return begin

    def routes(self) -> Sequence[BaseRoute]:
        return ()

    def wrap_call(self, call: CallRunner) -> CallRunner | None:
        return None  # a call's way is left as it is

    def openapi(self, document: OpenApiDocument) -> None:
        from ._openapi import add_to_document

        add_to_document(document, self.api.methods.values(), self.webhooks)

    def __repr__(self) -> str:
        return f"<Callbacks of {self.api.title!r}: {len(self.webhooks)} webhook(s)>"


def queue_callback(callback: Callback, payload: str, url: str | None, message_id: str) -> None:
    call = current_call()
    state = None if call is None else STATE.get(call)
    if state is None:
        raise RuntimeError(
            f"{callback!r}.send() is called inside a method that lists it (callbacks=[...]) on an "
            "ApiServer with interlink.callbacks.Callbacks(api); outside an interlink call use "
            "interlink.callbacks.Outbox(database).send(url, body)"
        )
    state.queued.append((callback, payload, url, message_id))
