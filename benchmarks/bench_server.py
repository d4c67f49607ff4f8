"""Server throughput: the ``home.list_users``-like call on interlink, FastAPI and plain Starlette.

Each peer (``benchmarks/peers/``) runs in its own uvicorn process (one worker, uvloop, httptools,
no access log) pinned to core 0; wrk runs pinned to core 1 with 1 thread and 32 connections,
POSTing the same urlencoded form. Before measuring, every peer must answer the call with 200 and
the same JSON, and a wrong key with 401, so the three do the same job. The peers are measured in
interleaved rounds (interlink, FastAPI, Starlette, interlink, ...) so drift on the machine hits
them alike; the table shows each peer's median round.

``python -m benchmarks.bench_server --profile`` instead records the interlink server under the
same load with py-spy and prints where its time goes (see docs/performance.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from benchmarks.peers import common

ROOT = Path(__file__).resolve().parent.parent
PEERS = {"interlink": "interlink_app", "FastAPI": "fastapi_app", "Starlette": "starlette_app"}
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 32
LOAD_BEFORE = "?"  # 1-minute load average before the run: other work on the machine skews results

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""

RESULT = re.compile(
    r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) errors=(\d+)"
)


@dataclass
class Round:
    rps: float
    p50_ms: float
    p99_ms: float


def _two_cores() -> bool:
    return len(os.sched_getaffinity(0)) >= 2 and shutil.which("taskset") is not None


def _pinned(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if _two_cores() else argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(module: str) -> Iterator[tuple[str, int]]:
    """One uvicorn worker serving ``benchmarks.peers.<module>:app`` on core 0; yields its URL and
    pid (taskset execs uvicorn, so the pid is the server's)."""
    port = _free_port()
    argv = _pinned(0, [
        sys.executable, "-m", "uvicorn", f"benchmarks.peers.{module}:app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log",
    ])
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{module} exited: {log.read().decode(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start listening in 30 s")
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


def check_equivalent(urls: dict[str, str]) -> list[dict]:
    """Every peer: the call gives 200 and the same JSON; a wrong key gives 401."""
    expected = common.expected_answer()
    answers = {}
    for name, url in urls.items():
        status, body = post(url, common.form_body())
        if status != 200:
            raise RuntimeError(f"{name} answered {status}: {body[:300]!r}")
        answers[name] = json.loads(body)
        status, body = post(url, common.form_body(secret="x" * 40))
        if status != 401:
            raise RuntimeError(f"{name} answered {status}, not 401, to a wrong key: {body[:300]!r}")
    for name, answer in answers.items():
        if answer != expected:
            raise RuntimeError(f"{name} answers {answer!r}, expected {expected!r}")
    return expected


def wrk(url: str, script: Path, seconds: int) -> Round:
    argv = _pinned(1, [
        "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(script), url + common.PATH,
    ])
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    match = RESULT.search(out)
    if match is None:
        raise RuntimeError(f"no RESULT line from wrk:\n{out}")
    requests, duration_us, p50_us, p99_us, non2xx, errors = map(int, match.groups())
    if non2xx or errors:
        raise RuntimeError(f"wrk saw {non2xx} non-2xx answers and {errors} socket errors against {url}")
    return Round(requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000)


@contextlib.contextmanager
def lua_script() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=json.dumps(common.form_body())))
        yield script


def _load() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0]
    return "?"


def measure() -> dict[str, list[Round]]:
    global LOAD_BEFORE
    LOAD_BEFORE = _load()
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run `make system-deps` (Debian package wrk)")
    rounds: dict[str, list[Round]] = {name: [] for name in PEERS}
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serve(module))[0] for name, module in PEERS.items()}
        check_equivalent(urls)
        script = stack.enter_context(lua_script())
        for number in range(ROUNDS):
            for name, url in urls.items():
                wrk(url, script, WARMUP)
                result = wrk(url, script, DURATION)
                print(f"round {number + 1} {name}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms", flush=True)
                rounds[name].append(result)
    return rounds


def median_round(results: list[Round]) -> Round:
    return sorted(results, key=lambda r: r.rps)[len(results) // 2]


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else "wrk"


def report(rounds: dict[str, list[Round]]) -> str:
    best = {name: median_round(results) for name, results in rounds.items()}
    interlink = best["interlink"]
    lines = [
        "## Server: a `home.list_users`-like call",
        "",
        "`POST /api/home/list_users` with an urlencoded form: a dataclass filter "
        "(`filter.name_gt`, `filter.name_lt`), 8 bare repeated `usernames`, a bool `active` and "
        "`authorisation=keyid:secret` checked against an in-memory dict (SHA-256, constant-time "
        "compare) by every peer. The peers are in `benchmarks/peers/`: interlink (`@home.method` "
        "with typed parameters), FastAPI (a pydantic model read with `Form()`, key checked in a "
        "dependency, `response_model`), plain Starlette (`request.form()` and hand-written checks). "
        "Before measuring, each must answer 200 with the same JSON and 401 to a wrong key.",
        "",
        "| server | requests/s | p50 latency | p99 latency | interlink ÷ this |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, result in best.items():
        ratio = interlink.rps / result.rps
        lines.append(
            f"| {name} | {result.rps:,.0f} | {result.p50_ms:.2f} ms | {result.p99_ms:.2f} ms | {ratio:.2f}× |"
        )
    fastapi, starlette = best["FastAPI"], best["Starlette"]
    goal_fastapi = "met" if interlink.rps >= 2 * fastapi.rps else "not met"
    goal_starlette = "met" if interlink.rps >= 0.95 * starlette.rps else "not met"
    spread = ", ".join(
        f"{name} {min(r.rps for r in rs):,.0f}–{max(r.rps for r in rs):,.0f}" for name, rs in rounds.items()
    )
    pinning = (
        "server pinned to core 0 (`taskset -c 0`), wrk to core 1"
        if _two_cores() else "NOT pinned (fewer than 2 cores or no taskset): numbers are noisier"
    )
    lines += [
        "",
        f"Goals: interlink ≥ 2× FastAPI — **{goal_fastapi}** "
        f"({interlink.rps / fastapi.rps:.2f}×); at least level with plain Starlette (≥ 0.95×) — "
        f"**{goal_starlette}** ({interlink.rps / starlette.rps:.2f}×).",
        "",
        f"Setup: {_cpu()}; one uvicorn worker per peer (uvloop, httptools, `--log-level warning`, "
        f"no access log), {pinning}; {_wrk_version().split(' [')[0]} with `-t1 -c{CONNECTIONS} "
        f"-d{DURATION}s` after a {WARMUP} s warm-up, {ROUNDS} interleaved rounds, the table shows "
        f"each peer's median round (requests/s range over rounds: {spread}; 1-minute load "
        f"average before the run {LOAD_BEFORE} — above ~0.3 something else was running on the "
        "2 cores and the numbers are noisier). What limits "
        "interlink's number: [performance.md](performance.md).",
    ]
    return "\n".join(lines)


def run() -> str:
    return report(measure())


def profile(seconds: int = 20) -> None:
    """py-spy on the interlink peer under the benchmark's load: collapsed stacks, then a summary."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    raw = Path(tempfile.gettempdir()) / "interlink-profile.txt"
    with serve(PEERS["interlink"]) as (url, pid), lua_script() as script:
        check_equivalent({"interlink": url})
        wrk(url, script, WARMUP)
        load = subprocess.Popen(
            _pinned(1, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds + 3}s", "-s", str(script), url + common.PATH]),
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1)
        subprocess.run([spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "--function", "-f", "raw", "-o", str(raw)],
                       check=True)
        load.wait()
    print(summarise(raw.read_text()))
    print(f"collapsed stacks in {raw} (flamegraph.pl or speedscope.app read them)")


def summarise(collapsed: str, top: int = 40) -> str:
    """Inclusive and self share of the event loop thread's samples per function, from py-spy's
    collapsed stacks (self time of ``Runner.run`` is uvloop's own C code: sockets, parsing)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if "Thread._bootstrap" in stack:  # the idle thread pool, not the event loop
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
        profile()
    else:
        print(run())
