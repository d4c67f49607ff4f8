"""The method on FastAPI: a pydantic model read with ``Form()``, the key checked in a dependency.

``app`` has an ``async def`` endpoint (FastAPI's fast case); ``default_app`` has the same endpoint
as a plain ``def``, as FastAPI's tutorial writes it, which FastAPI runs in its thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from benchmarks.peers import common
from benchmarks.peers.common import UserFilter


class ListUsersForm(BaseModel):
    # The dotted form names need aliases: FastAPI has no notion of nested form fields.
    model_config = ConfigDict(extra="forbid")

    filter_name_gt: str = Field(alias="filter.name_gt")
    filter_name_lt: str = Field(alias="filter.name_lt")
    usernames: list[str]
    active: bool
    authorisation: str


class UserOut(BaseModel):
    username: str
    active: bool


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


def form_with_key(form: Annotated[ListUsersForm, Form()]) -> ListUsersForm:
    if not common.check_key(form.authorisation):
        raise HTTPException(401, "unknown, revoked or wrong key", headers={"WWW-Authenticate": "Basic"})
    return form


@app.post(common.PATH, response_model=list[UserOut])
async def list_users(form: Annotated[ListUsersForm, Depends(form_with_key)]) -> list[UserOut]:
    found = common.list_users(UserFilter(form.filter_name_gt, form.filter_name_lt), form.usernames, form.active)
    return [UserOut(username=u.username, active=u.active) for u in found]


default_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@default_app.post(common.PATH, response_model=list[UserOut])
def list_users_def(form: Annotated[ListUsersForm, Depends(form_with_key)]) -> list[UserOut]:
    found = common.list_users(UserFilter(form.filter_name_gt, form.filter_name_lt), form.usernames, form.active)
    return [UserOut(username=u.username, active=u.active) for u in found]
