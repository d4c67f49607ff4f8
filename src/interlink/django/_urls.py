"""``api_urls(api)``: an ApiServer's methods as Django URLs, for ``{% url 'api:home/describe_user' %}``.

    urlpatterns = [path("api/", api_urls(api)), ...]

gives, in the namespace ``api``, one URL per method named ``<module>/<method>``, ``openapi``
(the OpenAPI document, ``openapi.json``) and ``docs`` (Swagger UI). Any other path under the
mount is answered 404 in the one error shape.

One view serves both of Django's handlers. Django asks a view whether it is a coroutine
function, in the handler's own mode, for every request: the views here answer yes while an
event loop runs in the asking thread (ASGI: the call is awaited on it, ``async def`` methods
natively) and no otherwise (WSGI: the call runs on the worker thread). So the same ``urls.py``
serves under gunicorn and uvicorn, with no setting.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, include, path, reverse

from interlink.server import docs_page, dumps, openapi_document, swagger_static_dir

from ._shell import DjangoShell

if TYPE_CHECKING:
    from interlink import ApiServer

__all__ = ["api_urls"]


def _coroutine_marker() -> tuple[str, object]:
    """The attribute and value by which Django's handlers (asgiref) recognise a callable that
    is not a function as a coroutine function, read from asgiref itself."""
    from asgiref.sync import markcoroutinefunction

    def probe() -> None: ...

    before = set(vars(probe))
    markcoroutinefunction(probe)
    (name, value), = ((k, v) for k, v in vars(probe).items() if k not in before)
    return name, value


_MARKER_NAME, _MARKER = _coroutine_marker()


def _in_event_loop() -> bool:
    # Asked twice for every request (by Django's handler, then by the view): the running loop
    # or None, without get_running_loop()'s RuntimeError under WSGI.
    return asyncio._get_running_loop() is not None


class _EveryAlias(set[str]):
    """Every database alias, whatever the settings name: for Django's ``ATOMIC_REQUESTS``
    check, which asks each request's view whether an alias is in ``_non_atomic_requests``."""

    def __contains__(self, alias: object) -> bool:
        return True


class _EitherView:
    """A view that is a coroutine function only when asked from an event loop (ASGI)."""

    csrf_exempt = True  # keys carry no ambient credential; the session's CSRF is checked in the pipeline

    def _marker(self) -> object:
        return _MARKER if _in_event_loop() else None

    def answer(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise NotImplementedError

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """``answer``, in a coroutine when asked from an event loop (it does no I/O to await)."""
        if _in_event_loop():
            async def answered() -> HttpResponse:
                return self.answer(request, *args, **kwargs)
            return answered()
        return self.answer(request, *args, **kwargs)

    # ATOMIC_REQUESTS would wrap the call in a transaction of the request thread, around one
    # that the call keeps itself (call.db, committed when the method returns).
    _non_atomic_requests = _EveryAlias()


setattr(_EitherView, _MARKER_NAME, property(_EitherView._marker))


class MethodView(_EitherView):
    def __init__(self, shell: DjangoShell, route: str | None = None) -> None:
        self.shell = shell
        self.route = route

    def __call__(self, request: HttpRequest, route: str = "") -> Any:
        route = self.route or route
        if _in_event_loop():
            return self.shell.answer_async(request, route)
        return self.shell.answer(request, route)

    def __repr__(self) -> str:
        return f"<interlink method view {self.route or '*'}>"


class OpenApiView(_EitherView):
    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self._documents: dict[str, bytes] = {}

    def document(self, mount: str) -> bytes:
        """The document with the methods' paths under the Django mount (``/api/``)."""
        found = self._documents.get(mount)
        if found is None:
            document = openapi_document(self.api)
            prefix = self.api.prefix + "/"
            document["paths"] = {
                (mount + name[len(prefix):] if name.startswith(prefix) else name): item
                for name, item in document["paths"].items()
            }
            found = self._documents[mount] = dumps(document)
        return found

    def answer(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET"})
        mount = reverse("api:openapi", current_app=getattr(request, "current_app", None))
        mount = mount[: -len("openapi.json")]
        return HttpResponse(self.document(mount), content_type="application/json")  # cached after the first


class DocsView(_EitherView):
    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self._static: Path | None = None

    def answer(self, request: HttpRequest, name: str = "") -> HttpResponse:
        if not name:
            page = docs_page(reverse("api:openapi"), self.api.title, reverse("api:docs") + "/static")
            return HttpResponse(page, content_type="text/html; charset=utf-8")
        if self._static is None:
            self._static = swagger_static_dir()
        # Only a file directly in the assets' directory, by its exact name: no path to walk.
        if "/" in name or "\\" in name or name.startswith(".") or name not in os.listdir(self._static):
            raise Http404(name)
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(open(self._static / name, "rb"), content_type=kind)  # noqa: SIM115


def api_urls(api: ApiServer) -> tuple[list[URLPattern], str, str]:
    """The URLs of ``api``'s methods, its OpenAPI document and docs page, to mount with
    ``path("api/", api_urls(api))``; namespace ``api``."""
    shell = DjangoShell(api)
    patterns = [
        path(f"{method.module}/{method.function_name}", MethodView(shell, f"{method.module}/{method.function_name}"),
             name=f"{method.module}/{method.function_name}")
        for method in api.methods.values()
    ]
    patterns.append(path("openapi.json", OpenApiView(api), name="openapi"))
    if api.docs:
        docs = DocsView(api)
        patterns.append(path("docs", docs, name="docs"))
        patterns.append(path("docs/static/<str:name>", docs, name="docs-static"))
    # Any other name under the mount: 404 in the one error shape, from the shell.
    patterns.append(path("<path:route>", MethodView(shell)))
    included: tuple[list[URLPattern], str, str] = include((patterns, "api"), namespace="api")  # type: ignore[assignment]
    return included
