"""The example site (examples.mysite) in-process, with a store-backed key of a user made for the test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def example_site(tmp_path: Path) -> Any:
    """``examples.mysite.api`` on a database of this test, or the one an earlier test imported it with."""
    os.environ["MYSITE_DATA_DIR"] = str(tmp_path)
    os.environ["INTERLINK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'mysite.db'}"
    try:
        from examples.mysite import api as module
    finally:
        os.environ.pop("INTERLINK_DATABASE_URL")
        os.environ.pop("MYSITE_DATA_DIR")
    return module


def new_user_key(database: Any, username: str, others: tuple[str, ...] = ("alice", "bob", "carol")) -> tuple[str, str]:
    """A user ``username`` (and ``username-alice``…) with an "everyday" role and a key: (key id, secret)."""
    from interlink.store import create_key, create_role, create_user

    database.migrate()
    with database.session() as session:
        user = create_user(session, username)
        for name in others:
            create_user(session, f"{username}-{name}")
        key, secret = create_key(session, create_role(session, user, "everyday"))
        session.commit()
        return key.key_id, secret.decode()
