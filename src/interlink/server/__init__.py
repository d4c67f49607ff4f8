"""interlink.server: publish typed functions as ``POST /api/<module>/<function>``."""

from ._api import Api, Module
from ._auth import Authenticator, RedactCredentials
from ._method import Method

__all__ = ["Api", "Authenticator", "Method", "Module", "RedactCredentials"]
