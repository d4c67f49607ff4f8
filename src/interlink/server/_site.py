"""Site pages that post to the API: login/logout, a session cookie, and the Jinja2 helpers a
page's forms need (``csrf_field()``, ``api_url('home/describe_user')``).

    api = ApiServer(database=...)
    site = Site(api, templates="mysite/templates")   # serves /login and /logout beside the api
    site.page("/users", "users.html")                # a page that needs a logged-in user

A form on such a page posts straight to ``/api/<module>/<method>`` with ``{{ csrf_field() }}``
inside it, the way the API-calls specification's ``{% csrf_token %}`` forms do; the call runs
as the user's default role. See docs/sites.md.

A Site is an extension of its ApiServer (server/_extension.py): it attaches itself, gives the
app its routes, and is handed the authentication, the login sessions and the client-address
rule at startup. It has no other way into the app.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio.to_thread
from jinja2 import BaseLoader, ChoiceLoader, DictLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from interlink.errors import ApiError, ServiceUnavailable, TooManyRequests
from interlink.identity import Backend, LoginSessions, Role
from interlink.wire import FormValue

from ._body import ClientDisconnected, content_type_of, form_pairs, read_body
from ._csrf import CSRF_FIELD, csrf_matches, csrf_token_for
from ._extension import Extension
from ._sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from ._api import ApiServer
    from ._authentication import Authentication
    from ._client_address import ClientAddress
    from ._pipeline import Pipeline

__all__ = ["Site"]

_BUILTIN = {
    "interlink/base.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}{{ site_title }}{% endblock %}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}
.error{color:#a00}nav form{display:inline}label{display:block;margin:.4rem 0}</style>
{% block head %}{% endblock %}</head>
<body>
<nav>{% if user %}Logged in as <b id="who">{{ user.username }}</b>
<form method="post" action="{{ logout_url }}">{{ csrf_field() }}<button id="logout">Log out</button></form>{% endif %}</nav>
{% block content %}{% endblock %}
</body></html>""",
    "interlink/login.html": """{% extends "interlink/base.html" %}
{% block title %}Log in · {{ site_title }}{% endblock %}
{% block content %}<h1>Log in</h1>
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<form method="post" action="{{ login_url }}">
<input type="hidden" name="csrf_token" value="{{ login_csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<label>Username <input name="username" id="username" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button id="login">Log in</button>
</form>{% endblock %}""",
    "interlink/unavailable.html": """{% extends "interlink/base.html" %}
{% block title %}Try again shortly · {{ site_title }}{% endblock %}
{% block content %}<h1>Try again shortly</h1>
<p id="unavailable">{{ message }}</p>{% endblock %}""",
}


#: A login or logout form is a few short fields; anything larger is refused unread.
LOGIN_FORM_LIMIT = 16 * 1024


async def _small_form(request: Request) -> dict[str, FormValue] | None:
    """The fields of a urlencoded login/logout form, read within LOGIN_FORM_LIMIT; None when the
    request is not such a form (multipart uploads are never parsed here)."""
    kind, length = content_type_of(request.scope["headers"])
    if kind not in ("application/x-www-form-urlencoded", ""):
        return None
    try:
        body = await read_body(request.receive, LOGIN_FORM_LIMIT, length)
        return dict(form_pairs(body)) if body else {}
    except (ApiError, ClientDisconnected):
        return None


#: Sent with every page, login form and redirect of a Site. The policy forbids framing
#: (clickjacking), plugins, foreign <base> and form targets; scripts and styles are the site's
#: own business (``Site(content_security_policy=…)`` tightens or replaces it).
DEFAULT_CSP = "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"


def _safe_next(value: str | None, default: str) -> str:
    # Only a path on this site: "//evil.example" or "https://…" would make an open redirect.
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


class Site(Extension):
    """Login/logout pages and page rendering with session and CSRF helpers."""

    def __init__(
        self,
        api: ApiServer,
        templates: str | Path | None = None,
        *,
        title: str | None = None,
        login_path: str = "/login",
        logout_path: str = "/logout",
        home_path: str = "/",
        secure_cookies: bool | None = None,
        session_lifetime: dt.timedelta | None = None,
        content_security_policy: str = DEFAULT_CSP,
    ) -> None:
        self.api = api
        self.title = title or api.title
        self.login_path = login_path
        self.logout_path = logout_path
        self.home_path = home_path
        # None: Secure when the request came over HTTPS (scope scheme); True/False forces it.
        self.secure_cookies = secure_cookies
        self.session_lifetime = session_lifetime
        self.security_headers = {
            "x-frame-options": "DENY",
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "content-security-policy": content_security_policy,
        }
        loaders: list[BaseLoader] = []
        if templates is not None:
            loaders.append(FileSystemLoader(str(templates)))
        loaders.append(DictLoader(_BUILTIN))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True, default_for_string=True),
            enable_async=False,
        )
        self.env.globals.update(api_url=self.api_url, site_title=self.title,
                                login_url=login_path, logout_url=logout_path)
        self._routes: list[BaseRoute] = [
            Route(login_path, self.secured(self.login), methods=["GET", "POST"]),
            Route(logout_path, self.secured(self.logout), methods=["POST"]),
        ]
        self._authentication: Authentication | None = None
        self._sessions: LoginSessions | None = None
        self._client_address: ClientAddress | None = None
        api.add_extension(self)

    # -- the extension seam ---------------------------------------------------------------

    def bind(self, pipeline: Pipeline, backend: Backend) -> None:
        """At startup: what logins need (the app sets itself up before serving these pages)."""
        self._authentication = pipeline.authentication
        self._sessions = sessions = backend.sessions
        self._client_address = pipeline.client_address
        if sessions is not None and self.session_lifetime is not None:
            sessions.lifetime = self.session_lifetime  # type: ignore[attr-defined]

    def routes(self) -> list[BaseRoute]:
        return self._routes

    # -- helpers --------------------------------------------------------------------------

    def api_url(self, name: str) -> str:
        """The URL of a method by name: ``home/describe_user``, ``home.describe_user`` or the
        specification's ``api:home/describe_user``. Unknown names raise, so a typo fails at render."""
        bare = name.removeprefix("api:").replace(".", "/")
        module, _, function = bare.partition("/")
        if f"{module}.{function}" not in self.api.methods:
            raise LookupError(f"no API method {name!r}")
        return f"{self.api.prefix}/{module}/{function}"

    def secured(self, endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """``endpoint`` with the site's security headers on every response it returns, and a
        503 page with ``Retry-After`` when the store does not answer (never a server error)."""

        async def with_headers(request: Request) -> Response:
            try:
                response = await endpoint(request)
            except ServiceUnavailable as error:
                response = self.render(request, "interlink/unavailable.html", None, status=error.status,
                                       message=error.message)
                response.headers["retry-after"] = str(error.retry_after)
            for name, value in self.security_headers.items():
                response.headers.setdefault(name, value)
            return response

        return with_headers

    async def current_role(self, request: Request) -> Role | None:
        """The logged-in user's default role, or None."""
        token = request.cookies.get(SESSION_COOKIE)
        sessions = self._sessions
        if not token or sessions is None:
            return None
        return await sessions.role_for(token)

    def _secure(self, request: Request) -> bool:
        return request.url.scheme == "https" if self.secure_cookies is None else self.secure_cookies

    def render(
        self, request: Request, template: str, role: Role | None = None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """Render a page; ``csrf_field()`` and ``csrf_token`` are bound to this request's session."""
        token = request.cookies.get(SESSION_COOKIE)
        csrf = csrf_token_for(token) if token and role is not None else ""

        def csrf_field() -> Markup:
            return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">')

        html = self.env.get_template(template).render(
            request=request, user=getattr(role, "user", None), role=role,
            csrf_field=csrf_field, csrf_token=csrf, **context,
        )
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def page(
        self,
        path: str,
        template: str,
        context: Callable[[Request, Role | None], Awaitable[dict[str, Any]] | dict[str, Any]] | None = None,
        *,
        login_required: bool = True,
    ) -> None:
        """Serve ``template`` at ``path`` (GET); anonymous visitors go to the login page."""

        async def endpoint(request: Request) -> Response:
            role = await self.current_role(request)
            if role is None and login_required:
                return RedirectResponse(f"{self.login_path}?next={quote(request.url.path)}", 303)
            extra: dict[str, Any] = {}
            if context is not None:
                made = context(request, role)
                extra = made if isinstance(made, dict) else await made
            return self.render(request, template, role, **extra)

        self._routes.append(Route(path, self.secured(endpoint), methods=["GET"]))

    # -- login and logout -----------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._login_form(request, request.query_params.get("next"), None)
        form = await _small_form(request)
        if form is None:
            return HTMLResponse("a login is a small urlencoded form", status_code=400)
        next_path = _safe_next(str(form.get("next") or ""), self.home_path)
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
        sent = str(form.get(CSRF_FIELD) or "")
        if not cookie or not secrets.compare_digest(cookie.encode(), sent.encode()):
            return self._login_form(request, next_path, "CSRF token missing or wrong: reload the page and try again.", 403)
        username = str(form.get("username") or "")
        password = str(form.get("password") or "")
        assert self._authentication is not None and self._client_address is not None
        sessions = self._sessions
        if sessions is None:
            return self._login_form(request, next_path, "This site has no database for logins.", 503)
        address = self._client_address(request.scope)
        try:
            role = await self._authentication.login(username, password, address)
        except (TooManyRequests, ServiceUnavailable) as error:
            response = self._login_form(request, next_path, error.message, error.status)
            response.headers["retry-after"] = str(getattr(error, "retry_after", 60))
            return response
        if role is None:
            return self._login_form(request, next_path, "Wrong username or password.", 401)
        token = await anyio.to_thread.run_sync(sessions.create, role.user)
        response = RedirectResponse(next_path, 303)
        lifetime = getattr(sessions, "lifetime", None)
        response.set_cookie(
            SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()) if lifetime else None, path="/",
            httponly=True, samesite="lax", secure=self._secure(request),
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=self.login_path)
        return response

    def _login_form(self, request: Request, next_path: str | None, error: str | None, status: int = 200) -> Response:
        login_csrf = secrets.token_urlsafe(24)
        response = self.render(
            request, "interlink/login.html", None, status=status, error=error,
            next=_safe_next(next_path, self.home_path), login_csrf=login_csrf,
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE, login_csrf, path=self.login_path, httponly=True, samesite="lax",
            secure=self._secure(request),
        )
        return response

    async def logout(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        form = await _small_form(request)
        if form is None:
            return HTMLResponse("a logout is a small urlencoded form", status_code=400)
        if token:
            if not csrf_matches(token, str(form.get(CSRF_FIELD) or "")):
                return HTMLResponse("CSRF token missing or wrong", status_code=403)
            if self._sessions is not None:
                await anyio.to_thread.run_sync(self._sessions.end, token)
        response = RedirectResponse(self.login_path, 303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self._secure(request))
        return response


