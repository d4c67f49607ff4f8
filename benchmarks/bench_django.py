"""interlink.django against the Django ways of serving the same call, on the same gunicorn.

The call is the server benchmark's (benchmarks/peers/common.py): the urlencoded form with the
``filter.`` fields, a bare repeated list, a bool and the key in ``authorisation``. Four peers in
one Django project (benchmarks/peers/django_bench), with the same settings and middleware (a
``startproject`` stack), each served by ``gunicorn --workers 1 --worker-class gthread
--threads 4``, pinned to core 0; wrk on core 1, 32 connections, interleaved rounds as in
bench_server:

* interlink.django: ``api_urls(api)``, a plain ``def`` method, its key a ``Key`` of
  interlink.django in the project's SQLite file (checked keys are remembered for 2 s);
* django-ninja: a ``Form`` schema, the key checked in an auth callable, its defaults;
* Django REST framework: an ``APIView`` with a form parser, an authentication class and
  serializers;
* a bare Django function view that parses the form and checks the key by hand: the ceiling of
  Django itself;
* Django's floor: a view that sends the answer without reading the request (it checks nothing),
  to show what gunicorn, Django's request handling and the middleware cost on their own.

Before measuring, every peer must answer the call with 200 and the same JSON, and a wrong key
with 401. The goals: interlink.django at least 1.3× django-ninja and at least 90 % of the bare view.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_server import (
    DURATION,
    ROOT,
    ROUNDS,
    Peer,
    Results,
    alternate_rounds,
    check_equivalent,
    cpu_ratio,
    lua_scripts,
    median_round,
    ratio,
    start,
)

SETTINGS = "benchmarks.peers.django_bench.settings"
GUNICORN = ["--workers", "1", "--worker-class", "gthread", "--threads", "4"]
PEERS = {
    "interlink.django": "interlink_urls",
    "django-ninja": "ninja_urls",
    "DRF APIView": "drf_urls",
    "bare Django view": "bare_urls",
    "Django's floor": "floor_urls",
}
INTERLINK, NINJA, BARE, FLOOR = "interlink.django", "django-ninja", "bare Django view", "Django's floor"


def _gunicorn() -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "benchmarks.peers.django_bench.wsgi:application", *GUNICORN,
                "--bind", f"127.0.0.1:{port}"]

    return command


def _django_key(env: dict[str, str]) -> tuple[str, str]:
    """Migrate the project's database and make interlink.django's key, in a process of its own."""
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
        "from django.contrib.auth import get_user_model\n"
        "from interlink.django import Key, Role\n"
        "user = get_user_model().objects.create_user('bench')\n"
        "key = Key.objects.create(role=Role.objects.create(user=user, name='bench'))\n"
        "print(key.key_id, key.create_secret().decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    key_id, secret = out.stdout.split()
    return key_id, secret


def _worker_of(master: int) -> int:
    """The one worker process of a gunicorn master (its child); the master if none is found."""
    with contextlib.suppress(OSError, ValueError):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if len(children) == 1:
            return int(children[0])
    return master


def measure() -> Results:
    peers = [Peer(name, _gunicorn(), checks_key=name != FLOOR) for name in PEERS]
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        base = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "BENCH_DJANGO_DB": f"{tmp}/bench.sqlite3"}
        interlink_key = _django_key(base)
        for peer in peers:
            if peer.name == INTERLINK:
                peer.key = interlink_key
            env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "BENCH_DJANGO_DB": base["BENCH_DJANGO_DB"],
                   "BENCH_DJANGO_PEER": PEERS[peer.name]}
            peer.url, peer.pid = stack.enter_context(start(peer.name, peer.command, env))
        check_equivalent(peers)
        for peer in peers:  # gunicorn's worker, not its master, does the work: measure its CPU
            peer.pid = _worker_of(peer.pid)
        scripts = stack.enter_context(lua_scripts(peers))
        alternate_rounds(peers, scripts)
    return Results({p.name: p for p in peers}, {})


def report(results: Results, in_process: dict[str, float] | None = None) -> str:
    rows = []
    for name, peer in results.peers.items():
        best = median_round(peer.rounds)
        rows.append(f"| {name} | {best.rps:,.0f} | {best.p50_ms:.2f} | {best.p99_ms:.2f} | {best.cpu_us:.0f} |")
    over_ninja, of_bare = ratio(results, INTERLINK, NINJA), ratio(results, INTERLINK, BARE)
    interlink, ninja, bare, floor = (median_round(results.peers[name].rounds) for name in (INTERLINK, NINJA, BARE, FLOOR))
    cpu_over_ninja, cpu_of_bare = cpu_ratio(results, INTERLINK, NINJA), cpu_ratio(results, INTERLINK, BARE)
    met = {True: "met", False: "**not met**"}
    return "\n".join([
        "## Django: interlink.django, django-ninja, DRF, a bare view",
        "",
        "The server benchmark's form POST with a key, on `gunicorn --workers 1 --worker-class gthread "
        f"--threads 4` (core 0), wrk with 32 connections (core 1), {ROUNDS} interleaved rounds of "
        f"{DURATION} s; the median round of each peer.",
        "",
        "| peer | requests/s | p50 ms | p99 ms | server CPU µs per call |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"- interlink.django ÷ django-ninja: {over_ninja:.2f}× (by CPU per call {cpu_over_ninja:.2f}×); "
        f"goal ≥ 1.3×: {met[over_ninja >= 1.3]}.",
        f"- interlink.django ÷ the bare view: {of_bare:.0%} (by CPU per call {cpu_of_bare:.0%}); "
        f"goal ≥ 90 %: {met[of_bare >= 0.9]}.",
        f"- What limits it: Django's floor alone (gunicorn, Django's request and response, the middleware; "
        f"no parsing, no key) takes {floor.cpu_us:.0f} µs of CPU per call, leaving interlink.django "
        f"{max(0.0, interlink.cpu_us - floor.cpu_us):.0f} µs for the call itself (django-ninja "
        f"{max(0.0, ninja.cpu_us - floor.cpu_us):.0f} µs, the bare view {max(0.0, bare.cpu_us - floor.cpu_us):.0f} µs). "
        f"1.3× django-ninja means {ninja.cpu_us / 1.3:.0f} µs per call in all, "
        f"{max(0.0, ninja.cpu_us / 1.3 - floor.cpu_us):.0f} µs for the call itself "
        f"({'less' if ninja.cpu_us / 1.3 < bare.cpu_us else 'more'} than the bare view's "
        f"{max(0.0, bare.cpu_us - floor.cpu_us):.0f} µs, which parses the form and checks the key and does "
        "nothing else).",
        *_best_round_lines(results),
        *_in_process_lines(in_process or {}),
    ])


def _best_round_lines(results: Results) -> list[str]:
    """The ratios from each peer's least disturbed round (its most requests/s, its least CPU per
    call): on a shared machine another program's burst lowers whichever peer it lands on."""
    def best(name: str) -> tuple[float, float]:
        rounds = results.peers[name].rounds
        return max(r.rps for r in rounds), min((r.cpu_us for r in rounds if r.cpu_us), default=0.0)

    (interlink_rps, interlink_cpu), (ninja_rps, ninja_cpu), (bare_rps, bare_cpu) = (
        best(name) for name in (INTERLINK, NINJA, BARE))
    if not (interlink_cpu and ninja_cpu and bare_cpu):
        return []
    return [
        f"- Each peer's least disturbed round (its best requests/s; its least CPU per call): interlink.django ÷ "
        f"django-ninja {interlink_rps / ninja_rps:.2f}× (by CPU {ninja_cpu / interlink_cpu:.2f}×), ÷ the bare "
        f"view {interlink_rps / bare_rps:.0%} (by CPU {bare_cpu / interlink_cpu:.0%}).",
    ]


def _in_process_lines(in_process: dict[str, float]) -> list[str]:
    """The same call through each peer's WSGI handler in-process (benchmarks/django_inprocess.py):
    no gunicorn, no sockets, no wrk on the other core, so what each peer's own code costs."""
    if INTERLINK not in in_process:
        return []
    interlink = in_process[INTERLINK]
    floor = in_process.get(FLOOR, 0.0)
    figures = ", ".join(f"{name} {cpu:.0f} µs" for name, cpu in in_process.items())
    lines = [
        "",
        f"In-process, without gunicorn or the network (each peer's Django WSGI handler called with the environ "
        f"gunicorn builds, best of 5 batches of 3,000 calls, CPU per call): {figures}.",
    ]
    if NINJA in in_process and BARE in in_process:
        lines.append(
            f"There interlink.django is {in_process[NINJA] / interlink:.2f}× django-ninja and "
            f"{in_process[BARE] / interlink:.0%} of the bare view, its own part above the floor "
            f"{max(0.0, interlink - floor):.0f} µs (django-ninja {max(0.0, in_process[NINJA] - floor):.0f} µs, "
            f"the bare view {max(0.0, in_process[BARE] - floor):.0f} µs)."
        )
    return lines


def run() -> str:
    from benchmarks import django_inprocess

    results = measure()
    return report(results, django_inprocess.measure(list(PEERS)))


if __name__ == "__main__":
    print(run())
