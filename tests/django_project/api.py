"""The project's API: the very same ApiServer registry the ASGI server serves."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from dataclasses import dataclass, field

from interlink import ApiServer, FileUpload
from interlink.errors import BadArguments
from interlink.server import Call
from interlink.django import Role

from django_project.accounts.models import Note, User

api = ApiServer(title="django project")
home = api.module("home")


class Colour(enum.Enum):
    red = "r"
    green = "g"


@dataclass
class UserFilter:
    name_gt: str
    name_lt: str


@dataclass
class UserDescription:
    user: User
    username: str


@dataclass
class Search:
    username: str = ""
    tags: list[str] = field(default_factory=list)


@home.method
def describe_user(rl: Role, user: User) -> UserDescription:
    return UserDescription(user=user, username=user.username)


@home.method
def whoami(rl: Role, call: Call) -> dict[str, str]:
    return {"user": call.user.username if call.user else "", "role": rl.name, "client": call.client or ""}


@home.method
def list_users(rl: Role, usernames: list[str]) -> list[str]:
    return usernames


@home.method
def between(rl: Role, filter: UserFilter) -> list[str]:
    return [filter.name_gt, filter.name_lt]


@home.method
def search(rl: Role, search: Search) -> Search:
    return search


@home.method
def flag(rl: Role, active: bool) -> bool:
    return active


@home.method
def colour(rl: Role, colour: Colour) -> str:
    return colour.name


@home.method
def when(rl: Role, at: dt.datetime) -> float:
    return at.timestamp()


@home.method
def counts(rl: Role, counts: dict[str, int]) -> dict[str, int]:
    return counts


@home.method
def upload(rl: Role, upload: FileUpload) -> dict[str, object]:
    return {"filename": upload.filename, "size": len(upload.read())}


@home.method
def add_note(rl: Role, call: Call, text: str, fail: bool = False) -> str:
    """Writes a note in the call's transaction; ``fail`` rolls it back."""
    call.db  # the call's transaction: Django's connection in atomic()
    note = Note.objects.create(owner=call.user, text=text)
    if fail:
        raise BadArguments("asked to fail", field="fail")
    return note.api_id


@home.method
def notes(rl: Role) -> list[str]:
    return list(Note.objects.filter(owner=rl.user).order_by("id").values_list("text", flat=True))


@home.method
async def hello(rl: Role, name: str) -> str:
    await asyncio.sleep(0)
    return f"hello {name}"


@home.method
def ping() -> str:
    return "pong"


@home.method(requires=["reports.read"])
def report(rl: Role) -> str:
    return "report"


@home.method
def broken(rl: Role) -> int:
    raise RuntimeError("a bug in the method")
