"""The Django benchmark's call without the network: CPU time per call of each peer's Django
WSGI handler, called in-process with the environ gunicorn builds, many times.

    .venv/bin/python -m benchmarks.django_inprocess [--calls N] [--profile PEER]

Each peer runs in a process of its own (its URLconf is a setting), one after the other, and
the best of several batches is kept: on a loaded machine the best batch is the least disturbed
one. This is the deterministic part of ``bench_django``: no gunicorn, no sockets, no wrk, so it
shows what each peer's own code costs and where interlink.django's microseconds go
(``--profile 'interlink.django'`` prints cProfile's top functions).

``--instructions`` counts instructions per call instead, with valgrind (callgrind): the same
on every run whatever the machine's load, so a change of a few µs shows. Each peer runs 50 and
250 calls and the difference is divided; interlink.django's 2 s key cache is kept from
refreshing on valgrind's slow clock (served, it refreshes once per thousands of calls).
``--served`` counts them in gunicorn's worker instead (the benchmark's settings, under
valgrind), serving 400 and 100 keep-alive requests over loopback: gunicorn's own part included.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_django import GUNICORN, INTERLINK, PEERS, SETTINGS, _django_key
from benchmarks.bench_server import ROOT
from benchmarks.peers import common


def _environ(body: bytes) -> dict[str, object]:
    """What gunicorn's gthread worker passes for wrk's POST (headers included)."""
    return {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": common.PATH, "RAW_URI": common.PATH,
        "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.version": (1, 0), "wsgi.errors": sys.stderr,
        "SERVER_SOFTWARE": "gunicorn/23.0.0",
    }


def _child(calls: int, batches: int, profile: bool) -> None:
    """In the peer's own process: per-call CPU µs of the best batch, as JSON on stdout."""
    from django.core.wsgi import get_wsgi_application

    if os.environ.get("BENCH_KEY_CACHE_SECONDS"):  # valgrind's slow clock refreshes keys far more often
        from interlink.django._backend import DjangoKeys

        DjangoKeys.__init__.__defaults__ = (float(os.environ["BENCH_KEY_CACHE_SECONDS"]), 10_000, time.monotonic)
    handler = get_wsgi_application()
    key_id, secret = os.environ.get("BENCH_KEY", f"{common.KEY_ID}:{common.KEY_SECRET}").split(":", 1)
    body = common.form_body(secret, key_id).encode()
    expected = json.dumps(common.expected_answer(), separators=(",", ":"))
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses.append(status)

    def one() -> bytes:
        response = handler(_environ(body), start_response)
        try:
            return b"".join(response)
        finally:
            response.close()  # type: ignore[attr-defined]

    answer = one()
    if statuses[-1] != "200 OK" or json.loads(answer) != json.loads(expected):
        raise SystemExit(f"wrong answer: {statuses[-1]} {answer[:200]!r}")
    for _ in range(calls // 10):
        one()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            one()
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(60)
    best = float("inf")
    for _ in range(batches):
        started = time.process_time()
        for _ in range(calls):
            one()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    print(json.dumps({"cpu_us": best}))


def _run_child(env: dict[str, str], calls: int, batches: int, valgrind: str | None = None) -> float:
    """CPU µs per call of the best batch; under callgrind, the instructions it collected."""
    argv = [sys.executable, "-m", "benchmarks.django_inprocess", "--child", "--calls", str(calls),
            "--batches", str(batches)]
    if valgrind is None:
        out = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, check=True, text=True)
        cpu_us: float = json.loads(out.stdout)["cpu_us"]
        return cpu_us
    env = {**env, "BENCH_KEY_CACHE_SECONDS": "3600", "PYTHONHASHSEED": "0"}  # the same dicts every run
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={valgrind}", *argv], cwd=ROOT,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, text=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {run.stderr[-500:]}")
    return float(found.group(1))


_SERVED_WSGI = """import time
from interlink.django._backend import DjangoKeys
DjangoKeys.__init__.__defaults__ = (3600.0, 10_000, time.monotonic)  # no key refresh on valgrind's clock
from benchmarks.peers.django_bench.wsgi import application
"""


def _served_instructions(env: dict[str, str], tmp: str, requests: int) -> int:
    """Instructions of gunicorn's worker (the benchmark's settings, under callgrind) from its
    start to its end, having served ``requests`` keep-alive requests of the call."""
    Path(tmp, "served_wsgi.py").write_text(_SERVED_WSGI)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = Path(tempfile.mkdtemp(dir=tmp))
    env = {**env, "PYTHONPATH": f"{tmp}:{ROOT}", "PYTHONHASHSEED": "0"}
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p", sys.executable, "-m",
         "gunicorn", "served_wsgi:application", *GUNICORN, "--timeout", "600", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        key_id, secret = env.get("BENCH_KEY", f"{common.KEY_ID}:{common.KEY_SECRET}").split(":", 1)
        body = common.form_body(secret, key_id)
        deadline = time.monotonic() + 300
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                connection.connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        for _ in range(requests):
            connection.request("POST", common.PATH, body, {"Content-Type": "application/x-www-form-urlencoded"})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"the served call answered {answer.status}")
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=300)
    totals = [int(found.group(1)) for path in out.iterdir()
              if (found := re.search(r"^totals: (\d+)", path.read_text(errors="replace"), re.M))]
    return max(totals)  # the worker's, which loaded Django; the master only forks and waits


def measure(peers: list[str], calls: int = 3000, batches: int = 5, profile: str | None = None,
            instructions: bool = False, served: bool = False) -> dict[str, float]:
    """Each peer's CPU µs per call in-process (best batch), or with ``instructions`` the
    instructions per call counted by valgrind: (a run of 250 calls - one of 50) / the difference."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "BENCH_DJANGO_DB": f"{tmp}/bench.sqlite3"}
        key_id, secret = _django_key(env)
        for name in peers:
            peer_env = {**env, "BENCH_DJANGO_PEER": PEERS[name]}
            if name == INTERLINK:
                peer_env["BENCH_KEY"] = f"{key_id}:{secret}"
            if name == profile:
                peer_env["BENCH_PROFILE"] = "1"
            if served:
                few, many = (_served_instructions(peer_env, tmp, n) for n in (100, 400))
                results[name] = (many - few) / 300
            elif instructions:
                # calls made by a child: 1 checked + calls // 10 warm-up + calls measured
                few, many = (_run_child(peer_env, n, 1, f"{tmp}/callgrind.{n}") for n in (50, 250))
                results[name] = (many - few) / ((1 + 25 + 250) - (1 + 5 + 50))
            else:
                results[name] = _run_child(peer_env, calls, batches)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--profile", help="the peer to profile with cProfile (its stats on stderr)")
    parser.add_argument("--instructions", action="store_true", help="count instructions with valgrind instead")
    parser.add_argument("--served", action="store_true",
                        help="count instructions with valgrind in gunicorn's worker serving the call over loopback")
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(options.calls, options.batches, bool(os.environ.get("BENCH_PROFILE")))
        return
    results = measure(options.peers, options.calls, options.batches, options.profile, options.instructions,
                      options.served)
    counted = options.instructions or options.served
    unit = "instructions" if counted else "µs CPU"
    for name, value in results.items():
        print(f"{name}: {value:,.0f} {unit} per call" if counted else f"{name}: {value:.1f} {unit} per call")
    interlink = results.get(INTERLINK)
    if interlink:
        for name, value in results.items():
            if name != INTERLINK:
                print(f"{name} ÷ interlink.django: {value / interlink:.2f}×")


if __name__ == "__main__":
    main()
