"""interlink.server: publish typed functions as ``POST /api/<module>/<function>``."""

try:
    import starlette  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.server needs the server extra ({error}): pip install 'interlink[server]'") from error

from interlink.identity import Authenticator

from ._access_log import AccessLog
from ._api import ApiServer, Module
from ._call import Call, CallSlot, current_call
from ._event_loop import new_event_loop
from ._extension import CallHook, CallRunner, Extension
from ._method import Method
from ._openapi import OpenApiDocument
from ._pipeline import Dispatch, Pipeline, Request
from ._ratelimit import FailureLimiter
from ._redaction import RedactCredentials
from ._site import Site

__all__ = ["AccessLog", "ApiServer", "Authenticator", "Call", "CallHook", "CallRunner", "CallSlot", "Dispatch", "Extension",
           "FailureLimiter", "Method", "Module", "OpenApiDocument", "Pipeline", "RedactCredentials", "Request", "Site", "current_call",
           "new_event_loop"]
