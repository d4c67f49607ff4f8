"""Settings of the Django project the tests serve: an ordinary project with interlink.django.

The database is a SQLite file named by INTERLINK_DJANGO_SQLITE (each test run makes its own),
or PostgreSQL when INTERLINK_DJANGO_POSTGRES_URL is set (postgresql://user:pw@host:port/name).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "tests-only-not-a-secret-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "interlink.django",
    "django_project.accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

# The tests' servers serve spec_urls: the ASGI server's specification tests' own methods.
ROOT_URLCONF = os.environ.get("INTERLINK_DJANGO_URLCONF", "django_project.urls")
WSGI_APPLICATION = "django_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _database() -> dict[str, object]:
    url = os.environ.get("INTERLINK_DJANGO_POSTGRES_URL")
    if url:
        parts = urlsplit(url)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("INTERLINK_DJANGO_SQLITE", str(BASE_DIR / "db.sqlite3")),
        # Worker threads and server processes write to one file: wait for its lock.
        "OPTIONS": {"timeout": 30},
    }


DATABASES = {"default": _database()}

AUTH_USER_MODEL = "accounts.User"
# A fast hasher: the tests check who may log in, not how slowly a password hashes.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/page/"

# interlink's own body limit (ApiServer.max_body_size) is the one the hostile-input tests meet:
# their servers lift Django's smaller limit on bodies held in memory.
if os.environ.get("INTERLINK_DJANGO_NO_MEMORY_LIMIT"):
    DATA_UPLOAD_MAX_MEMORY_SIZE = None

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
