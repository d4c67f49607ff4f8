"""Delivering FastAPI's documented callbacks through interlink's outbox.

FastAPI documents a callback with a route on a separate ``APIRouter`` whose path is the
callback's URL expression, and leaves the sending to the path operation. Two lines make it
delivered, signed and retried, with the documentation left exactly as it was::

    callbacks = FastAPICallbacks("sqlite:///invoices.db", signer="invoices")
    app = FastAPI(lifespan=callbacks.lifespan)                    # runs a delivery worker

    @app.post("/invoices/", callbacks=invoices_callback_router.routes)
    def create_invoice(invoice: Invoice, request: Request, callback_url: HttpUrl | None = None):
        callbacks.send(invoice_notification, request, InvoiceEvent(description="Invoice paid", paid=True),
                       request_body=invoice)

``send`` evaluates the route's URL expression against the request (FastAPI's own spelling,
``{$callback_url}``, is read as the valid ``{$request.query.callback_url}``), checks the
destination (a refused one is a 400 naming the field), and writes the message to the outbox;
nothing is sent inline. Where the expression has no value in a call (the tutorial's
``callback_url`` is optional) the callback is not sent and ``send`` returns ``None``: the
request goes on as FastAPI's own app answers it. ``FastAPICallbacks(..., require_url=True)``
makes that a 400 naming the field instead.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from ._addresses import DestinationRefused, check_url
from ._expressions import CallData, EvaluationError, MissingValue, Template, parse_template
from ._outbox import Outbox

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.requests import Request

    from interlink.store import Database

__all__ = ["FastAPICallbacks"]


def _jsonable(value: object) -> Any:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value)


class FastAPICallbacks:
    """An outbox for a FastAPI (or Starlette) app; ``signer`` names the secret messages are signed
    with (``interlink callbacks secret`` shows a role's; ``.secret(signer)`` this one's).

    ``require_url``: a callback whose URL expression has no value in a call is a 400 naming the
    field, instead of not being sent (the default, as FastAPI's tutorial expects of its optional
    ``callback_url``)."""

    def __init__(
        self,
        database: Database | str | None = None,
        *,
        signer: str = "fastapi",
        allowed_networks: str | Iterable[str] | None = None,
        require_url: bool = False,
    ) -> None:
        self.outbox = Outbox(database, allowed_networks=allowed_networks)
        self.database = self.outbox.database
        self.policy = self.outbox.policy
        self.signer = signer
        self.require_url = require_url
        self._templates: dict[str, Template] = {}

    def template(self, path: str) -> Template:
        template = self._templates.get(path)
        if template is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)  # FastAPI's spelling, read as the valid one
                template = self._templates[path] = parse_template(path)
        return template

    def send(self, route: object, request: Request, body: object, *, request_body: object = None,
             url: str | None = None, session: Session | None = None) -> str | None:
        """Queue ``body`` for the callback documented by ``route`` (a route of the callback router,
        or its endpoint function), at the URL its path expression gives for ``request``: the
        message's id, or ``None`` when the expression has no value in this request (nothing
        queued; a 400 with ``require_url``)."""
        path = _route_path(route)
        if url is None:
            data = CallData(
                url=str(request.url), method=request.method,
                request_headers={k.lower(): v for k, v in request.headers.items() if k.lower() not in ("authorization", "cookie")},
                request_query=dict(request.query_params), request_path=dict(request.path_params),
                request_body=_jsonable(request_body),
            )
            template = self.template(path)
            field = next((e.field for e in template.expressions if e.kind == "request" and e.field), "")
            try:
                url = template.evaluate(data)
                check_url(url, self.policy)
            except MissingValue as error:
                if self.require_url:
                    raise _bad_request(field, str(error)) from None
                return None
            except (EvaluationError, DestinationRefused) as error:
                raise _bad_request(field, str(error)) from None
        return self.outbox.send(url, _jsonable(body), signer=self.signer, event=_route_name(route), session=session)

    def secret(self) -> str:
        """The signing secret (created on first use) to give the receiver."""
        return self.outbox.secret(self.signer)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """A FastAPI/Starlette lifespan that runs a delivery worker beside the app."""
        from ._worker import DeliveryWorker

        async with DeliveryWorker(self.database, policy=self.policy).in_background():
            yield


def _bad_request(field: str, message: str) -> Exception:
    """A 400 as FastAPI answers its own validation errors: ``detail`` names the field."""
    from starlette.exceptions import HTTPException

    detail = [{"loc": ["query", field] if field else [], "msg": message, "type": "value_error"}]
    # FastAPI answers any JSON detail; Starlette's annotation says str.
    return HTTPException(400, detail=detail)  # type: ignore[arg-type]


def _route_path(route: object) -> str:
    if hasattr(route, "path"):
        return str(route.path)
    raise TypeError(f"{route!r} is not a route of a callback router (pass router.routes[i])")


def _route_name(route: object) -> str:
    return str(getattr(route, "name", None) or "callback")
