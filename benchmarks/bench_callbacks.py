"""Callback delivery: deliveries/s through the outbox vs a plain httpx loop posting the same
signed payloads to the same receiver with the same concurrency.

* Receiver: a Starlette app under uvicorn (its own process) that answers every POST with 200.
* Plain loop: one process, an ``httpx.AsyncClient`` and ``CONCURRENCY`` tasks posting the
  messages, each signed (Standard Webhooks headers) as it is sent: the durability-free baseline.
* Outbox: the same messages written to the outbox in one transaction, then delivered by
  ``interlink worker`` processes started beforehand (idle, polling): one on SQLite (the only
  kind SQLite allows) with ``--concurrency CONCURRENCY``, and ``PG_WORKERS`` on PostgreSQL
  sharing the same total concurrency. Timed from the commit until every row is ``delivered``
  (polled every 50 ms), so claiming, signing, recording every attempt and the row updates
  are all inside the figure.

Each configuration runs ``ROUNDS`` times, interleaved; tables show medians.

Fair delivery: ``DRIPPERS`` receivers (as many as a worker's default concurrency) that answer
one byte every 0.5 s, in a process of their own, and the healthy receiver above. Two messages
per dripping receiver are queued, then one to the healthy receiver, for one ``interlink worker``
with its default settings (concurrency 32, deadline 15 s, poll 0.5 s) on a database of its own;
timed from the commit until the healthy message is recorded delivered. First when the worker
has not met the dripping receivers yet, then again once it has.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = int(os.environ.get("BENCH_CALLBACK_MESSAGES", "2000"))
CONCURRENCY = 32
PG_WORKERS = 2
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
POSTGRES_URL = os.environ.get("INTERLINK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PAYLOAD = '{"description":"Invoice paid","paid":true,"invoice":"2expen51ve"}'

RECEIVER = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def receive(request):
    await request.body()
    return Response(b'{"ok":true}', media_type="application/json")

app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
"""

DRIPPERS = 32
DRIPPER = """
import asyncio, sys

async def drip(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.1 200 OK\\r\\nX-Slow: ")
        while True:
            await asyncio.sleep(0.5)
            writer.write(b"a")
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()

async def main(count):
    servers = [await asyncio.start_server(drip, "127.0.0.1", 0) for _ in range(count)]
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    await asyncio.Event().wait()

asyncio.run(main(int(sys.argv[1])))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, seconds: float = 20) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.post(url, content=b"{}", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


async def _plain(url: str, secret: str) -> float:
    import httpx

    from interlink.callbacks import signature_headers
    from interlink.callbacks._signing import new_message_id

    body = PAYLOAD.encode()
    queue = list(range(MESSAGES))
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=15, follow_redirects=False, trust_env=False, limits=limits) as client:

        async def task() -> None:
            while queue:
                n = queue.pop()
                headers = {"content-type": "application/json", **signature_headers(new_message_id(), body, [secret])}
                response = await client.post(f"{url}/hook/{n}", content=body, headers=headers)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(CONCURRENCY)))
        return MESSAGES / (time.perf_counter() - started)


def _outbox(database: object, url: str) -> float:
    from sqlalchemy import func, select

    from interlink.callbacks import OutboxMessage
    from interlink.callbacks._outbox import enqueue_callback

    with database.session() as session:  # type: ignore[attr-defined]
        for n in range(MESSAGES):
            enqueue_callback(session, f"{url}/hook/{n}", PAYLOAD, signer="bench")
    started = time.perf_counter()
    deadline = started + 300
    while True:
        with database.session() as session:  # type: ignore[attr-defined]
            left = session.scalar(select(func.count()).where(OutboxMessage.state != "delivered"))
        if not left:
            return MESSAGES / (time.perf_counter() - started)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{left} messages not delivered")
        time.sleep(0.05)


def _drip_latency(database: object, healthy: str, drippers: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds until the healthy receiver's message is delivered, queued behind two messages
    to each dripping receiver: when the worker meets them first, and once it knows them."""
    from sqlalchemy import select

    from interlink.callbacks import OutboxMessage
    from interlink.callbacks._outbox import enqueue_callback

    command = [str(Path(sys.executable).parent / "interlink"), "--database", database.url, "worker"]  # type: ignore[attr-defined]
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)  # started and idle
        out = []
        for round_ in range(2):
            with database.session() as session:  # type: ignore[attr-defined]
                for n, url in enumerate(drippers):
                    for m in range(2):
                        enqueue_callback(session, f"{url}/drip/{round_}/{n}/{m}", PAYLOAD, signer="bench")
                message_id = enqueue_callback(session, f"{healthy}/healthy/{round_}", PAYLOAD, signer="bench").message_id
            started = time.perf_counter()
            while True:
                with database.session() as session:  # type: ignore[attr-defined]
                    state = session.scalar(select(OutboxMessage.state).where(OutboxMessage.message_id == message_id))
                if state == "delivered":
                    out.append(time.perf_counter() - started)
                    break
                if time.perf_counter() - started > 120:
                    out.append(float("inf"))
                    break
                time.sleep(0.05)
        return out[0], out[1]
    finally:
        worker.kill()  # its attempts in flight would run to their deadline first
        worker.wait(10)


def _workers(url: str, count: int, concurrency: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    command = [str(Path(sys.executable).parent / "interlink"), "--database", url, "worker",
               "--concurrency", str(concurrency), "--poll", "0.05"]
    return [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]


def _postgres(name: str) -> str | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception:
        return None
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run() -> str:
    from cryptography.fernet import Fernet

    from interlink.callbacks import new_secret
    from interlink.store import Database

    tmp = Path(tempfile.mkdtemp(prefix="bench-callbacks-"))
    (tmp / "bench_receiver.py").write_text(RECEIVER)
    port = _free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_receiver:app", "--port", str(port), "--log-level", "warning",
         "--no-access-log"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INTERLINK_SECRET_KEY": Fernet.generate_key().decode(),
           "INTERLINK_CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    os.environ.update({k: env[k] for k in ("INTERLINK_SECRET_KEY", "INTERLINK_CALLBACK_ALLOWED_NETWORKS")})
    processes: list[subprocess.Popen[bytes]] = []
    pg_name = f"interlink_bench_callbacks_{os.getpid()}"
    results: dict[str, list[float]] = {"plain": [], "sqlite": [], "postgres": []}
    dripping: dict[str, tuple[float, float]] = {}
    try:
        _wait_http(url + "/warm")
        sqlite = Database(f"sqlite:///{tmp / 'outbox.db'}")
        sqlite.migrate()
        processes += _workers(sqlite.url, 1, CONCURRENCY, env)
        pg_url = _postgres(pg_name)
        postgres = None
        if pg_url is not None:
            postgres = Database(pg_url)
            postgres.migrate()
            processes += _workers(pg_url, PG_WORKERS, CONCURRENCY // PG_WORKERS, env)
        time.sleep(2)  # workers started and idle
        secret = new_secret()
        asyncio.run(_plain(url, secret))  # warm-up: connections, imports
        for _ in range(ROUNDS):
            results["plain"].append(asyncio.run(_plain(url, secret)))
            results["sqlite"].append(_outbox(sqlite, url))
            if postgres is not None:
                results["postgres"].append(_outbox(postgres, url))
        for process in processes:
            process.terminate()
        dripper = subprocess.Popen([sys.executable, "-c", DRIPPER, str(DRIPPERS)], stdout=subprocess.PIPE)
        processes.append(dripper)
        assert dripper.stdout is not None
        drippers = [f"http://127.0.0.1:{port}" for port in dripper.stdout.readline().decode().split()]
        drip_sqlite = Database(f"sqlite:///{tmp / 'dripping.db'}")
        drip_sqlite.migrate()
        dripping["SQLite"] = _drip_latency(drip_sqlite, url, drippers, env)
        if pg_url is not None:
            drip_pg_url = _postgres(pg_name + "_drip")
            if drip_pg_url is not None:
                drip_pg = Database(drip_pg_url)
                drip_pg.migrate()
                dripping["PostgreSQL"] = _drip_latency(drip_pg, url, drippers, env)
                drip_pg.dispose()
                _drop_postgres(pg_name + "_drip")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        receiver.terminate()
        receiver.wait(10)
        if results["postgres"] or pg_name:
            try:
                _drop_postgres(pg_name)
            except Exception:
                pass

    plain = statistics.median(results["plain"])
    rows = [f"| plain `httpx.AsyncClient` loop, {CONCURRENCY} tasks (no outbox) | {plain:,.0f} | 100% |"]
    sqlite_rate = statistics.median(results["sqlite"])
    rows.append(f"| outbox on SQLite, 1 `interlink worker` (concurrency {CONCURRENCY}) | {sqlite_rate:,.0f} | {sqlite_rate / plain:.0%} |")
    if results["postgres"]:
        pg_rate = statistics.median(results["postgres"])
        rows.append(f"| outbox on PostgreSQL, {PG_WORKERS} `interlink worker`s (concurrency {CONCURRENCY // PG_WORKERS} each) "
                    f"| {pg_rate:,.0f} | {pg_rate / plain:.0%} |")
    else:
        rows.append("| outbox on PostgreSQL | not measured: no server answered | |")
    drip_rows = [f"| {name}, receivers not met yet | {first:.1f} s |\n| {name}, receivers known to drip | {known:.2f} s |"
                 for name, (first, known) in dripping.items()]
    return (
        "## Callback delivery\n\n"
        f"{MESSAGES} signed messages to a loopback receiver (uvicorn, answers 200), median of {ROUNDS} interleaved rounds; "
        "outbox figures run from the commit of the queued rows until the last is recorded delivered.\n\n"
        "| path | deliveries/s | of the plain loop |\n| --- | ---: | ---: |\n" + "\n".join(rows) + "\n\n"
        "What limits it: each process spends its time in httpx's per-request work (the plain loop as much "
        "as the worker) and shares the machine's cores with the receiver. The worker claims and records "
        "with Core SQL in batches, in a thread, so the database's share of the GIL is small; one SQLite "
        "worker is one process like the plain loop, while two PostgreSQL workers are two processes and "
        "can pass the single-process loop.\n\n"
        f"Healthy receiver's latency while {DRIPPERS} receivers drip (one byte every 0.5 s): one `interlink worker` "
        f"with its default settings (concurrency 32, deadline 15 s, poll 0.5 s), two messages per dripping receiver "
        "queued before the healthy one; from the commit until it is recorded delivered.\n\n"
        "| database, dripping receivers | healthy message delivered after |\n| --- | ---: |\n" + "\n".join(drip_rows) + "\n\n"
        "The first time, each dripping receiver gets one slot (a receiver not met yet has one until it answers) and "
        "they fill the worker until the deadline; then they are slow, claimed after every other receiver and held to "
        "half the slots, so the healthy message goes out at once.\n"
    )


if __name__ == "__main__":
    print(run())
