"""What the three peers share: the user table, the one key, the request body and the result.

The method is shaped like the example site's ``home.list_users``: a dataclass filter sent as
``filter.name_gt``/``filter.name_lt``, a bare repeated list ``usernames``, a bool ``active``, and
the key in the ``authorisation`` field. Every peer checks the key the same way interlink's
``MemoryKeys`` does (SHA-256 of the secret against a stored digest, constant-time compare), so
they do the same work per call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from urllib.parse import urlencode

KEY_ID = "k-0123456789abcdef"
KEY_SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAbCd"  # 40 letters and digits, like a real key
assert len(KEY_SECRET) == 40
STORED_DIGEST = "sha256$" + hashlib.sha256(KEY_SECRET.encode()).hexdigest()
KEYS = {KEY_ID: STORED_DIGEST}  # the in-memory dict every peer checks against


@dataclasses.dataclass
class UserFilter:
    name_gt: str
    name_lt: str


@dataclasses.dataclass
class User:
    username: str
    active: bool


NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe"]
USERS = [User(name, i % 3 != 0) for i, name in enumerate(NAMES)]


def list_users(filter: UserFilter, usernames: list[str], active: bool) -> list[User]:
    """The method body, identical for every peer: users in the name range, named, with `active`."""
    wanted = set(usernames)
    return [
        u for u in USERS
        if filter.name_gt < u.username < filter.name_lt and u.username in wanted and u.active == active
    ]


def check_key(authorisation: str) -> bool:
    """What the FastAPI and Starlette peers do by hand: ``keyid:secret`` against the dict."""
    key_id, sep, secret = authorisation.partition(":")
    stored = KEYS.get(key_id)
    if not sep or not secret or stored is None:
        return False
    digest = "sha256$" + hashlib.sha256(secret.encode()).hexdigest()
    return hmac.compare_digest(digest, stored)


USERNAMES = ("bob", "carol", "erin", "frank", "heidi", "judy", "olivia", "trent")


def expected_answer() -> list[dict]:
    """The JSON every peer must send for `form_body()`."""
    return [dataclasses.asdict(u) for u in list_users(UserFilter("b", "w"), list(USERNAMES), True)]


def form_body(secret: str = KEY_SECRET, key_id: str = KEY_ID) -> str:
    pairs = [
        ("filter.name_gt", "b"),
        ("filter.name_lt", "w"),
        *[("usernames", n) for n in USERNAMES],
        ("active", "true"),
        ("authorisation", f"{key_id}:{secret}"),
    ]
    return urlencode(pairs)


PATH = "/api/home/list_users"
