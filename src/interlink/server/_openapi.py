"""OpenAPI 3.1 for an Api: every method, its form/multipart/JSON bodies, result and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from ._api import Api
    from ._method import Method

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
AUTHORISATION_FIELD = {
    "type": "string",
    "format": "password",
    "writeOnly": True,
    "description": "keyid:secret of a key (k-…:…). Send it as a body field, never in the URL.",
}
ERRORS = {
    "400": "Bad or missing argument; `error.field` names it",
    "401": "No credentials, or wrong ones",
    "403": "Not allowed",
    "413": "Body too large",
    "415": "Unsupported content type",
    "500": "A bug on the server's side",
}


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


def _operation(method: Method, components: dict[str, Any]) -> dict[str, Any]:
    arguments = method.arguments
    json_schema = _hoist(arguments.model.model_json_schema(ref_template=REF, schema_generator=_generator()), components)
    form = arguments.form_schema()
    form.setdefault("properties", {})["authorisation"] = AUTHORISATION_FIELD
    json_schema.setdefault("properties", {})["authorisation"] = AUTHORISATION_FIELD
    json_schema.pop("additionalProperties", None)
    content: dict[str, Any] = {"application/x-www-form-urlencoded": {"schema": form}}
    if _has_file(form):
        content = {"multipart/form-data": {"schema": form}}
    else:
        content["multipart/form-data"] = {"schema": form}
        content["application/json"] = {"schema": json_schema}
    result_schema = method.result.json_schema()
    result_schema = _hoist(_rebase_refs(result_schema), components)
    description = method.description
    if method.requires:
        description = (description + "\n\n" if description else "") + (
            "Requires the permission(s): " + ", ".join(f"`{p}`" for p in sorted(method.requires))
        )
    operation: dict[str, Any] = {
        "operationId": method.name,
        "tags": [method.module],
        "summary": method.summary or method.name,
        "requestBody": {"required": False, "content": content},
        "responses": {
            "200": {"description": "The result", "content": {"application/json": {"schema": result_schema}}},
            **{
                status: {"description": text, "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}
                for status, text in ERRORS.items()
                if not (method.public and status in ("401", "403"))
            },
        },
        "security": [] if method.public else [{"basic": []}, {"authorisationField": []}],
    }
    if description:
        operation["description"] = description
    if method.requires:
        operation["x-requires-permissions"] = sorted(method.requires)
    return operation


def _rebase_refs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" and isinstance(v, str) else _rebase_refs(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase_refs(v) for v in schema]
    return schema


def _generator() -> Any:
    from interlink.wire import WireJsonSchema

    return WireJsonSchema


def openapi_document(api: Api) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for method in sorted(api.methods.values(), key=lambda m: m.name):
        paths[f"{api.prefix}/{method.module}/{method.function_name}"] = {"post": _operation(method, components)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": api.title,
            "version": api.version,
            "description": (
                "Every method is a POST of form fields, multipart or JSON. Authenticate with the "
                "`authorisation` field (`keyid:secret`) or HTTP Basic with `keyid:secret` as the password."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic", "description": "username and keyid:secret as the password"},
                "authorisationField": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "authorisation",
                    "description": "keyid:secret. Prefer sending it as the `authorisation` body field; "
                    "in the query it works but reaches logs.",
                },
            },
        },
    }


