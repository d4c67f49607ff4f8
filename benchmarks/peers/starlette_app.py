"""The method on plain Starlette: ``request.form()`` and every check written by hand."""

from __future__ import annotations

import dataclasses

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from benchmarks.peers import common
from benchmarks.peers.common import UserFilter

TRUE = {"1", "true", "True", "yes", "on"}
FALSE = {"0", "false", "False", "no", "off"}
KNOWN = {"filter.name_gt", "filter.name_lt", "usernames", "active", "authorisation"}


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict = {"code": "bad_arguments" if status == 400 else "not_authorised", "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


def single(form, name: str) -> str | None:
    values = form.getlist(name)
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    return values[0]


async def list_users(request: Request) -> JSONResponse:
    async with request.form() as form:
        for name in form.keys():
            if name not in KNOWN:
                return error(400, "unknown argument", name)
        authorisation = single(form, "authorisation")
        if authorisation is None or not common.check_key(authorisation):
            return error(401, "unknown, revoked or wrong key")
        name_gt = single(form, "filter.name_gt")
        if name_gt is None:
            return error(400, "missing", "filter.name_gt")
        name_lt = single(form, "filter.name_lt")
        if name_lt is None:
            return error(400, "missing", "filter.name_lt")
        usernames = form.getlist("usernames")
        if not all(isinstance(u, str) for u in usernames):
            return error(400, "expected text", "usernames")
        active_text = single(form, "active")
        if active_text in TRUE:
            active = True
        elif active_text in FALSE:
            active = False
        else:
            return error(400, "not a bool", "active")
    found = common.list_users(UserFilter(name_gt, name_lt), list(usernames), active)
    return JSONResponse([dataclasses.asdict(u) for u in found])


app = Starlette(routes=[Route(common.PATH, list_users, methods=["POST"])])
