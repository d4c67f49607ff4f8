"""OpenAPI validation as rest-tools does it: ``validate_request`` and ``request_and_validate``.

``validate_request(spec)`` decorates a Tornado handler method (``RestHandler`` or any
``tornado.web.RequestHandler``): the request is checked against ``spec`` (an
``openapi_core.OpenAPI``) before the method runs, and a request that does not fit is
answered 400 with a reason naming the field and the rule (``'rank': must be type 'integer'
(int)``), never echoing the offending value (it may be a secret or large). The reason is the
HTTP status text too, so rest-tools' clients show it.

``request_and_validate(rc, spec, method, path, args)`` sends a request with a
``RestClient`` and checks the *response* against ``spec`` (openapi-core's errors are raised
as they are: ``PathNotFound``, ``ResponseNotFound``, ``DataValidationError``…), then raises
the client's ``RestHTTPError`` for an error status. Useful in tests of a service.

openapi-core (the validator rest-tools uses) and Tornado come with the ``rest-server``
extra. The adapters below give openapi-core a Tornado request and an httpx
request/response directly; rest-tools converted both through ``requests`` objects.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

try:
    import openapi_core
    import tornado.httputil
    import tornado.web
    from openapi_core.datatypes import RequestParameters
    from openapi_core.exceptions import OpenAPIError
    from openapi_core.validation.exceptions import ValidationError
    from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
    from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
    from werkzeug.datastructures import Headers, ImmutableMultiDict
except ImportError as exc:  # pragma: no cover - exercised by the install tests
    raise ImportError(
        'OpenAPI validation needs openapi-core and Tornado: pip install "interlink[rest-server]"'
    ) from exc

import httpx

if TYPE_CHECKING:
    from interlink.rest._client import RestClient

__all__ = ["validate_request", "request_and_validate", "load_openapi_spec", "get_version_vmaj",
           "schema_error_text", "TornadoOpenAPIRequest", "HttpxOpenAPIRequest", "HttpxOpenAPIResponse"]

LOGGER = logging.getLogger(__name__)

# JSON Schema type names with the Python type a caller would send.
_PYTHON_TYPES = {
    "number": " (float or int)",
    "integer": " (int)",
    "boolean": " (bool)",
    "array": " (list)",
    "object": " (dict)",
    "null": " (None)",
}


def schema_error_text(error: Any) -> str:
    """One jsonschema error as ``'field.path': reason`` (rest-tools' wording), without the
    offending value: a 400 reason must not reflect secrets or megabytes back to the caller."""
    field = ".".join(str(part) for part in error.absolute_path)
    keyword, rule = error.validator, error.validator_value
    if keyword in ("required", "additionalProperties"):
        # These messages name properties, not values: "'x' is a required property".
        reason = str(error.message).split("\n", 1)[0]
        return f"{field!r}: {reason}" if field else reason
    if keyword == "type":
        reason = f"must be type {rule!r}{_PYTHON_TYPES.get(rule, '') if isinstance(rule, str) else ''}"
    elif keyword == "pattern":
        reason = f"must match the pattern {rule!r}"
    elif keyword == "minLength":
        reason = f"must be at least {rule} characters long"
    elif keyword == "maxLength":
        reason = f"must be no more than {rule} characters long"
    elif keyword == "minimum":
        reason = f"must be at least {rule}"
    elif keyword == "maximum":
        reason = f"must be no more than {rule}"
    elif keyword == "enum":
        reason = f"must be one of: {', '.join(repr(v) for v in rule)}"
    elif keyword in ("oneOf", "anyOf"):
        reason = "must match one of the accepted types"
    elif keyword == "minItems":
        reason = f"must have at least {rule} items"
    elif keyword == "maxItems":
        reason = f"must have no more than {rule} items"
    elif keyword == "minProperties":
        reason = f"must have at least {rule} entries"
    elif keyword == "maxProperties":
        reason = f"must have no more than {rule} entries"
    elif keyword == "uniqueItems":
        reason = "items must be unique"
    else:
        reason = f"failed {keyword!r} constraint"
    return f"{field!r}: {reason}" if field else reason


def _reason(error: ValidationError) -> str:
    original = error.__cause__ if isinstance(error.__cause__, InvalidSchemaValue) else error.__context__
    if isinstance(original, InvalidSchemaValue):
        return "; ".join(schema_error_text(e) for e in original.schema_errors)
    cause = error.__cause__
    if isinstance(cause, MediaTypeDeserializeError):
        # openapi-core's text quotes the whole body (and fails on one that is not UTF-8).
        return f"Request body validation error: Failed to deserialize value with {cause.mimetype} mimetype"
    try:
        return str(error)
    except Exception:  # an openapi-core message that cannot be rendered
        return type(error).__name__


class _OpenAPIRequest:
    request: Any  # Tornado's and httpx's requests both have .headers.get

    @property
    def content_type(self) -> str:
        return str(self.request.headers.get("Content-Type") or self.request.headers.get("Accept"))


class TornadoOpenAPIRequest(_OpenAPIRequest):
    """A Tornado request as openapi-core reads one."""

    def __init__(self, request: tornado.httputil.HTTPServerRequest) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(request.query, keep_blank_values=True)),
            header=Headers(list(request.headers.get_all())),
            cookie=ImmutableMultiDict({name: morsel.value for name, morsel in request.cookies.items()}),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def method(self) -> str:
        return (self.request.method or "get").lower()

    @property
    def body(self) -> bytes | None:
        return self.request.body or None


class HttpxOpenAPIRequest(_OpenAPIRequest):
    """An httpx request (as sent) as openapi-core reads one."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(request.url.query.decode("ascii"), keep_blank_values=True)),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.url.scheme}://{self.request.url.netloc.decode('ascii')}"

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None


class HttpxOpenAPIResponse:
    """An httpx response (read) as openapi-core reads one."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def data(self) -> bytes:
        return self.response.content

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return str(self.response.headers.get("Content-Type", ""))

    @property
    def headers(self) -> Headers:
        return Headers(list(self.response.headers.multi_items()))


def load_openapi_spec(fpath: str | os.PathLike[str], metadata_from_package: str = "") -> tuple[openapi_core.OpenAPI, dict[str, Any]]:
    """Read an OpenAPI file (JSON or YAML), check it is a valid spec, and return it as an
    ``openapi_core.OpenAPI`` (for ``validate_request``) and as a dict.

    With ``metadata_from_package``, ``info``'s summary, description, contact and license are
    filled from that installed package's metadata; a field the file already fills is an
    error (``title`` and ``version`` stay the file's).
    """
    from jsonschema_path import SchemaPath
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    schema, base_uri = read_from_filename(str(fpath))
    if metadata_from_package:
        schema = _with_package_metadata(dict(schema), metadata_from_package)
    validate(schema)
    return openapi_core.OpenAPI(SchemaPath.from_dict(schema, base_uri=base_uri)), dict(schema)


def _with_package_metadata(spec: dict[str, Any], package: str) -> dict[str, Any]:
    import importlib.metadata

    md = importlib.metadata.metadata(package)
    urls = [item.split(",", 1)[1].strip() for item in (md.get_all("Project-URL") or []) if "," in item]
    new_info = {
        "summary": md.get("Summary", ""),
        "description": md.get("Description", ""),
        "contact": {
            "name": md.get("Maintainer", md.get("Author", "")),
            "email": md.get("Maintainer-email", md.get("Author-email", "")),
            "url": next((url for url in urls if url), ""),
        },
        "license": {"name": md.get("License-Expression", md.get("License", ""))},
    }
    info = dict(spec.get("info", {}))
    for key in new_info:
        if info.get(key):
            raise RuntimeError(
                f"Cannot auto-populate OpenAPI specification field 'info.{key}' -- it's already populated"
            )
    spec["info"] = {**info, **new_info}
    return spec


def get_version_vmaj(openapi_dict: dict[str, Any]) -> str:
    """The spec's major version as ``v0``, ``v1``… (from ``info.version``)."""
    return "v" + str(openapi_dict["info"]["version"]).split(".")[0]


Handler = Callable[..., Any]


def validate_request(openapi_spec: openapi_core.OpenAPI) -> Callable[[Handler], Callable[..., Awaitable[Any]]]:
    """Decorate a Tornado handler method: the request must fit ``openapi_spec`` (else 400).

    Example::

        class Fruits(RestHandler):
            @validate_request(OPENAPI_SPEC)
            async def post(self) -> None: ...
    """

    def decorate(method: Handler) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def wrapper(handler: tornado.web.RequestHandler, *args: Any, **kwargs: Any) -> Any:
            try:
                openapi_spec.validate_request(TornadoOpenAPIRequest(handler.request))
            except ValidationError as error:
                reason = _reason(error)
                LOGGER.info("invalid request: %s: %s", type(error).__name__, reason)
                raise tornado.web.HTTPError(400, log_message=f"{type(error).__name__}: {reason}",
                                            reason=_status_text(reason)) from None
            except Exception as error:
                # Not the caller's fault, nor anything to tell them: logged here, a bare 400.
                LOGGER.exception("OpenAPI validation failed unexpectedly: %s", type(error).__name__)
                raise tornado.web.HTTPError(400, log_message=type(error).__name__) from None
            result = method(handler, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return wrapper

    return decorate


def _status_text(reason: str) -> str:
    # The reason is also the status line's text: one line, printable, bounded.
    text = " ".join(reason.split())
    return text if len(text) <= 1000 else text[:997] + "..."


async def request_and_validate(
    rc: RestClient,
    openapi_spec: openapi_core.OpenAPI,
    method: str,
    path: str,
    args: dict[str, Any] | None = None,
) -> Any:
    """Send a request with ``rc``, check the response against ``openapi_spec``, and return
    its decoded JSON (raising ``RestHTTPError`` for an error status, as ``rc.request`` does)."""
    client = await rc._async_session()
    response = await client.request(**rc._prepare(method, path, args, None))
    try:
        openapi_spec.validate_response(HttpxOpenAPIRequest(response.request), HttpxOpenAPIResponse(response))
    except OpenAPIError as error:
        LOGGER.error("OpenAPI response validation failed: %s", error)
        raise
    out = rc._decode(response.content)
    rc._check(method, path, response)
    return out
