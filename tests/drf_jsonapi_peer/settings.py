"""Django settings of the DRF JSON:API test peer: DRF JSON:API's documented REST_FRAMEWORK block."""

import os

SECRET_KEY = "drf-jsonapi-peer-not-secret"  # noqa: S105 - a throwaway test server
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "drf_jsonapi_peer.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "django_filters",
    "drf_jsonapi_peer",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DRF_PEER_DATABASE", ":memory:"),
        # Several gunicorn threads write at once: wait for SQLite's lock instead of failing. WAL
        # with synchronous=NORMAL, as Django deployments on SQLite are advised to run: a commit
        # is not an fsync (the target's speed is then Django's and DRF's, not the disk's).
        "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }
}
PEER_TOKEN = os.environ.get("DRF_PEER_TOKEN", "")

# As in DRF JSON:API's "Usage" documentation, plus the token check.
REST_FRAMEWORK = {
    "PAGE_SIZE": 10,
    "EXCEPTION_HANDLER": "rest_framework_json_api.exceptions.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework_json_api.pagination.JsonApiPageNumberPagination",
    "DEFAULT_PARSER_CLASSES": (
        "rest_framework_json_api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ),
    "DEFAULT_RENDERER_CLASSES": (
        "rest_framework_json_api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ),
    "DEFAULT_METADATA_CLASS": "rest_framework_json_api.metadata.JSONAPIMetadata",
    "DEFAULT_FILTER_BACKENDS": (
        "rest_framework_json_api.filters.QueryParameterValidationFilter",
        "rest_framework_json_api.filters.OrderingFilter",
        "rest_framework_json_api.django_filters.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
    ),
    "SEARCH_PARAM": "filter[search]",
    "TEST_REQUEST_RENDERER_CLASSES": ("rest_framework_json_api.renderers.JSONRenderer",),
    "TEST_REQUEST_DEFAULT_FORMAT": "vnd.api+json",
    "DEFAULT_AUTHENTICATION_CLASSES": ("drf_jsonapi_peer.authentication.BearerToken",),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.IsAuthenticated",),
}

if os.environ.get("DRF_PEER_FORMAT") == "camelize":
    # DRF JSON:API's documented formatting options.
    JSON_API_FORMAT_FIELD_NAMES = "camelize"
    JSON_API_FORMAT_TYPES = "dasherize"
    JSON_API_PLURALIZE_TYPES = True
