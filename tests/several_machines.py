"""A site on two "machines" behind a real nginx, on one PostgreSQL database.

Each machine is an `interlink serve several_machines_app:api --workers 2` process group on its
own random port (its own session, so that killing it kills its workers too) and an
`interlink worker` delivering callbacks beside it. In front, Debian's nginx runs as the current
user with its prefix, pid file, logs and temporary directories under the test's directory, on a
random port, routing by the `store` query argument (`map $arg_store $upstream`) and sending
everything else to both machines. The database is created for the test module and dropped after.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers import free_port, wait_until_serving

TESTS = Path(__file__).resolve().parent
INTERLINK = Path(sys.executable).parent / "interlink"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MAX_BODY = 256 * 1024 * 1024  # nginx's client_max_body_size and each server's --max-body-size


def nginx_binary() -> str | None:
    if found := shutil.which("nginx"):
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def postgres_server_url() -> str:
    """The PostgreSQL server to test on, or a skip saying why there is none."""
    url = os.environ.get("INTERLINK_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    try:
        import psycopg

        psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3).close()
    except Exception as error:  # noqa: BLE001 - any failure means: no server to test on
        pytest.skip(f"no PostgreSQL answers at {url} ({type(error).__name__}); "
                    "set INTERLINK_TEST_POSTGRES_URL or start one (make test does)")
    return url



@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A database of its own on that server, with the table the ledger method writes; dropped after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"interlink_machines_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE machines_ledger (entry text NOT NULL, line int NOT NULL, "
                                    "machine text NOT NULL, PRIMARY KEY (entry, line))"))
        engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def children(pid: int) -> list[int]:
    """The direct children of a process (uvicorn's worker processes under its supervisor)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
    except FileNotFoundError:
        pass
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except FileNotFoundError:
        return b""


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


@dataclass
class Machine:
    """One server (`interlink serve --workers 2`) and one delivery worker, as on one host."""

    name: str
    directory: Path
    env: dict[str, str]
    port: int = 0
    server: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_dir(self) -> Path:
        return self.directory / "store"

    def start(self) -> None:
        """Start the server and the delivery worker; ``wait()`` for the server to answer."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - the process keeps it
        self.server = subprocess.Popen(
            [str(INTERLINK), "serve", "several_machines_app:api", "--port", str(self.port), "--workers", "2",
             "--max-body-size", str(MAX_BODY)],
            cwd=TESTS, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.start_worker()

    def wait(self) -> None:
        assert self.server is not None
        wait_until_serving(self.url + "/login", self.server, seconds=60)
        deadline = time.monotonic() + 30
        while len(self.server_workers()) < 2:  # both uvicorn workers up, not only the first
            assert time.monotonic() < deadline, f"machine {self.name}: its second worker did not start"
            time.sleep(0.1)

    def start_worker(self) -> None:
        log = open(self.directory / "worker.log", "ab")  # noqa: SIM115
        # A short lease: a message claimed by a worker that dies is claimed again 2 s later.
        self.worker = subprocess.Popen(
            [str(INTERLINK), "worker", "--concurrency", "8", "--lease", "2", "--poll", "0.1"],
            cwd=TESTS, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def server_workers(self) -> list[int]:
        """The pids of this server's uvicorn workers (2 once it serves; not multiprocessing's
        resource tracker, its other child)."""
        pids = children(self.server.pid) if self.server else []
        return [pid for pid in pids if b"resource_tracker" not in _cmdline(pid)]

    def kill(self) -> None:
        """SIGKILL the server and its workers at once, as a machine that loses power."""
        if self.server and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(10)

    def terminate(self) -> None:
        for process in (self.worker, self.server):
            if process is not None and process.poll() is None:
                process.terminate()

    def stop(self) -> None:
        self.terminate()
        for process in (self.worker, self.server):
            if process is not None:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL) if process is self.server else process.kill()
                    process.wait(10)


NGINX_CONF = """\
worker_processes 1;
{user}
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;

    # A machine that fails to answer is left out for 10 s; the calls go to the other meanwhile.
    upstream machine_a {{ server 127.0.0.1:{port_a}; }}
    upstream machine_b {{ server 127.0.0.1:{port_b}; }}
    upstream machines {{
        server 127.0.0.1:{port_a} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:{port_b} max_fails=1 fail_timeout=10s;
        keepalive 16;
    }}
    # The routing argument names the machine; anything else goes to either.
    map $arg_store $upstream {{
        a       machine_a;
        b       machine_b;
        default machines;
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size {max_body};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_connect_timeout 2s;
        proxy_send_timeout 60s;
        proxy_read_timeout 60s;
        proxy_next_upstream error timeout;

        location /api/files/ {{
            # Stream the upload to the machine as it arrives; nginx keeps no copy.
            proxy_request_buffering off;
            client_body_buffer_size 1m;  # passed on in pieces of up to 1 MiB (docs/how-to/route-uploads.md)
            proxy_pass http://$upstream;
        }}
        location / {{
            proxy_pass http://$upstream;
        }}
    }}
}}
"""


@dataclass
class Front:
    """nginx in front of the machines, as the current user, everything under ``directory``."""

    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port_a: int, port_b: int) -> None:
        binary = nginx_binary()
        if binary is None:
            pytest.skip("nginx is not installed (make test installs Debian's package)")
        run = self.directory
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (run / temp).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        # As root, nginx's workers would switch to `nobody`, who cannot write under tmp_path.
        user = "user root;" if os.geteuid() == 0 else ""
        conf = run / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, run=run, port=self.port, port_a=port_a, port_b=port_b,
                                          max_body=MAX_BODY))
        self.process = subprocess.Popen(
            [binary, "-p", str(run), "-c", str(conf), "-e", str(run / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until_serving(self.url + "/login", self.process, seconds=30)

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def error_log(self) -> str:
        return (self.directory / "error.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class SeveralMachines:
    database_url: str
    secret_key: str  # INTERLINK_SECRET_KEY of every process of the site
    front: Front
    machines: dict[str, Machine] = field(default_factory=dict)

    @property
    def a(self) -> Machine:
        return self.machines["a"]

    @property
    def b(self) -> Machine:
        return self.machines["b"]


@contextmanager
def several_machines(directory: Path) -> Iterator[SeveralMachines]:
    """Two machines and nginx on a fresh database; everything stopped and dropped afterwards."""
    from cryptography.fernet import Fernet

    server_url = postgres_server_url()
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (make test installs Debian's package)")
    with fresh_database(server_url) as database_url:
        # The command line migrates the fresh database once, before the servers race to.
        subprocess.run([str(INTERLINK), "--database", database_url, "users", "list"], check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        secret_key = Fernet.generate_key().decode()
        rig = SeveralMachines(database_url, secret_key, Front(directory / "nginx"))
        try:
            for name in ("a", "b"):
                env = {**os.environ, "PYTHONPATH": str(TESTS), "INTERLINK_DATABASE_URL": database_url,
                       "INTERLINK_SECRET_KEY": secret_key, "INTERLINK_CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8",
                       "INTERLINK_TEST_MACHINE": name,
                       "INTERLINK_TEST_STORE_DIR": str(directory / name / "store"),
                       # Each machine's temporary files in its own directory: the upload test
                       # looks there for files the front might have made a machine spool.
                       "TMPDIR": str(directory / name / "tmp")}
                (directory / name / "tmp").mkdir(parents=True)
                rig.machines[name] = Machine(name, directory / name, env)
                rig.machines[name].start()
            for machine in rig.machines.values():  # started together, waited for together
                machine.wait()
            rig.front.start(rig.a.port, rig.b.port)
            yield rig
        finally:
            rig.front.stop()
            for machine in rig.machines.values():
                machine.terminate()  # all of them at once, then wait for each
            for machine in rig.machines.values():
                machine.stop()
