"""The same FastAPI tutorial app, delivering its callback through interlink: the lines marked
`# interlink` are all that changed (the database comes from INTERLINK_DATABASE_URL)."""

from typing import Optional

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, HttpUrl

from interlink.callbacks import FastAPICallbacks  # interlink

callbacks = FastAPICallbacks(signer="invoices")  # interlink
app = FastAPI(lifespan=callbacks.lifespan)  # interlink: runs a delivery worker


class Invoice(BaseModel):
    id: str
    title: Optional[str] = None
    customer: str
    total: float


class InvoiceEvent(BaseModel):
    description: str
    paid: bool


class InvoiceEventReceived(BaseModel):
    ok: bool


invoices_callback_router = APIRouter(default_response_class=JSONResponse)


@invoices_callback_router.post(
    "{$callback_url}/invoices/{$request.body.id}", response_model=InvoiceEventReceived,
)
def invoice_notification(body: InvoiceEvent):
    pass


@app.post("/invoices/", callbacks=invoices_callback_router.routes)
def create_invoice(invoice: Invoice, request: Request, callback_url: Optional[HttpUrl] = None):  # interlink: request
    """
    Create an invoice.

    This will (let's imagine) let the API user (some external developer) create an
    invoice.

    And this path operation will:

    * Send the invoice to the client.
    * Collect the money from the client.
    * Send a notification back to the API user (the external developer), as a callback.
        * At this point is that the API will somehow send a POST request to the
            external API with the notification of the invoice event
            (e.g. "payment successful").
    """
    # Send the invoice, collect the money, send the notification (the callback)
    callbacks.send(invoices_callback_router.routes[0], request,  # interlink
                   InvoiceEvent(description="Invoice paid", paid=True), request_body=invoice)  # interlink
    return {"msg": "Invoice received"}
