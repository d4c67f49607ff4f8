"""Swagger UI at ``/docs``, served from the swagger-ui-py wheel: no CDN, works offline."""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles


def swagger_static_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; it ships the Swagger UI assets")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{static}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: {spec_url}, dom_id: "#swagger-ui", deepLinking: true,
  supportedSubmitMethods: ["post"]}});
</script></body></html>
"""


def docs_page(spec_url: str, title: str, static_url: str = "/docs/static") -> str:
    """The Swagger UI page for the document at ``spec_url``, its assets under ``static_url``
    (the files of ``swagger_static_dir()``)."""
    return PAGE.format(title=html.escape(title), spec_url=repr(spec_url).replace("'", '"'),
                       static=html.escape(static_url.rstrip("/")))


def docs_routes(spec_url: str, title: str) -> list[BaseRoute]:
    page = docs_page(spec_url, title)

    async def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    return [
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/static", StaticFiles(directory=swagger_static_dir()), name="swagger-static"),
    ]
