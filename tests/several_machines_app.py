"""The site that tests/test_several_machines.py serves on two "machines" behind nginx, one
PostgreSQL database: `interlink serve several_machines_app:api --workers 2` per machine, each
told its name (INTERLINK_TEST_MACHINE) and where it stores files (INTERLINK_TEST_STORE_DIR)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import text

from interlink import ApiServer, Call, FileStream, Role, UploadCut
from interlink.callbacks import Callback, Callbacks
from interlink.errors import BadArguments
from interlink.server import FailureLimiter, Site
from interlink.store import find_key, utcnow

MACHINE = os.environ["INTERLINK_TEST_MACHINE"]
STORE_DIR = Path(os.environ["INTERLINK_TEST_STORE_DIR"])

# The per-address limit counts every failure from one address, and behind nginx every call comes
# from nginx's: the tests' revoked keys would close the address to the later tests. The per-user
# limit (5 password failures, counted in the database) is the one under test.
api = ApiServer(
    database=os.environ["INTERLINK_DATABASE_URL"],
    login_limiter=FailureLimiter(per_address=100_000, per_user_everywhere=100_000),
)
site = Site(api)
# Delivery runs in `interlink worker` processes beside each server, which the tests can kill.
callbacks = Callbacks(api, allowed_networks="127.0.0.0/8", delivery_worker=False)
home = api.module("home")
admin = api.module("admin")
files = api.module("files")
ledger = api.module("ledger")
events = api.module("events")


@dataclasses.dataclass
class Stored:
    machine: str
    pid: int
    name: str
    size: int
    sha256: str


@dataclasses.dataclass
class Event:
    n: int
    machine: str


@dataclasses.dataclass
class EventReceived:
    ok: bool


event_happened = Callback("{$request.body#/callback_url}/events/{$request.body#/batch}", body=Event,
                          response=EventReceived)


@home.method
def whoami(rl: Role) -> dict[str, object]:
    return {"user": rl.user.username, "machine": MACHINE, "pid": os.getpid()}


@admin.method
def revoke(rl: Role, call: Call, key_id: str) -> str:
    """Revoke a key through this worker (which forgets it at once; the others within 2 s)."""
    find_key(call.db, key_id).revoked_at = utcnow()
    call.db.commit()
    api.app.authenticator.forget(key_id)
    return key_id


@files.method
async def store(rl: Role, store: str, name: str, upload: FileStream) -> Stored:
    """Write the upload to this machine's directory as it arrives; `store` is the front's routing
    argument (sent in the query string), `name` the file's name there."""
    if store != MACHINE:  # the front sent it to the wrong machine: refuse before reading the file
        raise BadArguments(f"this machine is {MACHINE!r}, not {store!r}", field="store")
    digest = hashlib.sha256()
    path = STORE_DIR / Path(name).name
    try:
        with open(path, "wb") as out:
            async for chunk in upload:
                digest.update(chunk)
                out.write(chunk)
    except UploadCut:
        path.unlink(missing_ok=True)  # a cut upload is not kept
        raise
    return Stored(MACHINE, os.getpid(), name, upload.received, digest.hexdigest())


@ledger.method
def record(rl: Role, call: Call, entry: str, lines: int = 5) -> dict[str, object]:
    """Write `lines` rows for one entry in one transaction, slowly enough that a server killed
    under load is caught between them: none or all of them may be in the database, never some."""
    for line in range(lines):
        call.db.execute(text("INSERT INTO machines_ledger (entry, line, machine) VALUES (:e, :l, :m)"),
                        {"e": entry, "l": line, "m": MACHINE})
        time.sleep(0.002)
    call.db.commit()
    return {"entry": entry, "machine": MACHINE}


@events.method(callbacks=[event_happened])
def queue(rl: Role, call: Call, callback_url: str, batch: str, count: int) -> int:
    """Queue `count` callbacks to the receiver, in this call's transaction."""
    for n in range(count):
        event_happened.send_sync(Event(n=n, machine=MACHINE))
    return count
