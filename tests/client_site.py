"""The site the client tests call: real interlink ``ApiServer``s served by uvicorn on 127.0.0.1.

Shared by the ``test_client*`` files (imported, since pytest puts ``tests/`` on sys.path);
it holds no tests itself. The keys are the specification's own example keys, so its examples
run with only the import line (and the site's address) changed.
"""

from __future__ import annotations

from servers import UvicornThread

import contextlib
import dataclasses
import datetime as dt
import enum
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from interlink.server import ApiServer
from interlink.store import MemoryKeys, Role
from interlink.wire import FileUpload

# The API-calls specification's example credentials ("Using api_api in Python").
DEFAULT_KEY = ("k-0123456789abcdef", "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST")
DAY_TO_DAY_KEY = ("k-fedcba9876543210", "asdfghjklmASDFGHJKLMasdfghjklmASDFGHJKLM")
ADMIN_KEY = ("k-00000000000000ad", "adminadminadminadminadminadminadminadmin")

SPEC_CONFIG = f"""[default]
access_key_id = {DEFAULT_KEY[0]}
access_key_secret = {DEFAULT_KEY[1]}

[day to day working]
access_key_id = {DAY_TO_DAY_KEY[0]}
access_key_secret = {DAY_TO_DAY_KEY[1]}
"""


class Colour(enum.Enum):
    RED = "r"
    GREEN = "g"


@dataclasses.dataclass
class UserFilter:
    name_gt: str = ""
    name_lt: str = "\uffff"


USERS = ["alice", "bob", "carol", "joebloggs", "johndoe"]


def make_site(site_name: str = "my wonderful site") -> ApiServer:
    """A small site: the specification's ``home`` methods plus ones that exercise every error."""
    api = ApiServer(
        authenticator=MemoryKeys(
            {
                DEFAULT_KEY[0]: (DEFAULT_KEY[1], Role(name="default")),
                DAY_TO_DAY_KEY[0]: (DAY_TO_DAY_KEY[1], Role(name="day to day working")),
                ADMIN_KEY[0]: (ADMIN_KEY[1], Role(name="admin", permissions=["admin"])),
            }
        ),
        docs=False,
    )
    home = api.module("home")
    calls = api.calls = []  # type: ignore[attr-defined]  # what callasync tests look for

    @home.method
    def describe_site(rl: Role) -> dict[str, Any]:
        return {"name": site_name, "users": {"count": len(USERS)}, "role": rl.name}

    @home.method
    def list_users(rl: Role, filter: UserFilter | None = None, usernames: list[str] | None = None) -> list[dict[str, Any]]:
        chosen = USERS if usernames is None else [u for u in USERS if u in usernames]
        if filter is not None:
            chosen = [u for u in chosen if filter.name_gt < u < filter.name_lt]
        return [{"username": u, "api_id": f"u-{i:016x}"} for i, u in enumerate(chosen)]

    @home.method
    def describe_user(rl: Role, user: str) -> dict[str, Any]:
        return {"api_id": user, "described": True}

    @home.method
    def echo(
        text: str = "",
        number: int = 0,
        ratio: float = 0.0,
        flag: bool = False,
        colour: Colour | None = None,
        when: dt.datetime | None = None,
        blob: bytes | None = None,
        tags: list[str] | None = None,
        prices: dict[str, int] | None = None,
        filter: UserFilter | None = None,
    ) -> dict[str, Any]:
        """Public: sends back what it decoded."""
        return {
            "text": text,
            "number": number,
            "ratio": ratio,
            "flag": flag,
            "colour": colour.name if colour else None,
            "when": when.isoformat() if when else None,
            "blob": blob.hex() if blob is not None else None,
            "tags": tags,
            "prices": prices,
            "filter": dataclasses.asdict(filter) if filter else None,
        }

    @home.method
    def upload(rl: Role, document: FileUpload, note: str = "") -> dict[str, Any]:
        data = document.read()
        return {"filename": document.filename, "content_type": document.content_type, "size": len(data),
                "text": data.decode("utf-8", "replace"), "note": note}

    @home.method
    def headers_seen(rl: Role) -> str:
        return "ok"

    @home.method
    def record(rl: Role, what: str) -> None:
        calls.append(what)

    @home.method(requires=["admin"])
    def admin_only(rl: Role) -> str:
        return "admin"

    @home.method
    def broken(rl: Role) -> int:
        raise RuntimeError("a bug in the method")

    @home.method
    def whoami(rl: Role) -> str:
        return rl.name

    return api


class LiveServer(UvicornThread):
    """A test site's server; ``root`` is its API root."""

    def start(self) -> LiveServer:  # type: ignore[override]
        super().start()
        return self

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"


@contextlib.contextmanager
def serving(app: Any, port: int = 0) -> Iterator[LiveServer]:
    server = LiveServer(app, port).start()
    try:
        yield server
    finally:
        server.stop()


def unused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site() -> Iterator[LiveServer]:
    """One live site for a test module."""
    with serving(make_site()) as server:
        yield server


@pytest.fixture
def spec_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A HOME with the specification's ``~/.mywonderfulsite/config``, and no INTERLINK_* variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("INTERLINK_PROFILE", "INTERLINK_ACCESS_KEY_ID", "INTERLINK_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".mywonderfulsite").mkdir()
    (tmp_path / ".mywonderfulsite" / "config").write_text(SPEC_CONFIG)
    return tmp_path
