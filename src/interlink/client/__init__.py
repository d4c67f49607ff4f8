"""interlink.client: call an interlink site's methods from Python.

    from interlink.client import API

    api = API("https://mywonderfulsite.com/api", ["~/.mywonderfulsite/config"])
    site = api.home.describe_site()
    print(site.name, site.users.count)

Sessions per profile (``api(profile=...)``), ``method.json/collate/callasync/broadcast``,
typed errors from ``interlink.errors`` and an async twin, ``AsyncAPI``. See docs/client.md.

A credentials file holds ``[profile]`` sections with ``access_key_id`` and
``access_key_secret``; a section without them (``make run`` keeps the demo login as ``[site]``)
is skipped unless it is the profile asked for. The client sends the key as the
``authorisation=KEYID:SECRET`` field; other callers may send the same key as HTTP Basic
``KEYID:SECRET`` or ``USER:KEYID:SECRET`` (``curl -u``), and ``USER:PASSWORD`` logs in as the
user's default role.
"""

from interlink.errors import (
    ApiError,
    BadArguments,
    Forbidden,
    MethodNotAllowed,
    NoSuchMethod,
    NotAuthorised,
    PayloadTooLarge,
    RequestTimeout,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
)
from interlink.wire import FileUpload

from ._api import API
from ._async import AsyncAPI, AsyncRemoteMethod, AsyncSession
from ._method import RemoteMethod, RemoteModule
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
    "AsyncRemoteMethod",
    "AsyncSession",
    "BadArguments",
    "Credentials",
    "CredentialsFileError",
    "FileUpload",
    "Forbidden",
    "RemoteMethod",
    "MethodNotAllowed",
    "RemoteModule",
    "NoSuchMethod",
    "NotAuthorised",
    "PROFILE_ENV",
    "PayloadTooLarge",
    "ProfileNotFound",
    "Profiles",
    "RequestTimeout",
    "ServerError",
    "ServiceUnavailable",
    "Session",
    "TooManyRequests",
    "UnsupportedMediaType",
    "load_profiles",
    "parse_profiles",
    "resolve_credentials",
    "to_objects",
    "to_plain",
]
