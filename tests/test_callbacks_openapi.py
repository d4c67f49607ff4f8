"""Callbacks and webhooks in /api/openapi.json (validated with openapi-spec-validator) and in Swagger
UI at /docs, driven in headless Chromium with a screenshot of the operation's Callbacks tab."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from callbacks_peers import invoice_api
from interlink.callbacks import Callback, Callbacks, ExpressionError
from interlink.server import ApiServer


def document(api: ApiServer) -> dict[str, Any]:
    from interlink.server._openapi import openapi_document

    return openapi_document(api)


def test_callbacks_and_webhooks_in_the_document(tmp_path: Path) -> None:
    from openapi_spec_validator import validate

    doc = document(invoice_api(f"sqlite:///{tmp_path / 'db.sqlite'}", delivery_worker=False))
    validate(doc)
    operation = doc["paths"]["/api/invoices/create"]["post"]
    expression = "{$request.body#/callback_url}/invoices/{$request.body#/invoice/id}"
    callback = operation["callbacks"]["InvoiceEvent"][expression]["post"]
    body = callback["requestBody"]["content"]["application/json"]["schema"]
    assert body == {
        "title": "InvoiceEvent", "type": "object", "required": ["description", "paid"],
        "properties": {"description": {"title": "Description", "type": "string"}, "paid": {"title": "Paid", "type": "boolean"}},
    }
    answer = callback["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["title"] == "InvoiceEventReceived" and answer["properties"] == {"ok": {"title": "Ok", "type": "boolean"}}
    assert [p["name"] for p in callback["parameters"]] == ["webhook-id", "webhook-timestamp", "webhook-signature"]
    assert callback["summary"] == "Invoice paid"
    webhook = doc["webhooks"]["invoice.paid"]["post"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"]["title"] == "InvoicePaid"
    assert webhook["summary"] == "An invoice was paid"


def test_fastapi_spelling_is_documented_in_the_valid_spelling(tmp_path: Path) -> None:
    from openapi_spec_validator import validate

    with pytest.warns(SyntaxWarning, match=r"\{\$request.query.callback_url\}/invoices/\{\$request.body#/id\}"):
        callback = Callback("{$callback_url}/invoices/{$request.body.id}", body=dict)
    api = ApiServer(database=f"sqlite:///{tmp_path / 'db.sqlite'}")
    Callbacks(api, delivery_worker=False)

    @api.method(module="invoices", callbacks=[callback])
    def create(id: str, callback_url: str = "") -> str:
        return id

    doc = document(api)
    validate(doc)
    assert list(doc["paths"]["/api/invoices/create"]["post"]["callbacks"]["dict"]) == [
        "{$request.query.callback_url}/invoices/{$request.body#/id}"
    ]


def test_invalid_expression_fails_at_declaration() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ExpressionError, match="position 1"):
            Callback("{request.body#/url}", body=dict)
    with pytest.raises(ValueError, match="method"):
        Callback("{$request.body#/url}", method="BREW")


@pytest.mark.browser
def test_swagger_ui_shows_the_callback_and_the_webhook(tmp_path: Path, live_server: Any, page: Any) -> None:
    base = live_server(invoice_api(f"sqlite:///{tmp_path / 'db.sqlite'}", delivery_worker=False))
    assert httpx.get(base + "/api/openapi.json").status_code == 200
    page.goto(base + "/docs")
    operation = page.locator(".opblock", has=page.locator("[data-path='/api/invoices/create']"))
    operation.locator(".opblock-summary").first.click()
    operation.locator(".tab-item", has_text="Callbacks").first.click()
    expression = "{$request.body#/callback_url}/invoices/{$request.body#/invoice/id}"
    shown = operation.locator(".callbacks-container")
    shown.wait_for()
    text = shown.inner_text()
    assert "InvoiceEvent" in text and expression in text.replace("\u200b", "")
    assert "Invoice paid" in text
    shown.locator(".opblock-summary").first.click()  # expand it: the signed request as documented
    shown.locator("text=webhook-signature").first.wait_for()
    assert '"paid": true' in shown.inner_text()
    shot = tmp_path / "callbacks.png"
    operation.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    webhooks = page.locator("text=invoice.paid").first
    webhooks.wait_for()
    assert webhooks.is_visible()
