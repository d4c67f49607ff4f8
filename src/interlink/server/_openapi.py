"""OpenAPI 3.1 for an ApiServer: every method, its form/multipart/JSON bodies, result and errors.

The document is meant to be exact, because tools act on it: Swagger UI's Authorize dialog and
"Try it out" build real calls from it, and schemathesis generates requests from it and checks the
answers against it. So bodies refuse what the server refuses (unknown fields, a missing
structure), every error status the server can answer is declared with the one error shape, and
credentials are described only as HTTP schemes (Basic, Bearer) that Swagger UI sends in the
``Authorization`` header. The ``authorisation`` field still works (the API-calls specification's
curl form) and is described in prose, not offered as a field: a field Swagger fills in next to
its Authorize header would send the key twice.

Extensions add their own parts (callbacks under an operation, top-level webhooks) through
:class:`OpenApiDocument`, before integers are bounded and the components are set.
"""

from __future__ import annotations

import enum
import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interlink.wire import WireJsonSchema

    from ._api import ApiServer
    from ._method import Method

__all__ = ["OpenApiDocument", "openapi_document"]

REF = "#/components/schemas/{model}"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the dotted name of the argument at fault"},
            },
        }
    },
}
# Every method can answer each of these: credentials are checked (and failures rate-limited)
# whenever they are sent, even to a public method; a key's network allowlist or a session
# form's CSRF check can refuse any call.
ERRORS = {
    "400": "Bad or missing argument; `error.field` names it",
    "401": "Wrong credentials, or none for a method that needs them",
    "403": "Not allowed: a permission the role lacks, a key used outside its networks, a failed CSRF check",
    "413": "Body too large",
    "415": "Unsupported content type",
    "429": "Too many failed logins for this user, key or address; try again later",
    "500": "A bug on the server's side",
    "503": "A store the server needs (its database, Redis) does not answer; try again after `Retry-After` seconds",
}
SECURITY_SCHEMES = {
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "A key as `keyid:secret` (username = key id `k-…`, password = secret), "
        "or a user's name with `keyid:secret` of one of their keys as the password, "
        "or a user's name and password (their default role).",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "keyid:secret",
        "description": "A key as `Authorization: Bearer keyid:secret`.",
    },
}
DESCRIPTION = (
    "Every method is a POST of form fields (`application/x-www-form-urlencoded`), multipart or "
    "JSON, answered with JSON; errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.\n\n"
    "Credentials: HTTP Basic or Bearer with a key's `keyid:secret` (the Authorize button), or "
    "the `authorisation=keyid:secret` POST field or JSON member, as in the API-calls "
    "specification's curl examples (the field wins over the header; an empty one counts as not sent)."
)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MARKER = {"type": "string", "const": "", "description": "empty marker: sends the structure with its defaults"}
EMPTY = {"type": "string", "const": "", "description": "empty marker: sends it empty"}


def markdown(text: str) -> str:
    """Docstrings are reStructuredText-ish; Swagger UI renders CommonMark."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)  # :func:`name` -> `name`
    text = re.sub(r"``([^`]+)``", r"`\1`", text)  # ``literal`` -> `literal`
    return re.sub(r"(?m)(\S)::$", r"\1:", text)  # "Example::" -> "Example:"


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    return schema


def _has_file(schema: Any) -> bool:
    if isinstance(schema, dict):
        if schema.get("format") == "binary":
            return True
        return any(_has_file(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_file(v) for v in schema)
    return False


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The object schema behind refs and ``anyOf [X, null]``; and whether null was allowed."""
    nullable = False
    while True:
        if "$ref" in schema:
            schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        elif "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            nullable = nullable or len(options) < len(schema["anyOf"])
            if len(options) != 1:
                return schema, nullable
            schema = options[0]
        else:
            return schema, nullable


def _sent(pattern: str) -> dict[str, Any]:
    """A schema for "some field name matches ``pattern``"."""
    return {"not": {"propertyNames": {"not": {"pattern": pattern}}}}


def exact_form(form: dict[str, Any], arguments_schema: dict[str, Any]) -> dict[str, Any]:
    """The wire's flat form schema, made to refuse what the server refuses.

    Unknown names are refused; a structure is sent by any of its fields or by its empty
    ``name.`` marker, so a required structure whose fields all have defaults needs one of them;
    a required list of values needs at least one (or its ``name.`` marker, for none).
    Dictionaries (``name.key=value``) and lists of structures (``name.0.field=…``) are sent
    under their name's prefix: pattern properties, not one field.
    """
    defs = arguments_schema.get("$defs", {})
    properties: dict[str, Any] = dict(form.get("properties", {}))
    required: list[str] = list(form.get("required", []))
    structures: dict[str, bool] = {}  # dotted prefix -> required
    containers: dict[str, bool] = {}  # dictionaries and lists of structures -> required
    patterns: dict[str, Any] = {}

    for name in list(properties):
        parts = name.split(".")
        schema, is_required = arguments_schema, True
        for depth, part in enumerate(parts):
            is_required = is_required and part in schema.get("required", [])
            schema, nullable = _resolve(schema.get("properties", {}).get(part, {}), defs)
            is_required = is_required and not nullable
            if depth < len(parts) - 1:
                prefix = ".".join(parts[: depth + 1])
                structures[prefix] = structures.get(prefix, False) or is_required
        values = schema.get("additionalProperties")
        items = _resolve(schema.get("items", {}), defs)[0] if schema.get("type") == "array" else {}
        if schema.get("type") == "object" and isinstance(values, dict) or items.get("type") == "object" or "properties" in items:
            del properties[name]
            if name in required:
                required.remove(name)
            containers[name] = is_required
            properties[name + "."] = EMPTY
            escaped = re.escape(name)
            if isinstance(values, dict) and values.get("type") in ("string", "integer", "number", "boolean"):
                patterns[f"^{escaped}\\.[^.]+$"] = values
            elif isinstance(values, dict):
                patterns[f"^{escaped}\\..+$"] = {}
            else:  # a list of structures: name.0.field, name.1.field, …
                fields = "|".join(re.escape(f) for f in items.get("properties", {})) or "[^.]+"
                patterns[f"^{escaped}\\.(0|[1-9][0-9]*)\\.({fields})(\\..+)?$"] = {}
    requirements: list[dict[str, Any]] = []
    for prefix in structures:
        properties.setdefault(prefix + ".", MARKER)
    for prefix, is_required in structures.items():
        if is_required and not any(r.startswith(prefix + ".") for r in required):
            # Not `required: [prefix.]`: Swagger UI refuses to send a required field left empty.
            names = [n for n in properties if n.startswith(prefix + ".")]
            inside = [_sent(f"^{re.escape(c)}\\.") for c in containers if c.startswith(prefix + ".")]
            requirements.append({"anyOf": [{"required": [n]} for n in names] + inside})
    for name, is_required in containers.items():
        if is_required and not any(name.startswith(p + ".") for p in structures):
            requirements.append(_sent(f"^{re.escape(name)}\\."))
    for name in required:
        prop = properties.get(name, {})
        if prop.get("type") == "array" and "minItems" not in prop:
            properties[name] = {**prop, "minItems": 1}
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if patterns:
        out["patternProperties"] = patterns
    out["additionalProperties"] = False
    if required:
        out["required"] = required
    if len(requirements) == 1:
        out.update(requirements[0])
    elif requirements:
        out["allOf"] = requirements
    return out


def _operation(method: Method, components: dict[str, Any]) -> dict[str, Any]:
    arguments = method.arguments
    raw_schema = arguments.model.model_json_schema(ref_template=REF, schema_generator=_generator())
    form = exact_form(arguments.form_schema(), raw_schema)
    json_schema = _hoist(raw_schema, components)
    json_schema["additionalProperties"] = False
    if _has_file(form):
        content: dict[str, Any] = {"multipart/form-data": {"schema": form}}
    else:
        content = {
            "application/x-www-form-urlencoded": {"schema": form},
            "multipart/form-data": {"schema": form},
            "application/json": {"schema": json_schema},
        }
    result_schema = method.result.json_schema()
    result_schema = _hoist(_rebase_refs(result_schema), components)
    # Swagger UI shows the summary as plain text and renders the description as CommonMark:
    # the whole docstring goes in the description, its first line, unmarked, in the summary.
    summary = re.sub(r"`([^`]+)`", r"\1", markdown(method.summary)) or method.name
    description = markdown("\n\n".join(p for p in (method.summary, method.description) if p))
    if method.requires:
        description = (description + "\n\n" if description else "") + (
            "Requires the permission(s): " + ", ".join(f"`{p}`" for p in sorted(method.requires))
        )
    operation: dict[str, Any] = {
        "operationId": method.name,
        "tags": [method.module],
        "summary": summary,
        "requestBody": {"required": bool(json_schema.get("required")), "content": content},
        "responses": {
            "200": {"description": "The result", "content": {"application/json": {"schema": result_schema}}},
            **{
                status: {"description": text, "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}
                for status, text in ERRORS.items()
            },
            "401": {
                "description": ERRORS["401"],
                "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": 'Bearer realm="api"'}}},
                "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
            },
        },
        "security": [] if method.public else [{"basic": []}, {"bearer": []}],
    }
    if description and description != summary:
        operation["description"] = description
    if method.requires:
        operation["x-requires-permissions"] = sorted(method.requires)
    return operation


def _bound_integers(schema: Any) -> Any:
    """Integers are signed 64-bit on the wire (and in the databases): say so, so that tools
    generate only numbers the server accepts."""
    if isinstance(schema, dict):
        if schema.get("type") == "integer" and "format" not in schema:
            schema = {**schema, "format": "int64"}
            schema.setdefault("minimum", INT64_MIN)
            schema.setdefault("maximum", INT64_MAX)
        return {k: _bound_integers(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_bound_integers(v) for v in schema]
    return schema


def _rebase_refs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" and isinstance(v, str) else _rebase_refs(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase_refs(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=1)
def _generator() -> type[WireJsonSchema]:
    from interlink.wire import WireJsonSchema

    class DocumentJsonSchema(WireJsonSchema):
        """Enum defaults by name, as enums travel (pydantic writes the value)."""

        def encode_default(self, dft: Any) -> Any:
            if isinstance(dft, enum.Enum):
                return dft.name
            return super().encode_default(dft)

    return DocumentJsonSchema


class OpenApiDocument:
    """The OpenAPI document while it is built, as an extension sees it (``Extension.openapi``).

    ``document`` is the whole document (add top-level keys such as ``webhooks`` to it);
    ``operation(method)`` the operation of one method (add ``callbacks`` to it); ``schema()``
    turns a JSON Schema from ``interlink.wire`` into the document's form, its definitions moved
    to ``components``. Integers are bounded to int64 after the extensions are done.
    """

    def __init__(self, api: ApiServer, document: dict[str, Any], components: dict[str, Any]) -> None:
        self.api = api
        self.document = document
        self.components = components

    def operation(self, method: Method) -> dict[str, Any]:
        operation: dict[str, Any] = self.document["paths"][self.api.path_of(method)]["post"]
        return operation

    def schema(self, json_schema: dict[str, Any]) -> dict[str, Any]:
        """A wire JSON Schema as the document holds it: ``$defs`` moved under components, and
        references pointing there."""
        return _hoist(_rebase_refs(json_schema), self.components)


def openapi_document(api: ApiServer) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for method in sorted(api.methods.values(), key=lambda m: m.name):
        paths[api.path_of(method)] = {"post": _operation(method, components)}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": DESCRIPTION},
        "paths": paths,
    }
    parts = OpenApiDocument(api, document, components)
    for extension in api.extensions:
        extension.openapi(parts)
    document["paths"] = _bound_integers(document["paths"])
    if "webhooks" in document:
        document["webhooks"] = _bound_integers(document["webhooks"])
    document["components"] = {"schemas": _bound_integers(components), "securitySchemes": SECURITY_SCHEMES}
    return document
