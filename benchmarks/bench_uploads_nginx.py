"""A 1 GiB upload through nginx, written to a file: interlink's streamed `FileStream` (run by
`interlink serve`, and the same site under `uvicorn.run(api)`, uvicorn's own HTTP protocol) against
FastAPI's `UploadFile` and Django's default upload handlers (both spool the file to a temporary
file before the code handling it runs), a bare ASGI app writing the raw body (no parsing, no
credentials; on uvicorn's HTTP protocol and on interlink's), the least any server can do
(benchmarks/peers/raw_upload.py: a blocking raw socket that reads the request head and copies the
body to a file, with splice(2) or with `recv_into` + `os.write`; no HTTP framework, a bound and not
a product path), and nginx writing the body to disk itself (`client_body_in_file_only`, the
ceiling: no server behind it reads the body).

nginx is Debian's, started as the several-machines rig starts it (as the current user, everything
under a temporary directory, one worker), with `proxy_request_buffering off` and
`client_body_buffer_size 1m` in front of the servers (docs/how-to/route-uploads.md), so the body is
passed on as it arrives, in pieces of up to 1 MiB. Each server is one process: uvicorn for interlink
and FastAPI, `gunicorn --workers 1` (sync) for a bare Django view, plain Python for the raw-socket
upstreams. The sender is the raw-socket sender of bench_uploads (1 MiB blocks, the fields first,
the file last), in this process. Reported: throughput (best of the rounds), CPU seconds per GiB of
the server's processes and of nginx's worker (the least round's; the sender's too, in the notes
for the faster raw-socket row and the ceiling), peak RSS (/proc VmHWM) of the server's process
(gunicorn: its worker) and of nginx's worker, and how long after the first byte was sent the code
handling the file had it (the streamed method: its first chunk; the spooled ones: the file
object).

Whoever writes the file (the server; nginx in the ceiling) pays for the page cache's pages, and on
this virtual machine that cost swings: a GiB written into pages freed a moment before takes about
0.2 CPU s, into pages left free for a few seconds (which the guest reports free to the host,
virtio-balloon free page reporting, and gets back through faults) 1.3 to 2.5 s, so a row's rounds
differ by more than the machine's load (the least round's CPU seconds come nearest the warm cost).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from typing import NamedTuple
from pathlib import Path

from benchmarks.bench_uploads import (BARE_INTERLINK, BARE_UVICORN, BLOCK, PEERS, SIZE, _free_port, _peak_rss,
                                      _upload)

# nginx and the process tree are found as the several-machines rig of the tests finds them
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from several_machines import children, nginx_binary  # noqa: E402

ROUNDS = 3
CEILING = "nginx writing the body to a file (`client_body_in_file_only`, ceiling)"
STREAMED = "interlink `FileStream` (streamed)"
HEADLINE = STREAMED + ", `interlink serve`"
UVICORN_ROW = STREAMED + ", `uvicorn.run(api)`: uvicorn's own HTTP protocol"
BARE = "bare ASGI app writing the raw body (no parsing, no credentials)"
BARE_ON_INTERLINK = BARE + ", interlink's HTTP protocol"
LEAST = "the least a server can do"
SPLICE_ROW = (LEAST + ": splice(2) socket → pipe → file, 1 MiB at a time, no HTTP framework "
              "(bound, not a product path)")
RECV_ROW = (LEAST + " without splice: `recv_into` a 1 MiB buffer + `os.write`, no HTTP framework "
            "(bound, not a product path)")
#: the raw-socket upstream of those two rows, run as a plain script (its argument picks the copy)
RAW_UPLOAD = Path(__file__).resolve().parent / "peers" / "raw_upload.py"
#: how bench_uploads starts interlink's server, and the same site run by uvicorn itself instead
SERVE_LINE = 'main(["serve", "__main__:api", "--port", str(PORT)])'
UVICORN_LINE = 'uvicorn.run(api, host="127.0.0.1", port=PORT, log_level="warning")'

NGINX_CONF = """\
worker_processes 1;
{user}
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 2g;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_send_timeout 300s;
        proxy_read_timeout 300s;
        location /api/files/ {{
            # Passed on to the server as it arrives; nginx keeps no copy.
            proxy_request_buffering off;
            # ... in pieces of up to 1 MiB instead of 16 KiB: a quarter less of nginx's time
            # (docs/how-to/route-uploads.md)
            client_body_buffer_size 1m;
            proxy_pass http://127.0.0.1:{upstream};
        }}
        location = /ceiling {{
            # nginx reads the whole body into a file of its own, then asks /done with headers only.
            client_body_in_file_only clean;
            client_body_buffer_size 1m;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass http://127.0.0.1:{port}/done;
        }}
        location = /done {{
            return 200 "0";
        }}
    }}
}}
"""

DJANGO_APP = textwrap.dedent('''
    """A bare Django view: the file through Django's default upload handlers (a temporary file past 2.5 MB)."""
    import os, time
    import django
    from django.conf import settings
    DIRECTORY = os.environ["BENCH_DIRECTORY"]
    settings.configure(DEBUG=False, SECRET_KEY="bench-only", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
                       MIDDLEWARE=[], INSTALLED_APPS=[])
    django.setup()
    from django.core.wsgi import get_wsgi_application
    from django.http import HttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def store(request):
        upload = request.FILES["upload"]  # Django reads and spools the body here
        started = time.time()
        with open(os.path.join(DIRECTORY, request.POST["name"]), "wb") as out:
            for chunk in upload.chunks(1 << 20):
                out.write(chunk)
        return HttpResponse(str(started), content_type="application/json")

    urlpatterns = [path("api/files/store", store)]
    application = get_wsgi_application()
''')


def _wait_for(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


def _start_nginx(binary: str, run: Path, upstream: int) -> tuple[subprocess.Popen[bytes], int]:
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run / temp).mkdir(parents=True, exist_ok=True)
    port = _free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # as root, its worker would become `nobody`
    conf = run / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, run=run, port=port, upstream=upstream))
    process = subprocess.Popen([binary, "-p", str(run), "-c", str(conf), "-e", str(run / "error.log"),
                                "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(port, process, "nginx")
    return process, port


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used so far (/proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class _Result(NamedTuple):
    throughput: float  # MiB/s, best round
    server_rss: float  # MiB, peak
    nginx_rss: float
    to_method: list[float]  # each round's seconds from the first byte sent to the method, lowest first
    server_cpu: float  # CPU s/GiB, least round
    nginx_cpu: float
    sender_cpu: float  # CPU s/GiB of this process, which sends, least round


class _Peer:
    """One server (none for the ceiling) with its own nginx in front, under its own directory."""

    def __init__(self, binary: str, server: Callable[[int, Path], list[str]] | None, directory: Path) -> None:
        self.binary, self.server, self.directory = binary, server, directory
        self.process: subprocess.Popen[bytes] | None = None
        self.nginx: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.best = float("inf")
        self.to_method: list[float] = []  # every round's: a busy moment of the machine shows in one
        #: CPU seconds (user + system) per GiB of the server's processes and of nginx's worker, the
        #: round's least: less swayed by the machine's other work than the wall clock
        self.server_cpu = self.nginx_cpu = self.sender_cpu = float("inf")

    def start(self) -> None:
        (self.directory / "nginx").mkdir(parents=True)
        upstream = _free_port()
        if self.server is not None:
            env = {**os.environ, "TMPDIR": str(self.directory), "BENCH_DIRECTORY": str(self.directory)}
            self.process = subprocess.Popen(self.server(upstream, self.directory), env=env, cwd=self.directory,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _wait_for(upstream, self.process, "the server")
        self.nginx, self.port = _start_nginx(self.binary, self.directory / "nginx", upstream)

    def upload(self) -> None:
        servers = [self.process.pid, *children(self.process.pid)] if self.process else []
        workers = children(self.nginx.pid) if self.nginx else []
        server_before, nginx_before = _cpu_seconds(servers), _cpu_seconds(workers)
        sender_before = time.process_time()
        elapsed, method_after = _upload(self.port, "/api/files/store" if self.server else "/ceiling")
        gibibytes = SIZE / 1024**3
        self.sender_cpu = min(self.sender_cpu, (time.process_time() - sender_before) / gibibytes)
        self.server_cpu = min(self.server_cpu, (_cpu_seconds(servers) - server_before) / gibibytes)
        self.nginx_cpu = min(self.nginx_cpu, (_cpu_seconds(workers) - nginx_before) / gibibytes)
        self.best = min(self.best, elapsed)
        self.to_method.append(method_after)
        # Removed between rounds: opening the last round's 1 GiB file to overwrite it would free
        # its blocks first, hundreds of ms before the method reads its first chunk.
        for written in ("big.bin", "raw"):
            (self.directory / written).unlink(missing_ok=True)

    def result(self) -> _Result:
        server_rss = 0.0
        if self.process is not None:
            server_rss = max(_peak_rss(pid) for pid in [self.process.pid, *children(self.process.pid)]) / BLOCK
        nginx_rss = max((_peak_rss(pid) for pid in children(self.nginx.pid)), default=0) / BLOCK if self.nginx else 0
        return _Result(SIZE / self.best / BLOCK, server_rss, nginx_rss, sorted(self.to_method),
                       self.server_cpu, self.nginx_cpu, self.sender_cpu)

    def stop(self) -> None:
        if self.nginx is not None:
            _stop(self.nginx, signal.SIGQUIT)
        if self.process is not None:
            _stop(self.process)


def _measure(binary: str, servers: list[Callable[[int, Path], list[str]] | None]) -> list[_Result]:
    """Every peer up at once, the rounds taken in turn (each peer once a round): a neighbour's burst
    of work on the shared machine then falls on all of them, not on one peer's every round."""
    with tempfile.TemporaryDirectory(prefix="bench-uploads-nginx-") as name:
        peers = [_Peer(binary, server, Path(name) / str(number)) for number, server in enumerate(servers)]
        try:
            for peer in peers:
                peer.start()
            for _ in range(ROUNDS):
                for peer in peers:
                    peer.upload()
            return [peer.result() for peer in peers]
        finally:
            for peer in peers:
                peer.stop()


def _uvicorn(code: str) -> Callable[[int, Path], list[str]]:
    return lambda port, directory: [sys.executable, "-c", code, str(port), str(directory)]


def _gunicorn(port: int, directory: Path) -> list[str]:
    (directory / "django_upload_app.py").write_text(DJANGO_APP)
    return [sys.executable, "-m", "gunicorn", "django_upload_app:application", "--workers", "1",
            "--bind", f"127.0.0.1:{port}", "--timeout", "600", "--log-level", "warning"]


def _raw(mode: str) -> Callable[[int, Path], list[str]]:
    return lambda port, directory: [sys.executable, str(RAW_UPLOAD), str(port), str(directory), mode]


def run() -> str:
    binary = nginx_binary()
    if binary is None:
        return ("## Uploads through nginx: 1 GiB to a file\n\nNot measured: nginx is not installed "
                "(`make system-deps` installs Debian's package).")
    load_before = os.getloadavg()
    site = PEERS[STREAMED]
    servers: dict[str, Callable[[int, Path], list[str]] | None] = {
        HEADLINE: _uvicorn(site),
        UVICORN_ROW: _uvicorn(site.replace(SERVE_LINE, UVICORN_LINE)),
        "FastAPI `UploadFile` (spooled)": _uvicorn(PEERS["FastAPI `UploadFile` (spooled)"]),
        "Django, default upload handlers (spooled; gunicorn)": _gunicorn,
        BARE + ", uvicorn's HTTP protocol": _uvicorn(PEERS[BARE_UVICORN]),
        BARE_ON_INTERLINK: _uvicorn(PEERS[BARE_INTERLINK]),
        SPLICE_ROW: _raw("splice"),
        RECV_ROW: _raw("recv"),
        CEILING: None,
    }
    results = dict(zip(servers, _measure(binary, list(servers.values()))))
    ceiling = results[CEILING].throughput
    load_after = os.getloadavg()
    load = "/".join(f"{value:.1f}" for value in load_before) + " before, " + "/".join(
        f"{value:.1f}" for value in load_after) + " after"
    lines = [
        "## Uploads through nginx: 1 GiB to a file",
        "",
        "Debian's nginx (1 worker, `proxy_request_buffering off` and `client_body_buffer_size 1m` in front of the "
        "servers, as docs/how-to/route-uploads.md recommends) on loopback; one server process each (uvicorn; "
        "gunicorn's one sync worker for Django; plain Python for the raw-socket upstreams); interlink's site run "
        "by `interlink serve` as a user runs it, and the same site under `uvicorn.run(api)`; the raw-socket "
        "sender of the section above; best of "
        f"{ROUNDS} rounds, taken in turn with every server up; `uptime`'s load averages (1/5/15 min) {load} "
        "(other work shares the 2 cores). *CPU s/GiB*: user and system CPU seconds of the server's process "
        "and of nginx's worker per GiB, the least round's (the wall clock's rate also depends on what else runs). "
        "*File in hand after* is the time from the first byte sent to the method's first chunk (streamed) or to "
        "the code having the spooled file, every round's, lowest first. Goal: ≥ 80% of the ceiling, peak RSS "
        "under 100 MiB, the file in hand within 50 ms.",
        "",
        "| server | MiB/s | of the ceiling | server CPU s/GiB | nginx CPU s/GiB | server peak RSS (MiB) "
        "| nginx peak RSS (MiB) | file in hand after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in results.items():
        started = ("—" if name == CEILING or name.startswith((BARE, LEAST))
                   else " / ".join(f"{seconds * 1000:.0f}" for seconds in result.to_method) + " ms")
        server = ("—", "—") if name == CEILING else (f"{result.server_cpu:.2f}", f"{result.server_rss:.0f}")
        lines.append(f"| {name} | {result.throughput:.0f} | {result.throughput / ceiling:.0%} | {server[0]} "
                     f"| {result.nginx_cpu:.2f} | {server[1]} | {result.nginx_rss:.0f} | {started} |")
    streamed, bare_uvicorn = results[HEADLINE], results[BARE + ", uvicorn's HTTP protocol"]
    median = streamed.to_method[len(streamed.to_method) // 2]
    splice, recv, ceiling_row = results[SPLICE_ROW], results[RECV_ROW], results[CEILING]
    # the two copies differ little; a round whose pages cost more (see above) can put either first
    least, least_name = max((splice, "splice(2)"), (recv, "`recv_into` + `os.write`"),
                            key=lambda row: row[0].throughput)
    least_cpu = least.sender_cpu + least.nginx_cpu + least.server_cpu
    reachable = least.throughput >= 0.8 * ceiling
    met = streamed.throughput >= 0.8 * ceiling and streamed.server_rss < 100 and median < 0.05
    lines += [
        "",
        f"Goal for the streamed method: {'met' if met else 'NOT met'} ({streamed.throughput / ceiling:.0%} of the "
        f"ceiling, {streamed.server_rss:.0f} MiB peak, the file in hand after {median * 1000:.0f} ms in the median "
        "round). The spooled servers have the file only once all of it has arrived and been written to a "
        "temporary file, and copy it again; the streamed method writes each chunk once, as nginx passes it on. "
        "`interlink serve` runs uvicorn with interlink's HTTP protocol (reads straight into one buffer, the "
        "body handed on as httptools' pieces, no bytearray copies, 256 KiB before reading pauses instead of "
        f"64 KiB): {streamed.server_cpu:.2f} CPU s/GiB where uvicorn's own protocol takes "
        f"{results[UVICORN_ROW].server_cpu:.2f}. "
        f"A bare ASGI app that only writes the raw body gets {bare_uvicorn.throughput:.0f} MiB/s on uvicorn's "
        "protocol; on interlink's, reading the socket and writing the file, it spends "
        f"{results[BARE_ON_INTERLINK].server_cpu:.2f} CPU s/GiB. The streamed method adds "
        "finding the multipart boundary in each piece and the Python work of each piece of 256 KiB. "
        "The least a server can do (benchmarks/peers/raw_upload.py: a blocking socket, the head read, the body "
        f"copied to the file unparsed) reaches {splice.throughput:.0f} MiB/s with splice(2) "
        f"({splice.throughput / ceiling:.0%} of the ceiling, {splice.server_cpu:.2f} server CPU s/GiB) and "
        f"{recv.throughput:.0f} MiB/s with `recv_into` + `os.write` ({recv.throughput / ceiling:.0%}, "
        f"{recv.server_cpu:.2f}): the faster, {least_name}, "
        + ("reaches 80% of the ceiling, so a server behind this nginx can here. " if reachable else
           f"is {0.8 * ceiling - least.throughput:.0f} MiB/s short of 80%, so no server behind this nginx reaches "
           "it in this run. ")
        + f"Passing the body on to it, nginx's worker spends {least.nginx_cpu:.2f} CPU s/GiB where writing it to a "
        f"file took {ceiling_row.nginx_cpu:.2f}: alone, on a core of its own, that caps it at "
        f"{1024 / least.nginx_cpu:.0f} MiB/s ({1024 / least.nginx_cpu / ceiling:.0%} of the ceiling); and the "
        f"sender ({least.sender_cpu:.2f} CPU s/GiB), nginx and the server share the 2 cores, "
        f"{least_cpu:.2f} CPU s/GiB in all for that row, "
        f"{ceiling_row.sender_cpu + ceiling_row.nginx_cpu:.2f} for the ceiling (sender and nginx): at 80% of the "
        f"ceiling ({0.8 * ceiling:.0f} MiB/s) those three processes would need {0.8 * ceiling / 1024 * least_cpu:.2f} "
        "CPU seconds a second of the 2 cores' 2.00. "
        "Each round's file is removed after it, so the writes stay in the page cache: these are the servers' own "
        "speeds, not the disk's (with a disk setting the pace, every peer slows toward its speed, the ceiling "
        "most). Rounds vary on a shared machine.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
