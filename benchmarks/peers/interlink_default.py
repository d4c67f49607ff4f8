"""The method as a user writes it first: a plain ``def``, keys in the store, served by
``interlink serve`` (the bench passes ``--database`` and creates the key with the store API).

Two variants change one thing each, so the bench can say what each choice costs:
``api_async`` has the same method as ``async def``; ``api_memory_keys`` checks the same key
against an in-memory dict (``MemoryKeys``) instead of the store.
"""

from __future__ import annotations

from interlink import ApiServer
from interlink.store import MemoryKeys, Role

from benchmarks.peers import common
from benchmarks.peers.common import User, UserFilter

api = ApiServer(docs=False)  # no authenticator: keys are checked against the store's database


@api.method(module="home")
def list_users(rl: Role, filter: UserFilter, usernames: list[str], active: bool) -> list[User]:
    return common.list_users(filter, usernames, active)


api_async = ApiServer(docs=False)


@api_async.method(module="home", name="list_users")
async def list_users_async(rl: Role, filter: UserFilter, usernames: list[str], active: bool) -> list[User]:
    return common.list_users(filter, usernames, active)


api_memory_keys = ApiServer(
    authenticator=MemoryKeys({common.KEY_ID: (common.KEY_SECRET, Role(name="bench"))}), docs=False
)
api_memory_keys.method(module="home")(list_users)
