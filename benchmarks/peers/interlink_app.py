"""The method on interlink: types in the signature, key auth and errors by the framework."""

from __future__ import annotations

from interlink import ApiServer
from interlink.store import MemoryKeys, Role

from benchmarks.peers import common
from benchmarks.peers.common import User, UserFilter

api = ApiServer(authenticator=MemoryKeys({common.KEY_ID: (common.KEY_SECRET, Role(name="bench"))}), docs=False)
home = api.module("home")


@home.method
async def list_users(rl: Role, filter: UserFilter, usernames: list[str], active: bool) -> list[User]:
    return common.list_users(filter, usernames, active)


app = api
