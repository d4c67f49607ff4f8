"""interlink.django: the method as on ``interlink serve`` (benchmarks/peers/interlink_default.py),
its key a ``Key`` of interlink.django in the project's SQLite file."""

from django.urls import path

from interlink import ApiServer
from interlink.django import Role, api_urls

from benchmarks.peers import common
from benchmarks.peers.common import User, UserFilter

api = ApiServer(docs=False)


@api.method(module="home")
def list_users(rl: Role, filter: UserFilter, usernames: list[str], active: bool) -> list[User]:
    return common.list_users(filter, usernames, active)


urlpatterns = [path("api/", api_urls(api))]
