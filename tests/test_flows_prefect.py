"""interlink.flows on Prefect: ``Sync.run()`` as a flow with its artifact, the ``interlink sync``
commands, and a run killed mid-way and run again (no duplicates, nothing lost).

One Prefect API server for the whole module: Prefect's ephemeral server (the same
``SubprocessASGIServer`` Prefect starts on its own when no ``PREFECT_API_URL`` is set), started
once with a generous start-up timeout, analytics off and ``PREFECT_HOME`` in a temporary
directory; the subprocess runs are pointed at it so they do not each start their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flows_peers import Peers, peers, sync_database  # noqa: F401
from test_flows import T0, make_sync, seed_source

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.flows


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = {
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        from prefect.server.api.server import SubprocessASGIServer
        from prefect.settings import PREFECT_API_URL, temporary_settings

        server = SubprocessASGIServer()
        server.start(timeout=240)
        try:
            with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
                yield {**env, "PREFECT_API_URL": server.api_url}
        finally:
            # Not server.stop(): it logs through Prefect's handler, whose stream pytest has closed.
            process, server.server_process, server.running = server.server_process, None, False
            process.terminate()
            process.wait(10)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_the_flows_package_does_not_import_prefect_until_a_flow_runs() -> None:
    code = ("import sys, interlink.flows, interlink.cli, interlink.store, interlink.http;"
            "from interlink.cli._sync import sync;"
            "assert 'prefect' not in sys.modules, 'prefect imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-800:]


def test_sync_run_is_a_prefect_flow_with_a_summary_artifact(prefect_env: dict[str, str], peers: Peers,
                                                             sync_database: Any, capsys: Any) -> None:
    import httpx

    from interlink.flows import registered

    seed_source(peers, 60)
    sync = make_sync(peers, sync_database)  # not registered: the flow is handed the object itself
    counts = sync.run()
    assert (counts.read, counts.created) == (60, 60) and len(peers.customers()) == 60
    assert "customers" not in registered()  # running a sync declares nothing
    out = capsys.readouterr().out
    assert "sync customers" in out and "created" in out and "60" in out

    # Read straight from the Prefect API: Prefect 3.8.8's own Artifact.get() sends explicit
    # nulls that its server refuses (422) under the FastAPI versions it installs with.
    found = httpx.post(f"{prefect_env['PREFECT_API_URL']}/artifacts/filter",
                       json={"artifacts": {"key": {"any_": ["sync-customers"]}}, "limit": 1}).json()
    (artifact,) = found
    assert artifact["type"] == "table"
    rows = json.loads(artifact["data"]) if isinstance(artifact["data"], str) else artifact["data"]
    assert {"outcome": "created", "records": 60} in rows

    peers.source.put(3, "Customer three", T0 + dt.timedelta(hours=2))
    again = sync.run(progress=False)
    assert (again.updated, again.created) == (1, 0)


def test_hand_written_flow_with_interlinks_tasks(prefect_env: dict[str, str], peers: Peers, sync_database: Any) -> None:
    from prefect import flow

    from interlink.flows import advance_cursor, extract_pages, load_batch

    seed_source(peers, 30)
    sync = make_sync(peers, sync_database)

    @flow
    def my_customers() -> int:
        created = 0
        for page in extract_pages(sync.source):
            created += load_batch(sync, page).created
            advance_cursor(sync, page[-1]["updated_at"])
        return created

    assert my_customers() == 30
    assert my_customers() == 0  # the id map makes the tasks safe to run again
    assert len(peers.customers()) == 30


def _cli_env(peers: Peers, prefect_env: dict[str, str], database_url: str) -> dict[str, str]:
    return {
        **os.environ, **prefect_env,
        "INTERLINK_DATABASE_URL": database_url,
        "SOURCE_URL": peers.source_url + "/", "SOURCE_PAGE_SIZE": "40",
        "ORO_API_URL": peers.target_url + "/", "ORO_TOKEN_URL": f"{peers.issuer}/token",
        "ORO_CLIENT_ID": "svc-post", "ORO_CLIENT_SECRET": "svc-post-secret",
        "PYTHONPATH": str(ROOT),
    }


def test_a_killed_run_run_again_creates_no_duplicates_and_loses_nothing(
        prefect_env: dict[str, str], peers: Peers, tmp_path: Path) -> None:
    seed_source(peers, 400)
    peers.target.delay = 0.15  # each request takes a while, so the kill lands mid-run
    env = _cli_env(peers, prefect_env, f"sqlite:///{tmp_path / 'state.db'}")
    command = [sys.executable, "-m", "interlink.cli", "sync", "run", "customers", "-m", "examples.oro_sync.flows",
               "--no-progress"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while len(peers.customers()) < 120:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    killed_at = len(peers.customers())
    assert 120 <= killed_at < 400

    peers.target.delay = 0
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    ids = [c["externalId"] for c in peers.customers()]
    assert len(ids) == len(set(ids)) == 400
    assert sorted(c["name"] for c in peers.customers()) == sorted(f"Customer {i}" for i in range(1, 401))

    # status and conflicts read the same store; nothing is open.
    runner = CliRunner()
    from interlink.cli import main

    status = runner.invoke(main, ["--database", env["INTERLINK_DATABASE_URL"], "sync", "status"])
    assert status.exit_code == 0, status.output
    assert "customers" in status.output and "400" in status.output
    issues = runner.invoke(main, ["--database", env["INTERLINK_DATABASE_URL"], "sync", "conflicts"])
    assert issues.exit_code == 0 and "customers" not in issues.output.split("source id", 1)[-1]


def test_cli_exit_codes_and_the_issue_listing(prefect_env: dict[str, str], peers: Peers, tmp_path: Path) -> None:
    from interlink.cli import main

    seed_source(peers, 5)
    peers.source.put(2, "", T0 + dt.timedelta(seconds=2))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = _cli_env(peers, prefect_env, url)
    command = [sys.executable, "-m", "interlink.cli", "sync", "run", "customers", "-m", "examples.oro_sync.flows"]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    # A quarantined record: exit 1 with a pointer to `sync conflicts`; the summary was printed.
    assert result.returncode == 1, result.stderr[-2000:]
    assert "1 quarantined" in result.stderr and "quarantined" in result.stdout

    runner = CliRunner()
    listing = runner.invoke(main, ["--database", url, "sync", "conflicts", "customers", "--kind", "quarantine"])
    assert listing.exit_code == 0
    assert "422" in listing.output and "/data/attributes/name" in listing.output
    as_json = runner.invoke(main, ["--database", url, "sync", "conflicts", "--json"])
    (line,) = as_json.output.strip().splitlines()
    assert json.loads(line)["detail"]["errors"][0]["status"] == "422"

    unknown = subprocess.run([*command[:5], "nothing-here", "-m", "examples.oro_sync.flows"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1 and "no sync named 'nothing-here'" in unknown.stderr
    assert runner.invoke(main, ["--database", url, "sync", "status", "nope"]).exit_code == 1
    assert runner.invoke(main, ["--database", url, "sync", "conflicts", "--kind", "odd"]).exit_code == 2


def test_the_flow_served_by_prefect_runs_a_deployment(prefect_env: dict[str, str], peers: Peers,
                                                      tmp_path: Path) -> None:
    """``interlink_sync.serve()`` as the docs show it: a deployment run through Prefect's runner."""
    import httpx

    seed_source(peers, 30)
    env = {**_cli_env(peers, prefect_env, f"sqlite:///{tmp_path / 'state.db'}"), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    code = ("from interlink.flows import interlink_sync\n"
            "interlink_sync.serve(name='customers-served', parameters={'name': 'customers', "
            "'module': 'examples.oro_sync.flows', 'progress': False}, print_starting_message=False)\n")
    server = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    api = prefect_env["PREFECT_API_URL"]
    try:
        deadline = time.monotonic() + 60
        while True:
            found = httpx.get(f"{api}/deployments/name/interlink-sync/customers-served")
            if found.status_code == 200:
                break
            assert server.poll() is None, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the deployment was not registered"
            time.sleep(0.5)
        run = httpx.post(f"{api}/deployments/{found.json()['id']}/create_flow_run", json={}).json()
        while True:
            state = httpx.get(f"{api}/flow_runs/{run['id']}").json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            assert server.poll() is None, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline + 60, f"the deployment run is still {state}"
            time.sleep(0.5)
        assert state == "COMPLETED"
        assert sorted(c["externalId"] for c in peers.customers()) == sorted(str(i) for i in range(1, 31))
        # The run's summary is on Prefect's API, as the Prefect UI shows it: the artifact of this run.
        artifacts = httpx.post(f"{api}/artifacts/filter", json={
            "artifacts": {"flow_run_id": {"any_": [run["id"]]}, "key": {"any_": ["sync-customers"]}}}).json()
        (artifact,) = artifacts
        rows = json.loads(artifact["data"]) if isinstance(artifact["data"], str) else artifact["data"]
        assert {"outcome": "created", "records": 30} in rows and {"outcome": "read", "records": 30} in rows
    finally:
        server.terminate()
        server.wait(15)


# -- a newcomer's first sync ------------------------------------------------------------------
def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_failed_run_ends_in_one_line_naming_the_url_and_shows_as_failed(
        prefect_env: dict[str, str], peers: Peers, tmp_path: Path) -> None:
    from interlink.cli import main

    seed_source(peers, 3)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = _cli_env(peers, prefect_env, url)
    # The console script, from the checkout, with nothing on PYTHONPATH: `-m` finds the example
    # in the current directory as `python -m` would (a console script's sys.path lacks it).
    del env["PYTHONPATH"]
    interlink = str(Path(sys.executable).parent / "interlink")
    command = [interlink, "sync", "run", "customers", "-m", "examples.oro_sync.flows", "--no-progress"]
    dead = f"http://127.0.0.1:{_closed_port()}"
    cases = [
        ({"ORO_API_URL": f"{dead}/"}, f"cannot reach {dead}/customers"),
        ({"ORO_CLIENT_SECRET": "not-the-secret"}, f"token request to {peers.issuer}/token failed"),
        ({"SOURCE_URL": f"{peers.source_url}/missing/"}, f"HTTP 404 from GET {peers.source_url}/missing/api/customers"),
    ]
    runner = CliRunner()
    for overrides, expected in cases:
        result = subprocess.run(command, env={**env, **overrides}, cwd=ROOT, capture_output=True, text=True,
                                timeout=240)
        assert result.returncode == 1, result.stderr[-2000:]
        (last,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert last.startswith("Error: sync customers failed: ") and expected in last, result.stderr[-2000:]
        assert "-v" in last and "Traceback" not in result.stderr + result.stdout
        assert "not-the-secret" not in result.stderr + result.stdout
        status = runner.invoke(main, ["--database", url, "sync", "status", "customers"])
        assert status.exit_code == 0 and "FAILED" in status.output and expected in status.output, status.output

    verbose = subprocess.run([interlink, "-v", *command[1:]], env={**env, **cases[0][0]}, cwd=ROOT,
                             capture_output=True, text=True, timeout=240)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr

    # The same module and store, the peers reachable: the run succeeds and status says so.
    fine = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert fine.returncode == 0, fine.stderr[-2000:]
    status = runner.invoke(main, ["--database", url, "sync", "status", "customers"])
    assert "FAILED" not in status.output and len(peers.customers()) == 3


def test_the_demo_starts_stand_ins_runs_twice_and_stops_them(prefect_env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "examples.oro_sync", "--demo", "--records", "120",
                             "--changed", "3"], env={**os.environ, **prefect_env, "COLUMNS": "120"}, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    out = result.stdout
    first, second = out.split("Second run", 1)
    assert "sync customers: 120 records" in first and "│ created" in first
    assert "sync customers: 4 records" in second  # the 3 changed and the boundary record, re-read
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in second.splitlines()
            if line.count("│") == 3}
    assert (rows["created"], rows["updated"], rows["unchanged"]) == ("0", "3", "1")
    assert "The target holds 120 customers. Done" in out
    bad = subprocess.run([sys.executable, "-m", "examples.oro_sync", "--demo", "--changed", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--changed" in bad.stderr.strip().splitlines()[-1]


def test_a_traced_sync_run_links_its_prefect_flow_run(prefect_env: dict[str, str], peers: Peers,
                                                       sync_database: Any) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from interlink.observe import set_observer
    from interlink.telemetry import enable, uninstrument_clients

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable(tracer_provider=provider)
    try:
        seed_source(peers, 5)
        assert make_sync(peers, sync_database).run(progress=False).created == 5
    finally:
        uninstrument_clients()
        set_observer(None)
    (run,) = [span for span in exporter.get_finished_spans() if span.name == "sync customers"]
    attributes = run.attributes or {}
    assert attributes["interlink.sync.created"] == 5
    assert len(str(attributes["prefect.flow_run.id"])) == 36  # the flow run's UUID: its page in Prefect's UI
