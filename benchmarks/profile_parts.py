"""The steps of a default-path call, each timed alone (CPU time, best of several rounds).

    python -m benchmarks.profile_parts

Each step gets the same input as in ``benchmarks.profile_call``'s call (the benchmark's form
body, key and result). Timings on a shared machine are inflated by other work: compare steps
with each other, or runs made side by side.
"""

from __future__ import annotations

import asyncio
import time
import timeit
from typing import Any, Callable

from benchmarks.peers import common

NUMBER = 20_000
REPEAT = 7


def steps() -> dict[str, Callable[[], Any]]:
    from interlink.credentials import check_key_secret, hash_key_secret, parse_authorisation
    from interlink.server._access_log import AccessLog
    from interlink.server._body import form_pairs
    from interlink.server._credentials import pop_authorisation
    from interlink.server._pipeline import dumps
    from interlink.server._threads import ThreadPool

    body = common.form_body().encode()
    pairs = form_pairs(body)
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "path": common.PATH, "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 50000)}
    answer = common.expected_answer()
    authorisation = f"{common.KEY_ID}:{common.KEY_SECRET}"
    stored = hash_key_secret(common.KEY_SECRET)
    pool = ThreadPool()
    from interlink.server._method import Method

    from benchmarks.peers.interlink_default import list_users

    method = Method(list_users, "home")
    arguments = [pair for pair in pairs if pair[0] != "authorisation"]
    result = common.list_users(common.UserFilter("b", "w"), list(common.USERNAMES), True)
    loop = asyncio.new_event_loop()

    async def hops() -> None:  # as many in flight as the served benchmark's connections
        await asyncio.gather(*[pool.run(int) for _ in range(32)])

    return {
        "splitting the form body": lambda: form_pairs(body),
        "taking the authorisation field out": lambda: pop_authorisation(list(pairs)),
        "decoding the arguments": lambda: method.arguments.decode_pairs(arguments, None),
        "the method itself": lambda: common.list_users(common.UserFilter("b", "w"), list(common.USERNAMES), True),
        "encoding the result": lambda: method.result.encode(result),
        "reading keyid:secret": lambda: parse_authorisation(authorisation),
        "the key's SHA-256 and compare": lambda: check_key_secret(common.KEY_SECRET, stored),
        "the JSON of the result": lambda: dumps(answer),
        "the access log line": lambda: AccessLog.line(scope, 200, 0.0004),
        "a hop to a worker thread and back (32 at once)": lambda: loop.run_until_complete(hops()),
    }


def measure() -> dict[str, float]:
    """Best seconds per step."""
    found = {}
    for name, step in steps().items():
        per = 32 if "32 at once" in name else 1
        number = NUMBER // per
        # CPU time of the process (all threads): waiting for a core shared with other work is left out
        found[name] = min(timeit.repeat(step, number=number, repeat=REPEAT, timer=time.process_time)) / number / per
    return found


if __name__ == "__main__":
    for name, seconds in measure().items():
        print(f"{seconds * 1e6:8.2f} µs  {name}")
