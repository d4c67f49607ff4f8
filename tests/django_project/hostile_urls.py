"""The methods of the ASGI server's hostile-input tests (tests/test_hostile_input.py) at /api/,
for the same tests against this project (tests/test_django_hostile_input.py). Their ``search``
reads a SQLAlchemy database of its own, named by INTERLINK_HOSTILE_DB."""

import os

from django.urls import path
from test_hostile_input import build_api

from interlink.django import api_urls
from interlink.store import Database

database = Database(f"sqlite:///{os.environ['INTERLINK_HOSTILE_DB']}")
database.migrate()
api = build_api(database)

urlpatterns = [path("api/", api_urls(api))]
