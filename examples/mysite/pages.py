"""The site's pages: login (from interlink.Site), a filtered users list, an editable list of
names, a file upload. Every form posts straight to /api/home/<method> with a CSRF field."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import RedirectResponse
from starlette.routing import Route

from interlink.server import Site
from examples.mysite.api import api

site = Site(api, templates=Path(__file__).parent / "templates", title="mysite")
site.page("/users", "users.html")
site.page("/editable", "editable.html")
site.page("/upload", "upload.html")


async def home(request: object) -> RedirectResponse:
    return RedirectResponse("/users", 303)


api.routes.append(Route("/", home, methods=["GET"]))
