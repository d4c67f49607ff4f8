"""interlink.client: call an interlink site's methods from Python.

    from interlink.client import API

    api = API("https://mywonderfulsite.com/api", ["~/.mywonderfulsite/config"])
    site = api.home.describe_site()
    print(site.name, site.users.count)

Sessions per profile (``api(profile=...)``), ``method.json/collate/callasync/broadcast``,
typed errors from ``interlink.errors`` and an async twin, ``AsyncAPI``. See docs/client.md.
"""

from interlink.errors import (
    ApiError,
    BadArguments,
    Forbidden,
    MethodNotAllowed,
    NoSuchMethod,
    NotAuthorised,
    PayloadTooLarge,
    ServerError,
    TooManyRequests,
    UnsupportedMediaType,
)
from interlink.wire import FileUpload

from ._api import API
from ._async import AsyncAPI, AsyncMethod, AsyncSession
from ._method import Method, Module
from ._objects import ApiObject, to_objects, to_plain
from ._profiles import (
    ACCESS_KEY_ID_ENV,
    ACCESS_KEY_SECRET_ENV,
    PROFILE_ENV,
    Credentials,
    CredentialsFileError,
    ProfileNotFound,
    Profiles,
    load_profiles,
    parse_profiles,
    resolve_credentials,
)
from ._session import Session

__all__ = [
    "ACCESS_KEY_ID_ENV",
    "ACCESS_KEY_SECRET_ENV",
    "API",
    "ApiError",
    "ApiObject",
    "AsyncAPI",
    "AsyncMethod",
    "AsyncSession",
    "BadArguments",
    "Credentials",
    "CredentialsFileError",
    "FileUpload",
    "Forbidden",
    "Method",
    "MethodNotAllowed",
    "Module",
    "NoSuchMethod",
    "NotAuthorised",
    "PROFILE_ENV",
    "PayloadTooLarge",
    "ProfileNotFound",
    "Profiles",
    "ServerError",
    "Session",
    "TooManyRequests",
    "UnsupportedMediaType",
    "load_profiles",
    "parse_profiles",
    "resolve_credentials",
    "to_objects",
    "to_plain",
]
