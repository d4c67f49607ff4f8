"""interlink.server: publish typed functions as ``POST /api/<module>/<function>``."""

from ._access_log import AccessLog
from ._api import Api, Module
from ._auth import Authenticator, RedactCredentials
from ._method import Method
from ._ratelimit import FailureLimiter
from ._site import Site

__all__ = ["AccessLog", "Api", "Authenticator", "FailureLimiter", "Method", "Module", "RedactCredentials", "Site"]
