"""The default path's cost per call inside one process, through its ASGI interface (no sockets).

The app is what ``interlink serve`` runs by default: a plain ``def`` method, a key in the store
(an SQLite file) sent as the ``authorisation`` field, and ``AccessLog`` around the ``ApiServer``
writing to a file. ``IN_FLIGHT`` calls run at once on uvloop, as a served benchmark keeps them.

    python -m benchmarks.profile_call                 CPU time per call (all threads), best round
    python -m benchmarks.profile_call --valgrind      instructions per call (valgrind, deterministic
                                                      up to the threads' interleaving)
    python -m benchmarks.profile_call --calls N       N calls after the warm-up, then exit (what
                                                      --valgrind runs; for callgrind_annotate)

``--valgrind`` runs this script twice under callgrind, with no calls and with ``CALLS`` calls
after the same warm-up, and divides the difference: start-up and imports cancel out. Add
``--async`` to any of them for the ``async def`` variant (no thread hop), ``--memory`` for
in-memory keys, ``--no-log`` without the access log, ``--ceiling`` for the raw ASGI app of the
served benchmark's ceiling (what this harness and uvloop cost on their own).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from benchmarks.peers import common

IN_FLIGHT = 32
WARMUP = 2000
CALLS = 4000
ROUNDS = 10


def _app(database_url: str, log_file: Any, variant: set[str]) -> Any:
    from interlink import ApiServer
    from interlink.server import AccessLog
    from interlink.server._access_log import BufferedLines
    from interlink.store import MemoryKeys, Role

    from benchmarks.peers.interlink_default import list_users, list_users_async

    if "ceiling" in variant:
        from benchmarks.peers.ceiling_app import app

        return app
    if "memory" in variant:
        api = ApiServer(authenticator=MemoryKeys({common.KEY_ID: (common.KEY_SECRET, Role(name="bench"))}), docs=False)
    else:
        api = ApiServer(database=database_url, docs=False)
    api.method(module="home", name="list_users")(list_users_async if "async" in variant else list_users)
    return api if "no-log" in variant else AccessLog(api, BufferedLines(log_file))


def _caller(app: Any, key_id: str, secret: str) -> Callable[[int], Awaitable[None]]:
    body = common.form_body(secret, key_id).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": common.PATH, "raw_path": common.PATH.encode(),
        "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    expected = common.expected_answer()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def one() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        return sent

    async def calls(n: int) -> None:
        import json

        done = 0
        while done < n:
            batch = min(IN_FLIGHT, n - done)
            answers = await asyncio.gather(*[one() for _ in range(batch)])
            done += batch
        if n and (answers[0][0]["status"] != 200 or json.loads(answers[0][1]["body"]) != expected):
            raise RuntimeError(f"the in-process call answered {answers[0][0]['status']}: {answers[0][1]['body']!r}")

    return calls


def _run(main: Callable[[], Awaitable[Any]]) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(main())
    return uvloop.run(main())


def _setup(tmp: str, variant: set[str]) -> tuple[Callable[[int], Awaitable[None]], Any]:
    from benchmarks.bench_server import create_store_key

    url = f"sqlite:///{Path(tmp) / 'keys.db'}"
    key = (common.KEY_ID, common.KEY_SECRET) if "memory" in variant else create_store_key(url)
    log_file = open(Path(tmp) / "access.log", "w")  # noqa: SIM115
    app = _app(url, log_file, variant)
    return _caller(app, *key), app


async def _lifespan(app: Any) -> None:
    """What uvicorn does first: the lifespan's start-up (setup, the garbage collector tuned)."""
    messages = [{"type": "lifespan.startup"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # never: the lifespan stays up
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.get_running_loop().create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    while not sent:
        await asyncio.sleep(0.001)
    if sent[0]["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {sent[0]}")


def calls_only(n: int, variant: set[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        calls, app = _setup(tmp, variant)

        async def main() -> None:
            await _lifespan(app)
            await calls(WARMUP)
            await calls(n)

        _run(main)


def cpu_per_call(variant: set[str]) -> float:
    """Best CPU seconds (all threads of the process) per call over ``ROUNDS`` rounds."""
    with tempfile.TemporaryDirectory() as tmp:
        calls, app = _setup(tmp, variant)

        async def main() -> float:
            await _lifespan(app)
            await calls(WARMUP)
            best = float("inf")
            for _ in range(ROUNDS):
                start = time.process_time()
                await calls(CALLS)
                best = min(best, (time.process_time() - start) / CALLS)
            return best

        result: float = _run(main)
        return result


def _instructions(n: int, flags: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
             "benchmarks.profile_call", "--calls", str(n), *flags],
            check=True, capture_output=True,
        )
        found = re.search(r"^summary: (\d+)", out.read_text(errors="replace"), re.M)
        if found is None:
            raise RuntimeError("no summary in callgrind's output")
        return int(found.group(1))


def instructions_per_call(flags: list[str]) -> float:
    return (_instructions(CALLS, flags) - _instructions(0, flags)) / CALLS


if __name__ == "__main__":
    arguments = sys.argv[1:]
    chosen = {name.removeprefix("--") for name in arguments
              if name in ("--async", "--memory", "--no-log", "--ceiling")}
    flags = [f"--{name}" for name in sorted(chosen)]
    if "--calls" in arguments:
        calls_only(int(arguments[arguments.index("--calls") + 1]), chosen)
    elif "--valgrind" in arguments:
        print(f"{instructions_per_call(flags):,.0f} instructions per call {' '.join(flags)}")
    else:
        print(f"{cpu_per_call(chosen) * 1e6:.1f} µs of CPU per call {' '.join(flags)}")
