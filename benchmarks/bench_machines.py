"""A site on several machines: keyed calls per second through nginx to two servers and to one,
and how long a machine's death is seen by callers.

The rig is the tests' (tests/several_machines.py): two `interlink serve --workers 2` servers on one
PostgreSQL database behind Debian's nginx (upstream keep-alive, `max_fails=1 fail_timeout=10s`).
wrk posts `home.whoami` with a key (16 connections); then a steady load of 4 callers writing
ledger entries (5 rows in one transaction each) runs while one server is killed with SIGKILL;
then wrk again with one server left. Everything shares this machine's 2 cores, so two servers
cannot be twice one: the figure says what nginx and a second server cost and give here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parent.parent / "tests"
SECONDS = 10
ROUNDS = 3  # the best round of each: other work on a shared machine only ever slows one down
CONNECTIONS = 16
LOAD_CALLERS = 4

LUA = """
wrk.method = "POST"
wrk.body = ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Bearer {key}"

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""
RESULT = re.compile(r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) errors=(\d+)")


def wrk(url: str, script: Path, seconds: int = SECONDS) -> tuple[float, float, float, int]:
    """(calls/s, p50 ms, p99 ms, failed answers) of keyed `home.whoami` calls."""
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
                          url + "/api/home/whoami"], capture_output=True, text=True, check=True).stdout
    match = RESULT.search(out)
    if match is None:
        raise RuntimeError(f"no RESULT line from wrk:\n{out}")
    requests, duration_us, p50, p99, non2xx, errors = map(int, match.groups())
    return requests / (duration_us / 1e6), p50 / 1000, p99 / 1000, non2xx + errors


def kill_under_load(rig: object, key: str) -> dict[str, float]:
    """SIGKILL machine a while LOAD_CALLERS callers write ledger entries through nginx."""
    front = rig.front.url  # type: ignore[attr-defined]
    results: list[tuple[int, float, float]] = []
    lock, stop = threading.Lock(), threading.Event()

    def load(n: int) -> None:
        with httpx.Client(base_url=front, timeout=30, headers={"authorization": f"Bearer {key}"}) as client:
            i = 0
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    status = client.post("/api/ledger/record", data={"entry": f"bench{n}-{i}"}).status_code
                except httpx.TransportError:
                    status = 0
                with lock:
                    results.append((status, sent, time.monotonic()))
                i += 1

    callers = [threading.Thread(target=load, args=(n,)) for n in range(LOAD_CALLERS)]
    for caller in callers:
        caller.start()
    time.sleep(3)
    killed_at = time.monotonic()
    rig.a.kill()  # type: ignore[attr-defined]
    time.sleep(4)
    stop.set()
    for caller in callers:
        caller.join(60)
    failed = [r for r in results if r[0] != 200]
    after = [r for r in results if r[1] >= killed_at]
    return {
        "answered": sum(1 for r in results if r[0] == 200),
        "failed": len(failed),
        "last_failure_ms": 1000 * max((r[2] - killed_at for r in failed), default=0.0),
        "slowest_after_ms": 1000 * max((r[2] - r[1] for r in after), default=0.0),
        "rate_before": sum(1 for r in results if r[2] < killed_at) / 3,
        "rate_after": sum(1 for r in after) / max(1e-9, max((r[2] for r in after), default=killed_at) - killed_at),
    }


def run() -> str:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run `make system-deps` (Debian package wrk)")
    sys.path.insert(0, str(TESTS))
    from several_machines import INTERLINK, nginx_binary, postgres_server_url, several_machines

    import pytest

    try:  # the rig's own checks: a PostgreSQL server that answers, nginx installed
        postgres_server_url()
        if nginx_binary() is None:
            pytest.skip("nginx is not installed: run `make system-deps` (Debian package nginx)")
    except pytest.skip.Exception as missing:
        return f"## A site on several machines\n\nNot measured: {missing}"
    with tempfile.TemporaryDirectory() as tmp, several_machines(Path(tmp)) as rig:
        database = ["--database", rig.database_url]
        subprocess.run([str(INTERLINK), *database, "users", "create", "bench"], check=True, capture_output=True)
        made = subprocess.run([str(INTERLINK), *database, "keys", "create", "--role", "bench/default"],
                              check=True, capture_output=True, text=True).stdout
        key = ":".join(re.findall(r"= (\S+)", made))
        script = Path(tmp) / "whoami.lua"
        script.write_text(LUA.replace("{key}", key))
        load_before = os.getloadavg()[0]
        wrk(rig.front.url, script, 3)  # warm-up: keys cached, connections open
        direct = max(wrk(rig.b.url, script) for _ in range(ROUNDS))
        two = max(wrk(rig.front.url, script) for _ in range(ROUNDS))
        failover = kill_under_load(rig, key)
        wrk(rig.front.url, script, 3)
        one = max(wrk(rig.front.url, script) for _ in range(ROUNDS))

    def row(name: str, result: tuple[float, float, float, int]) -> str:
        rate, p50, p99, failed = result
        return f"| {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {failed} |"

    return "\n".join([
        "## A site on several machines",
        "",
        f"Keyed `home.whoami` calls, wrk with {CONNECTIONS} connections, the best of {ROUNDS} rounds of "
        f"{SECONDS} s (1-minute load average {load_before:.1f} before: other work shares the cores); each server is "
        "`interlink serve --workers 2` on one PostgreSQL database; nginx 1 worker with upstream keep-alive. "
        "All of it on this 2-core machine, so the second server adds workers, not cores "
        "(`benchmarks/bench_machines.py`, the rig of `tests/test_several_machines.py`).",
        "",
        "| route | calls/s | p50 ms | p99 ms | failed |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("one server, no nginx", direct),
        row("nginx → two servers", two),
        row("nginx → one server (the other killed)", one),
        "",
        f"**Failover**: {LOAD_CALLERS} callers writing ledger entries through nginx "
        f"({failover['rate_before']:,.0f} calls/s), one server killed with SIGKILL: "
        f"{failover['failed']:.0f} calls failed (502: they were on the dead server; nginx does not resend a POST "
        f"it has sent), the last {failover['last_failure_ms']:.0f} ms after the kill; every later call went to "
        f"the other server (the slowest call sent after the kill took {failover['slowest_after_ms']:.0f} ms); "
        f"{failover['answered']:.0f} calls answered, none lost, no entry half-written "
        f"({failover['rate_after']:,.0f} calls/s after).",
    ])


if __name__ == "__main__":
    print(run())
