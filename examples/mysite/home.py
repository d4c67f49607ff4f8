"""home.*: the methods of the API-calls specification's examples, on the site's real users table."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select

from interlink import Call, FileUpload, Role
from interlink.store import User  # queried as the users table
from examples.mysite.api import api


@dataclass
class SiteUsers:
    count: int


@dataclass
class SiteDescription:
    name: str
    users: SiteUsers
    now: dt.datetime


@dataclass
class UserFilter:
    name_gt: str = ""
    name_lt: str = "\uffff"


@dataclass
class UserDescription:
    user: User
    username: str
    joined: dt.datetime


class Order(enum.Enum):
    ascending = "asc"
    descending = "desc"


@dataclass
class UploadReceipt:
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass
class Paging:
    order: Order = Order.ascending
    limit: int = 100
    tags: list[str] = field(default_factory=list)


@api.method
def describe_site(rl: Role, call: Call) -> SiteDescription:
    """The site's name and how many users it has."""
    count = len(call.db.scalars(select(User.id)).all())
    return SiteDescription(name="mysite", users=SiteUsers(count=count), now=dt.datetime.now(dt.UTC))


@api.method
def describe_user(rl: Role, user: User) -> UserDescription:
    """One user, by api_id (``user=u-…``)."""
    return UserDescription(user=user, username=user.username, joined=user.created_at)


@api.method
def list_users(rl: Role, call: Call, filter: UserFilter, paging: Paging | None = None) -> list[UserDescription]:
    """Users whose name lies between ``filter.name_gt`` and ``filter.name_lt``."""
    paging = paging or Paging()
    order = User.username.asc() if paging.order is Order.ascending else User.username.desc()
    users = call.db.scalars(
        select(User)
        .where(User.username > filter.name_gt, User.username < filter.name_lt)
        .order_by(order)
        .limit(paging.limit)
    ).all()
    return [UserDescription(user=u, username=u.username, joined=u.created_at) for u in users]


@api.method
def find_users(rl: Role, call: Call, usernames: list[str], active: bool = True) -> list[str]:
    """Which of ``usernames`` exist (bare repeated names or ``usernames.0``…; ``usernames.`` for none)."""
    found = set(call.db.scalars(select(User.username).where(User.username.in_(usernames))))
    return [name for name in usernames if name in found]


@api.method
def upload(rl: Role, upload: FileUpload) -> UploadReceipt:
    """Store nothing; report what arrived (``-F upload=@file``)."""
    data = upload.read()
    return UploadReceipt(upload.filename, upload.content_type, len(data), hashlib.sha256(data).hexdigest())


@api.method
async def ping() -> str:
    """A public method: no credentials needed."""
    return "pong"
