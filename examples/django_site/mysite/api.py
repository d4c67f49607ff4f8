"""The site's API: the same ApiServer and methods as any interlink server."""

from dataclasses import dataclass

from interlink import ApiServer
from interlink.django import Role
from interlink.server import Call

from accounts.models import User

api = ApiServer(title="mysite")
home = api.module("home")


@dataclass
class UserDescription:
    user: User
    username: str
    joined: float


@home.method
def describe_user(rl: Role, user: User) -> UserDescription:
    """Describe one of the site's users."""
    return UserDescription(user=user, username=user.username, joined=user.date_joined.timestamp())


@home.method
def rename(rl: Role, call: Call, first_name: str) -> str:
    """Change the caller's first name, in the call's transaction (committed when this returns)."""
    call.db  # Django's connection, in transaction.atomic() for this call
    User.objects.filter(pk=rl.user.pk).update(first_name=first_name)
    return first_name


@home.method
async def describe_site() -> dict[str, str]:
    """Public: no credentials needed. An async method, run on the event loop under ASGI."""
    return {"name": "mysite"}
