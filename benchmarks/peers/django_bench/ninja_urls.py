"""django-ninja: a ``Form`` schema (aliases for the dotted names), the key checked in an auth
callable, its defaults otherwise."""

from django.http import HttpRequest
from django.urls import path
from ninja import Field, Form, NinjaAPI, Schema

from benchmarks.peers import common
from benchmarks.peers.common import UserFilter

api = NinjaAPI(docs_url=None, openapi_url=None)


class ListUsersForm(Schema):
    filter_name_gt: str = Field(alias="filter.name_gt")
    filter_name_lt: str = Field(alias="filter.name_lt")
    usernames: list[str]
    active: bool


class UserOut(Schema):
    username: str
    active: bool


def form_key(request: HttpRequest) -> bool | None:
    return True if common.check_key(request.POST.get("authorisation", "")) else None


@api.post("/home/list_users", auth=form_key, response=list[UserOut])
def list_users(request: HttpRequest, form: Form[ListUsersForm]) -> list[common.User]:
    return common.list_users(UserFilter(form.filter_name_gt, form.filter_name_lt), form.usernames, form.active)


urlpatterns = [path("api/", api.urls)]
