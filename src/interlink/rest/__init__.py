"""REST tools: rest-tools' client family on httpx (the REST server side joins later).

``from interlink.rest import RestClient`` replaces ``from rest_tools.client import RestClient``.
"""

from interlink.rest._client import RestClient, RestHTTPError
from interlink.rest._device import DeviceGrantAuth, DeviceLoginError, SavedDeviceGrantAuth
from interlink.rest._openid import ClientCredentialsAuth, OpenIDDiscoveryError, OpenIDRestClient

__all__ = [
    "RestClient",
    "RestHTTPError",
    "OpenIDRestClient",
    "OpenIDDiscoveryError",
    "ClientCredentialsAuth",
    "DeviceGrantAuth",
    "SavedDeviceGrantAuth",
    "DeviceLoginError",
]
