"""The project's pages with the methods of the ASGI server's specification tests
(tests/test_server_specification.py) at /api/: the same tests, sent to this project served by
gunicorn and by uvicorn (tests/test_django_servers.py)."""

from django.urls import path
from test_server_specification import build_api

from interlink.django import api_urls

from django_project.urls import page, urlpatterns as project_urls

api = build_api(None)  # the database is the project's: interlink.django's backend ignores this one

urlpatterns = [path("api/", api_urls(api)), *(p for p in project_urls if getattr(p, "name", None) != "api" and str(p.pattern) != "api/")]

__all__ = ["page", "urlpatterns"]
