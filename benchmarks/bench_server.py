"""Server throughput: the ``home.list_users``-like call, the way users run it and at best.

The headline is the *default path* each framework's user gets without tuning:

* interlink: ``interlink serve`` (the real CLI, in a subprocess) with a plain ``def`` method,
  the key created with the store API in an SQLite file, the access log on;
* FastAPI: ``uvicorn module:app`` with a ``def`` endpoint, uvicorn's access log on.

Above them, the ceiling: a raw ASGI app on the same uvicorn (uvloop, httptools) that reads the
body and sends the same JSON with no parsing or checks; the default path is reported as a share
of its rate. Beside it, the best case (an ``async def`` method, keys in an in-memory dict, no
access log, uvicorn started by hand) for interlink, FastAPI and plain Starlette; then what each of
interlink's defaults costs, one change at a time (store keys vs in-memory keys, access log on
vs off, ``def`` vs ``async def``); then 200 concurrent connections for 30 s.

Every server is one process pinned to core 0 (``taskset``); wrk runs pinned to core 1 with one
thread and 32 connections, POSTing the same urlencoded form (each peer's own key). Before
measuring, every peer must answer the call with 200 and the same JSON, and a wrong key with
401, so they all do the same job (the ceiling only the first: it checks nothing). All servers run side by side and are measured in interleaved
rounds (each round visits every server once), so drift on the machine hits them alike; tables
show each server's median round, and ratios are the median of the per-round ratios.

``python -m benchmarks.bench_server --profile [PEER]`` instead records one server (default:
the interlink default path) under the same load with py-spy and prints where its time goes
(see docs/performance.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from benchmarks import key_check, telemetry_check
from benchmarks.peers import common

ROOT = Path(__file__).resolve().parent.parent
# Modules for `serve()` (uvicorn by hand, no access log); bench_client uses the interlink one.
PEERS = {"interlink": "interlink_app", "FastAPI": "fastapi_app", "Starlette": "starlette_app"}
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
WARMUP = int(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 32
MANY_CONNECTIONS = 200
MANY_SECONDS = int(os.environ.get("BENCH_MANY_SECONDS", "30"))
# "No timeouts" is a claim about every run, not a lucky one: each server gets this many.
MANY_RUNS = int(os.environ.get("BENCH_MANY_RUNS", "3"))
MANY_TIMEOUT = "2s"  # wrk's default: an answer slower than this counts as a timeout
LOAD_BEFORE = "?"  # 1-minute load average before the run: other work on the machine skews results

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d "
    .. "connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
"""

RESULT = re.compile(
    r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) max_us=(\d+) non2xx=(\d+) "
    r"connect=(\d+) read=(\d+) write=(\d+) timeout=(\d+)"
)


@dataclass
class Round:
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float = 0.0
    cpu_us: float = 0.0  # server CPU time (all threads, user + system) per request
    non2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0


@dataclass
class Peer:
    """One server: how to start it on a port, and the key its callers send."""

    name: str
    command: Callable[[int], list[str]]
    store: bool = False  # keys in the bench's SQLite file (INTERLINK_DATABASE_URL)
    checks_key: bool = True  # answers 401 to a wrong key (all but the ceiling)
    key: tuple[str, str] = (common.KEY_ID, common.KEY_SECRET)
    url: str = ""
    pid: int = 0
    rounds: list[Round] = field(default_factory=list)


def _uvicorn(target: str, *extra: str) -> Callable[[int], list[str]]:
    return lambda port: [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), *extra,
    ]


# uvicorn as the existing best-case bench starts it: uvloop, httptools, no access log.
TUNED = ("--workers", "1", "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log")


def _interlink_serve(target: str, *extra: str) -> Callable[[int], list[str]]:
    cli = str(Path(sys.executable).parent / "interlink")
    return lambda port: [cli, "serve", target, "--host", "127.0.0.1", "--port", str(port), *extra]


DEFAULT = "interlink default"
FASTAPI_DEFAULT = "FastAPI default"
BEST = "interlink best case"
MEMORY_KEYS = "in-memory keys"
NO_ACCESS_LOG = "access log off"
ASYNC = "async def"
STARLETTE_BEST = "Starlette best case"
CEILING = "ceiling (raw ASGI)"
TRACING = "tracing on"
METRICS = "metrics on"
# The two default paths, and plain Starlette as a control: a timeout it shares is the machine's
# or uvicorn's under overload, not interlink's.
MANY_PEERS = (DEFAULT, FASTAPI_DEFAULT, STARLETTE_BEST)


def all_peers() -> list[Peer]:
    """In measuring order; each variant of the default path changes one thing."""
    target = "benchmarks.peers.interlink_default"
    return [
        Peer(DEFAULT, _interlink_serve(f"{target}:api"), store=True),
        Peer(CEILING, _uvicorn("benchmarks.peers.ceiling_app:app", *TUNED), checks_key=False),
        Peer(FASTAPI_DEFAULT, _uvicorn("benchmarks.peers.fastapi_app:default_app")),
        Peer(MEMORY_KEYS, _interlink_serve(f"{target}:api_memory_keys")),
        Peer(NO_ACCESS_LOG, _interlink_serve(f"{target}:api", "--no-access-log"), store=True),
        Peer(ASYNC, _interlink_serve(f"{target}:api_async"), store=True),
        Peer(TRACING, _interlink_serve("benchmarks.peers.interlink_telemetry:api_traced"), store=True),
        Peer(METRICS, _interlink_serve("benchmarks.peers.interlink_telemetry:api_metrics"), store=True),
        Peer(BEST, _uvicorn("benchmarks.peers.interlink_app:app", *TUNED)),
        Peer("FastAPI best case", _uvicorn("benchmarks.peers.fastapi_app:app", *TUNED)),
        Peer(STARLETTE_BEST, _uvicorn("benchmarks.peers.starlette_app:app", *TUNED)),
    ]


def _two_cores() -> bool:
    return len(os.sched_getaffinity(0)) >= 2 and shutil.which("taskset") is not None


def _pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if _two_cores() else argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def start(name: str, command: Callable[[int], list[str]], env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """One server process on core 0; yields its URL and pid (taskset execs the server, so the
    pid is the server's). Its output (the access log) goes to a temporary file, as to a log file."""
    port = _free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        _pinned(0, command(port)), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{name} exited: {log.read().decode(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start listening in 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def serve(module: str) -> contextlib.AbstractContextManager[tuple[str, int]]:
    """``benchmarks.peers.<module>:app`` under uvicorn, tuned and without access log."""
    return start(module, _uvicorn(f"benchmarks.peers.{module}:app", *TUNED))


def create_store_key(url: str) -> tuple[str, str]:
    """A user, role and key in a fresh database, with the store API; the key's id and secret."""
    from interlink.store import Database, create_key, create_role, create_user

    database = Database(url)
    database.migrate()
    with database.session() as session:
        role = create_role(session, create_user(session, "bench"), "bench")
        key, secret = create_key(session, role)
        key_id = key.key_id
        session.commit()
    database.engine.dispose()
    return key_id, secret.decode()


def post(url: str, body: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + common.PATH, data=body.encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check_equivalent(peers: list[Peer]) -> list[dict]:
    """Every peer: the call gives 200 and the same JSON; a wrong key gives 401."""
    expected = common.expected_answer()
    for peer in peers:
        key_id, secret = peer.key
        status, body = post(peer.url, common.form_body(secret, key_id))
        if status != 200:
            raise RuntimeError(f"{peer.name} answered {status}: {body[:300]!r}")
        if json.loads(body) != expected:
            raise RuntimeError(f"{peer.name} answers {body[:300]!r}, expected {expected!r}")
        if not peer.checks_key:
            continue
        status, body = post(peer.url, common.form_body("x" * 40, key_id))
        if status != 401:
            raise RuntimeError(f"{peer.name} answered {status}, not 401, to a wrong key: {body[:300]!r}")
    return expected


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path, seconds: int, connections: int = CONNECTIONS, strict: bool = True,
        pid: int = 0) -> Round:
    cpu_before = cpu_seconds(pid) if pid else 0.0
    argv = _pinned(1, [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
        "--timeout", MANY_TIMEOUT if connections == MANY_CONNECTIONS else "5s",
        "-s", str(script), url + common.PATH,
    ])
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    match = RESULT.search(out)
    if match is None:
        raise RuntimeError(f"no RESULT line from wrk:\n{out}")
    requests, duration_us, p50_us, p99_us, max_us, non2xx, connect, read, write, timeout = map(int, match.groups())
    result = Round(
        requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000, max_ms=max_us / 1000,
        cpu_us=1e6 * cpu / max(requests, 1), non2xx=non2xx, socket_errors=connect + read + write,
        timeouts=timeout,
    )
    if strict and (non2xx or result.socket_errors or timeout):
        raise RuntimeError(f"wrk saw {non2xx} non-2xx answers, {result.socket_errors} socket errors and "
                           f"{timeout} timeouts against {url}")
    return result


def alternate_rounds(peers: list[Peer], scripts: dict[str, Path]) -> None:
    """``ROUNDS`` rounds of wrk against every peer, each appended to ``peer.rounds``. Each round
    starts with the next server: no server always runs first (or right after the same
    neighbour), so a drift of the machine within a round is spread."""
    for number in range(ROUNDS):
        shift = number % len(peers)
        for peer in peers[shift:] + peers[:shift]:
            wrk(peer.url, scripts[peer.name], WARMUP)
            result = wrk(peer.url, scripts[peer.name], DURATION, pid=peer.pid)
            print(f"round {number + 1} {peer.name}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms, "
                  f"{result.cpu_us:.0f} µs CPU per request", flush=True)
            peer.rounds.append(result)


@contextlib.contextmanager
def lua_scripts(peers: list[Peer]) -> Iterator[dict[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {}
        for number, peer in enumerate(peers):
            script = Path(tmp) / f"post{number}.lua"
            key_id, secret = peer.key
            script.write_text(LUA.format(body=json.dumps(common.form_body(secret, key_id))))
            scripts[peer.name] = script
        yield scripts


def _load() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0]
    return "?"


@contextlib.contextmanager
def running(peers: list[Peer]) -> Iterator[dict[str, Path]]:
    """Every peer started (store peers on one fresh SQLite file with one key) and checked."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run `make system-deps` (Debian package wrk)")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        database_url = f"sqlite:///{tmp}/bench.db"
        store_key = create_store_key(database_url)
        for peer in peers:
            env = None
            if peer.store:
                peer.key = store_key
                env = {"INTERLINK_DATABASE_URL": database_url}
            peer.url, peer.pid = stack.enter_context(start(peer.name, peer.command, env))
        check_equivalent(peers)
        yield stack.enter_context(lua_scripts(peers))


@dataclass
class Results:
    peers: dict[str, Peer]
    many: dict[str, list[Round]]  # the 200-connection runs of each server, in order
    keys: dict[str, float] = field(default_factory=dict)  # benchmarks/key_check.py, seconds per call
    telemetry: dict[str, float] = field(default_factory=dict)  # benchmarks/telemetry_check.py, the same


def measure(names: list[str] | None = None) -> Results:
    global LOAD_BEFORE
    LOAD_BEFORE = _load()
    peers = [p for p in all_peers() if names is None or p.name in names]
    many: dict[str, list[Round]] = {}
    with running(peers) as scripts:
        alternate_rounds(peers, scripts)
        crowded = [p for p in peers if p.name in MANY_PEERS] if MANY_SECONDS > 0 else []
        for number in range(MANY_RUNS if crowded else 0):
            shift = number % len(crowded)
            for peer in crowded[shift:] + crowded[:shift]:
                wrk(peer.url, scripts[peer.name], WARMUP, MANY_CONNECTIONS, strict=False)
                result = wrk(peer.url, scripts[peer.name], MANY_SECONDS, MANY_CONNECTIONS, strict=False)
                print(f"{MANY_CONNECTIONS} connections, run {number + 1} {peer.name}: {result.rps:,.0f} req/s, "
                      f"p99 {result.p99_ms:.2f} ms, {result.timeouts} timeouts", flush=True)
                many.setdefault(peer.name, []).append(result)
    keys = key_check.in_process(create_store_key) if names is None or DEFAULT in names else {}
    telemetry = telemetry_check.in_process() if names is None or TRACING in names or METRICS in names else {}
    return Results({p.name: p for p in peers}, many, keys, telemetry)


def median_round(results: list[Round]) -> Round:
    return sorted(results, key=lambda r: r.rps)[len(results) // 2]


def ratio(results: Results, a: str, b: str) -> float:
    """Median over rounds of a's requests/s ÷ b's in the same round."""
    pairs = zip(results.peers[a].rounds, results.peers[b].rounds)
    return statistics.median(x.rps / y.rps for x, y in pairs)


def cpu_ratio(results: Results, a: str, b: str) -> float:
    """The same ratio from server CPU time per request (b's ÷ a's, per round, median): what
    a's requests/s ÷ b's would be if each had the core to itself."""
    pairs = zip(results.peers[a].rounds, results.peers[b].rounds)
    return statistics.median(y.cpu_us / x.cpu_us for x, y in pairs if x.cpu_us and y.cpu_us)


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else "wrk"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def report(results: Results) -> str:
    peers = results.peers
    best = {name: median_round(peer.rounds) for name, peer in peers.items()}
    default = best[DEFAULT]
    lines = [
        "## Server: a `home.list_users`-like call",
        "",
        "`POST /api/home/list_users` with an urlencoded form: a dataclass filter "
        "(`filter.name_gt`, `filter.name_lt`), 8 bare repeated `usernames`, a bool `active` and "
        "`authorisation=keyid:secret`. The servers are in `benchmarks/peers/`: interlink "
        "(`@home.method` with typed parameters), FastAPI (a pydantic model read with `Form()`, key "
        "checked in a dependency against a dict with SHA-256 and a constant-time compare, "
        "`response_model`), plain Starlette (`request.form()` and hand-written checks). Before "
        "measuring, each must answer 200 with the same JSON and 401 to a wrong key.",
        "",
        "### The default path",
        "",
        "What a user gets without tuning. **interlink default**: `interlink serve` (the CLI, "
        "uvicorn underneath) with a plain `def` method, the key created with the store API in an "
        "SQLite file, the access log on. **FastAPI default**: `uvicorn module:app` with a `def` "
        "endpoint and uvicorn's access log on. The best cases (an `async def` method, keys in an "
        "in-memory dict, no access log, uvicorn started with `--no-access-log`) are beside them, "
        "labelled. **ceiling (raw ASGI)** is `benchmarks/peers/ceiling_app.py` on the same uvicorn "
        "(uvloop, httptools): it reads the body and sends the same JSON bytes, parsing and checking "
        "nothing — no server doing the job can be faster, so the default path's share of its rate "
        "is the share of a call that is uvicorn's and the kernel's rather than interlink's.",
        "",
        "| server | requests/s | p50 latency | p99 latency | server CPU per request | interlink default ÷ this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in [CEILING, DEFAULT, FASTAPI_DEFAULT, BEST, "FastAPI best case", STARLETTE_BEST]:
        if name not in best:
            continue
        r = best[name]
        shown = f"**{name}**" if name in (DEFAULT, FASTAPI_DEFAULT) else name
        lines.append(f"| {shown} | {r.rps:,.0f} | {r.p50_ms:.2f} ms | {r.p99_ms:.2f} ms | {r.cpu_us:.0f} µs | "
                     f"{ratio(results, DEFAULT, name):.2f}× |")

    lines += [
        "",
        "### What each default costs",
        "",
        "The interlink default path with one thing changed, measured in the same rounds.",
        "",
        "| interlink default, but … | requests/s | p99 latency | server CPU per request | default ÷ this "
        "(by requests/s) | default ÷ this (by CPU time) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| (nothing: the default path) | {default.rps:,.0f} | {default.p99_ms:.2f} ms | {default.cpu_us:.0f} µs "
        "| 1.00× | 1.00× |",
    ]
    descriptions = {
        MEMORY_KEYS: "keys in an in-memory dict (`MemoryKeys`) instead of the store",
        NO_ACCESS_LOG: "`interlink serve --no-access-log`",
        ASYNC: "the method is `async def`",
        TRACING: "tracing on (`Telemetry(api)`, a span per call, batched; the exporter drops them)",
        METRICS: "metrics on (`Telemetry(api, tracing=False, metrics=True)`)",
    }
    for name, text in descriptions.items():
        if name in best:
            r = best[name]
            lines.append(f"| {text} | {r.rps:,.0f} | {r.p99_ms:.2f} ms | {r.cpu_us:.0f} µs | "
                         f"{ratio(results, DEFAULT, name):.2f}× | {cpu_ratio(results, DEFAULT, name):.2f}× |")

    goals = []

    def goal(text: str, a: str, b: str, passes: Callable[[float], bool], show: Callable[[float], str]) -> None:
        if a in peers and b in peers:
            by_rps, by_cpu = ratio(results, a, b), cpu_ratio(results, a, b)
            goals.append(f"{text}: by requests/s {_met(passes(by_rps))} ({show(by_rps)}); by server CPU "
                         f"time per request {_met(passes(by_cpu))} ({show(by_cpu)})")

    goal("default path ≥ 50 % of the ceiling (a raw ASGI app on the same uvicorn)", DEFAULT, CEILING,
         lambda x: x >= 0.5, lambda x: f"{100 * x:.0f} %")
    goal("default path ≥ 2× FastAPI's default path", DEFAULT, FASTAPI_DEFAULT, lambda x: x >= 2, lambda x: f"{x:.2f}×")
    goal("store-backed keys within 5 % of in-memory keys", DEFAULT, MEMORY_KEYS, lambda x: x >= 0.95,
         lambda x: f"{100 * (1 - x):+.1f} %")
    if results.keys:
        k = results.keys
        in_process = k["memory"] / k["store"]
        lines += [
            "",
            "Store keys against in-memory keys once more, inside one process "
            "(`benchmarks/key_check.py`), where machine drift between wrk rounds cannot reach the "
            "comparison: both servers called through ASGI in alternating rounds, an `async def` "
            "method, the best round of each.",
            "",
            "| keys | one whole call | the key check alone |",
            "|---|---:|---:|",
            f"| in the store (`KeyAuthenticator`, 2 s cache) | {k['store'] * 1e6:.1f} µs | {k['store check'] * 1e6:.2f} µs |",
            f"| in memory (`MemoryKeys`) | {k['memory'] * 1e6:.1f} µs | {k['memory check'] * 1e6:.2f} µs |",
        ]
        goals.append(f"store-backed keys within 5 % of in-memory keys, in one process: "
                     f"{_met(in_process >= 0.95)} ({100 * (1 - in_process):+.1f} %)")
    goal("the access log costs < 10 %", DEFAULT, NO_ACCESS_LOG, lambda x: x > 0.90, lambda x: f"{100 * (1 - x):+.1f} %")
    if results.keys.get("logged") and DEFAULT in best:
        k = results.keys
        extra_us = (k["logged"] - k["store"]) * 1e6
        served_us = best[DEFAULT].cpu_us
        lines += [
            "",
            "The access log once more, inside one process: the same store-key server called through "
            "ASGI with and without `AccessLog` (as `interlink serve` wraps it, writing to a file), "
            "alternating rounds, the best round of each. An ASGI call leaves out the HTTP server's "
            "own work, so its cost is also shown against the default path's server CPU time per "
            "request under wrk.",
            "",
            "| | one whole ASGI call | the access log's share |",
            "|---|---:|---:|",
            f"| without the access log | {k['store'] * 1e6:.1f} µs | — |",
            f"| with the access log | {k['logged'] * 1e6:.1f} µs | {extra_us:+.1f} µs: "
            f"{extra_us / (k['store'] * 1e6):+.1%} of the ASGI call, {extra_us / served_us:+.1%} of the "
            f"{served_us:.0f} µs a served request costs |",
        ]
        goals.append(f"the access log costs < 10 % of a served request, in one process: "
                     f"{_met(extra_us / served_us < 0.10)} ({extra_us / served_us:+.1%})")
    goal("a `def` method within 25 % of `async def`", DEFAULT, ASYNC, lambda x: x >= 0.75,
         lambda x: f"{100 * (1 - x):+.1f} %")
    # Telemetry costs, so the variant is the slower one: its rate against the default path's.
    goal("metrics on within 5 % of the default path", METRICS, DEFAULT, lambda x: x >= 0.95,
         lambda x: f"{100 * (1 - x):+.1f} %")
    if TRACING in best and DEFAULT in best:
        # No goal: a span per call has a price, stated per call (tracing off is the default path).
        goals.append(f"tracing on costs {best[TRACING].cpu_us - default.cpu_us:+.0f} µs of server CPU per call "
                     f"(+{100 * (cpu_ratio(results, DEFAULT, TRACING) - 1):.0f} % CPU time per request; "
                     f"requests/s {100 * (1 / ratio(results, DEFAULT, TRACING) - 1):+.0f} %)")
    if results.telemetry:
        t = results.telemetry
        traced_us, metrics_us = (t["traced"] - t["plain"]) * 1e6, (t["metrics"] - t["plain"]) * 1e6
        lines += [
            "",
            "Telemetry once more, inside one process (`benchmarks/telemetry_check.py`): one server "
            "(in-memory keys, an `async def` method) built three times and called through ASGI in "
            "alternating rounds, the best round of each. Tracing off — the otel extra installed, "
            "nothing configured — is the server as it is: `Telemetry` is not attached.",
            "",
            "| | one whole ASGI call | telemetry's share |",
            "|---|---:|---:|",
            f"| tracing off | {t['plain'] * 1e6:.1f} µs | — |",
            f"| tracing on (a span per call, batched) | {t['traced'] * 1e6:.1f} µs | {traced_us:+.1f} µs a call |",
            f"| metrics on | {t['metrics'] * 1e6:.1f} µs | {metrics_us:+.1f} µs a call |",
        ]
        if DEFAULT in best:
            served_us = best[DEFAULT].cpu_us
            goals.append(f"metrics on within 5 % of a served request, in one process: "
                         f"{_met(metrics_us / served_us < 0.05)} ({metrics_us / served_us:+.1%} of the "
                         f"{served_us:.0f} µs a served request costs)")
            goals.append(f"tracing on costs {traced_us:.0f} µs a call in one process "
                         f"({traced_us / served_us:+.0%} of a served request)")
    goal("best case ≥ 2× FastAPI's best case", BEST, "FastAPI best case", lambda x: x >= 2, lambda x: f"{x:.2f}×")
    goal("best case at least level with plain Starlette (≥ 0.95×)", BEST, STARLETTE_BEST, lambda x: x >= 0.95,
         lambda x: f"{x:.2f}×")

    if results.many:
        lines += [
            "",
            f"### {MANY_CONNECTIONS} concurrent connections for {MANY_SECONDS} s",
            "",
            f"The two default paths under `wrk -t1 -c{MANY_CONNECTIONS} -d{MANY_SECONDS}s --timeout "
            f"{MANY_TIMEOUT}` (after a {WARMUP} s warm-up), {MANY_RUNS} runs each, taking turns: an "
            f"answer slower than {MANY_TIMEOUT} counts as a timeout. Plain Starlette (its best case: "
            "uvloop, httptools) is the control: it runs on plain uvloop, which lets new connections in "
            "one per turn of its loop, so the last connections of wrk's opening burst wait up to 2 s for "
            "their first answer; `interlink serve` takes them all at once ([performance](performance.md)).",
            "",
            "| server | run | requests/s | p50 latency | p99 latency | slowest | timeouts | socket errors | non-2xx |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, runs in results.many.items():
            for number, r in enumerate(runs, 1):
                lines.append(f"| {name} | {number} | {r.rps:,.0f} | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | "
                             f"{r.max_ms:.0f} ms | {r.timeouts} | {r.socket_errors} | {r.non2xx} |")
        if DEFAULT in results.many:
            runs = results.many[DEFAULT]
            timeouts = sum(r.timeouts for r in runs)
            errors = sum(r.socket_errors for r in runs)
            p99s = ", ".join(f"{r.p99_ms:.0f}" for r in runs)
            goals.append(f"no timeouts at {MANY_CONNECTIONS} connections for {MANY_SECONDS} s, in every run: "
                         f"{_met(timeouts == 0 and errors == 0)} ({timeouts} timeouts and {errors} socket "
                         f"errors in {len(runs)} runs; p99 {p99s} ms)")

    spread = ", ".join(
        f"{name} {min(r.rps for r in p.rounds):,.0f}–{max(r.rps for r in p.rounds):,.0f}"
        for name, p in peers.items()
    )
    pinning = (
        "each server pinned to core 0 (`taskset -c 0`), wrk to core 1"
        if _two_cores() else "NOT pinned (fewer than 2 cores or no taskset): numbers are noisier"
    )
    lines += [
        "",
        "Goals (a slowdown in % is the default path's cost against the variant; \"by CPU time\" "
        "compares the servers' own CPU time per request, which other work on the machine skews less "
        "than requests/s — with a quiet machine the two agree):",
        "",
        *[f"- {goal}" for goal in goals],
        "",
        f"Setup: {_cpu()}; one server process each, {pinning}; "
        f"{_wrk_version().split(' [')[0]} with `-t1 -c{CONNECTIONS} -d{DURATION}s` after a {WARMUP} s "
        f"warm-up, {ROUNDS} interleaved rounds, each starting with the next server; tables show each "
        f"server's median round and ratios are medians of per-round ratios (requests/s range over "
        f"rounds: {spread}; 1-minute load "
        f"average before the run {LOAD_BEFORE} — above ~0.3 something else was running on the "
        "2 cores and the numbers are noisier). The servers' output (access logs) goes to a file. "
        "Where interlink's time goes: [performance.md](performance.md).",
    ]
    return "\n".join(lines)


def run() -> str:
    only = os.environ.get("BENCH_SERVERS")  # a comma-separated subset of the servers' names
    return report(measure(only.split(",") if only else None))


def profile(name: str = DEFAULT, seconds: int = 20) -> None:
    """py-spy on one server under the benchmark's load: collapsed stacks, then a summary."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    raw = Path(tempfile.gettempdir()) / "interlink-profile.txt"
    peers = [p for p in all_peers() if p.name == name]
    if not peers:
        raise SystemExit(f"no server {name!r}; one of: {', '.join(p.name for p in all_peers())}")
    with running(peers) as scripts:
        peer, script = peers[0], scripts[name]
        wrk(peer.url, script, WARMUP)
        load = subprocess.Popen(
            _pinned(1, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds + 3}s", "-s", str(script), peer.url + common.PATH]),
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1)
        subprocess.run([spy, "record", "-p", str(peer.pid), "-d", str(seconds), "-r", "200", "--function",
                        "-f", "raw", "-o", str(raw)], check=True)
        load.wait()
    print(summarise(raw.read_text()))
    print(f"collapsed stacks in {raw} (flamegraph.pl or speedscope.app read them)")


IDLE = re.compile(r"^(Condition\.wait|Event\.wait|_worker|SimpleQueue\.get|ThreadPool\._work) ")


def summarise(collapsed: str, top: int = 45) -> str:
    """Inclusive and self share of all busy samples per function, from py-spy's collapsed
    stacks (self time of ``Runner.run`` is uvloop's own C code: sockets, parsing). Worker
    threads (``def`` methods) are counted too: they share the server's one core."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if IDLE.search(stack.rpartition(";")[2]):  # a pool thread waiting for work
            continue
        count = int(count_text)
        total += count
        frames = [re.sub(r" \(/[^)]*/(site-packages|src|lib/python3\.\d+)/", " (", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    lines = [f"{total} samples", "", "inclusive %  self %  function"]
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * count / total:10.1f}  {100 * own.get(frame, 0) / total:6.1f}  {frame}")
    return "\n".join(lines)


if __name__ == "__main__":
    if "--profile" in sys.argv:
        rest = [a for a in sys.argv[1:] if a != "--profile"]
        profile(" ".join(rest) if rest else DEFAULT)
    else:
        print(run())
