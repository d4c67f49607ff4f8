"""REST server: rest-tools' README ``Fruits`` resource on interlink.rest vs rest_tools.server.

The same handler (``benchmarks/peers/rest_fruits.py``: ``POST /fruits``, an ``ArgumentHandler``
over a JSON body with a ``type=`` function, ``dest`` and a required ``dict``), served by
``interlink.rest.RestServer`` and by ``rest_tools.server.RestServer`` (wipac-rest-tools, from
the bench extra), each at its defaults in its own process on the same Tornado. Beside them, for
scale, the same resource as an interlink typed method under uvicorn (``rest_fruits_uvicorn``).

Servers pinned to core 0, wrk to core 1 (one thread, 32 connections), all running side by side
and measured in interleaved rounds; tables show each server's median round, the ratio is the
median of per-round ratios. Before measuring, each must answer the body with 200 and the same
JSON (the two Tornado servers), and a bad country code with 400.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.bench_server import (
    DURATION,
    ROUNDS,
    TUNED,
    WARMUP,
    Round,
    _load,
    _pinned,
    _uvicorn,
    _wrk_version,
    cpu_seconds,
    median_round,
    start,
)

BODY = {"name": "banana", "supply": {"crates": 3, "ripe": True}, "country_code": "MEX"}
INTERLINK = "interlink.rest RestServer"
REST_TOOLS = "rest_tools.server RestServer"
UVICORN = "interlink typed method (uvicorn)"
CONNECTIONS = 32

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _tornado(impl: str):
    return lambda port: [sys.executable, "-m", "benchmarks.peers.rest_fruits", impl, str(port)]


PEERS = {
    INTERLINK: (_tornado("interlink"), "/fruits"),
    REST_TOOLS: (_tornado("rest-tools"), "/fruits"),
    UVICORN: (_uvicorn("benchmarks.peers.rest_fruits_uvicorn:app", *TUNED), "/api/fruits/add"),
}


def post(url: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check(urls: dict[str, str]) -> None:
    answers = {}
    for name, url in urls.items():
        status, body = post(url, BODY)
        if status != 200:
            raise RuntimeError(f"{name} answered {status}: {body[:300]!r}")
        answers[name] = json.loads(body)
        status, body = post(url, {**BODY, "country_code": "FRA"})
        if status != 400:
            raise RuntimeError(f"{name} answered {status}, not 400, to a bad country code: {body[:300]!r}")
    if answers[INTERLINK] != answers[REST_TOOLS]:
        raise RuntimeError(f"the Tornado servers answer differently: {answers[INTERLINK]} vs {answers[REST_TOOLS]}")


def wrk(url: str, script: Path, seconds: int, pid: int = 0) -> Round:
    import re

    cpu_before = cpu_seconds(pid) if pid else 0.0
    argv = _pinned(1, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url])
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    match = re.search(r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) non2xx=(\d+) errors=(\d+)", out)
    if match is None:
        raise RuntimeError(f"no RESULT line from wrk:\n{out}")
    requests, duration_us, p50, p99, non2xx, errors = map(int, match.groups())
    if non2xx or errors:
        raise RuntimeError(f"wrk saw {non2xx} non-2xx answers and {errors} socket errors against {url}")
    return Round(requests / (duration_us / 1e6), p50 / 1000, p99 / 1000, cpu_us=1e6 * cpu / max(requests, 1))


def measure() -> dict[str, list[Round]]:
    rounds: dict[str, list[Round]] = {name: [] for name in PEERS}
    with contextlib.ExitStack() as stack:
        urls, pids = {}, {}
        for name, (command, path) in PEERS.items():
            base, pids[name] = stack.enter_context(start(name, command))
            urls[name] = base + path
        check(urls)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        script = tmp / "post.lua"
        script.write_text(LUA.format(body=json.dumps(json.dumps(BODY))))
        for number in range(ROUNDS):
            for name, url in urls.items():
                wrk(url, script, WARMUP)
                result = wrk(url, script, DURATION, pids[name])
                print(f"round {number + 1} {name}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.2f} ms, "
                      f"{result.cpu_us:.0f} µs CPU per request", flush=True)
                rounds[name].append(result)
    return rounds


def report(rounds: dict[str, list[Round]], load: str) -> str:
    ratio = statistics.median(a.rps / b.rps for a, b in zip(rounds[INTERLINK], rounds[REST_TOOLS]))
    cpu_ratio = statistics.median(
        b.cpu_us / a.cpu_us for a, b in zip(rounds[INTERLINK], rounds[REST_TOOLS]) if a.cpu_us and b.cpu_us
    )
    lines = [
        "## REST server: rest-tools' `Fruits` resource",
        "",
        "`POST /fruits` with a JSON body read by an `ArgumentHandler` (`type=str`, a `type=` "
        "function with `dest`, a required `dict`, a defaulted `list`), the handler from rest-tools' "
        "README as written, served by each `RestServer` at its defaults on Tornado "
        f"(`benchmarks/peers/rest_fruits.py`). wrk: 1 thread, {CONNECTIONS} connections, "
        f"{ROUNDS} interleaved rounds of {DURATION} s; servers on core 0, wrk on core 1.",
        "",
        "| server | requests/s | p50 latency | p99 latency | server CPU per request | interlink.rest ÷ this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, results in rounds.items():
        r = median_round(results)
        per_round = statistics.median(a.rps / b.rps for a, b in zip(rounds[INTERLINK], results))
        shown = f"**{name}**" if name in (INTERLINK, REST_TOOLS) else name
        lines.append(
            f"| {shown} | {r.rps:,.0f} | {r.p50_ms:.2f} ms | {r.p99_ms:.2f} ms | {r.cpu_us:.0f} µs | {per_round:.2f}× |"
        )
    lines += [
        "",
        f"Goal: interlink.rest ≥ 1.0× rest-tools — {'**met**' if ratio >= 1.0 else '**not met**'} ({ratio:.2f}× "
        f"by requests/s; {cpu_ratio:.2f}× by server CPU time per request, which other load on the "
        "machine disturbs less). "
        "The typed method under uvicorn (uvloop, httptools, no access log) is the same resource "
        "as an interlink API method, for scale: what moving a resource off Tornado would give.",
        "",
        f"Load average before the run: {load}; {_wrk_version()}.",
    ]
    return "\n".join(lines)


def run() -> str:
    load = _load()
    return report(measure(), load)


if __name__ == "__main__":
    print(run())
