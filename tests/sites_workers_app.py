"""The app that tests/test_sites_workers.py serves in separate processes on one database:
`interlink --database URL serve sites_workers_app:api`."""

from __future__ import annotations

import os

from interlink import ApiServer, Call, Role
from interlink.server import Site
from interlink.store import find_key, utcnow

api = ApiServer(database=os.environ["INTERLINK_DATABASE_URL"])
site = Site(api)
home = api.module("home")
admin = api.module("admin")


@home.method
def whoami(rl: Role) -> dict[str, object]:
    return {"user": rl.user.username, "pid": os.getpid()}


@admin.method
def revoke(rl: Role, call: Call, key_id: str) -> str:
    """Revoke a key through this process (which forgets it at once; others within 2 s)."""
    find_key(call.db, key_id).revoked_at = utcnow()
    call.db.commit()
    api.app.authenticator.forget(key_id)
    return key_id
