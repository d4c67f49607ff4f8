"""The Django project of ``benchmarks/bench_django.py``: one project, four ways to serve the
same call, chosen by BENCH_DJANGO_PEER (its URLconf). Every peer runs with the same settings and
middleware: a ``django-admin startproject`` stack (without the admin, which none of them uses)."""

import os

SECRET_KEY = "benchmark-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "interlink.django",
    "rest_framework",
    "ninja",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = f"benchmarks.peers.django_bench.{os.environ.get('BENCH_DJANGO_PEER', 'interlink_urls')}"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("BENCH_DJANGO_DB", ":memory:")}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None}
