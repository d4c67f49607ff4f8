"""rest-tools' ``rest_tools.client``: ``from rest_tools.client import RestClient`` becomes
``from interlink.rest.client import RestClient``.

The clients are built on httpx and need nothing beyond ``pip install interlink``; importing
this module never imports Tornado. ``request_and_validate`` (rest-tools'
``rest_tools.client.utils.request_and_validate``) checks answers with openapi-core and is loaded
when first used: it needs the ``rest-server`` extra.
"""

from __future__ import annotations

import typing as _typing

from interlink.rest._client import (
    MAX_RETRIES,
    CalcRetryFromBackoffMax,
    CalcRetryFromWaittimeMax,
    RestClient,
    RestHTTPError,
)
from interlink.rest._device import DeviceGrantAuth, DeviceLoginError, SavedDeviceGrantAuth
from interlink.rest._openid import ClientCredentialsAuth, OpenIDDiscoveryError, OpenIDRestClient

if _typing.TYPE_CHECKING:
    from interlink.rest._openapi_validation import request_and_validate


def __getattr__(name: str) -> _typing.Any:
    # Only this one name needs openapi-core (and, through it, Tornado): load it on first use.
    if name != "request_and_validate":
        raise AttributeError(f"module 'interlink.rest.client' has no attribute {name!r}")
    from interlink.rest._openapi_validation import request_and_validate

    globals()[name] = request_and_validate
    return request_and_validate


__all__ = [
    # rest_tools.client's names
    "RestClient",
    "OpenIDRestClient",
    "ClientCredentialsAuth",
    "DeviceGrantAuth",
    "SavedDeviceGrantAuth",
    "CalcRetryFromBackoffMax",
    "CalcRetryFromWaittimeMax",
    "MAX_RETRIES",
    # rest_tools.client.utils
    "request_and_validate",
    # interlink's own errors (rest-tools raised requests' and plain exceptions)
    "RestHTTPError",
    "OpenIDDiscoveryError",
    "DeviceLoginError",
]
