"""interlink.server: publish typed functions as ``POST /api/<module>/<function>``."""

try:
    import starlette  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.server needs the server extra ({error}): pip install 'interlink[server]'") from error

from interlink.identity import Authenticator

from ._access_log import AccessLog
from ._answer import INTERNAL_ERROR, error_answer
from ._api import ApiServer, Module
from ._body import form_pairs, json_body, query_pairs, unsupported
from ._call import Call, CallSlot, current_call
from ._credentials import PasswordCredentials, read_credentials
from ._docs import docs_page, swagger_static_dir
from ._event_loop import new_event_loop
from ._extension import CallHook, CallRunner, Extension
from ._method import Method
from ._openapi import OpenApiDocument, openapi_document
from ._pipeline import Dispatch, Pipeline, Request, dumps
from ._ratelimit import FailureLimiter
from ._redaction import RedactCredentials
from ._results import ResultMismatch
from ._site import Site
from ._threads import ThreadPool

__all__ = ["AccessLog", "ApiServer", "Authenticator", "Call", "CallHook", "CallRunner", "CallSlot", "Dispatch", "Extension",
           "FailureLimiter", "Method", "Module", "OpenApiDocument", "Pipeline", "RedactCredentials", "Request", "Site", "current_call",
           "new_event_loop"]
# What another shell of the same pipeline (interlink.django) reads requests and answers with.
__all__ += ["INTERNAL_ERROR", "PasswordCredentials", "ResultMismatch", "ThreadPool", "docs_page", "dumps",
            "error_answer", "form_pairs", "json_body", "openapi_document", "query_pairs", "read_credentials",
            "swagger_static_dir", "unsupported"]
