"""Shared fixtures. Add yours in your own section; keep each section self-contained."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

# -- hypothesis ------------------------------------------------------------------------------
#
# Hypothesis' default deadline of 200 ms per example fails a test whenever the (shared, 2-core)
# machine is busy for a moment, not when the code is slow. 2 s still catches an example that is
# pathologically slow (a parser without a bound), which is what the deadline is for here.
settings.register_profile("interlink", deadline=2000)
settings.load_profile("interlink")

# -- store: databases ---------------------------------------------------------------------
#
# `database` is a migrated interlink.store.Database, empty at the start of each test. It runs
# on a fresh SQLite file per test and, when INTERLINK_TEST_POSTGRES_URL is set (e.g.
# postgresql+psycopg://postgres@127.0.0.1:5432/test), once more on PostgreSQL: a database
# with a unique name is created for the test run, emptied after each test, dropped at the end.

POSTGRES_URL_ENV = "INTERLINK_TEST_POSTGRES_URL"

_DATABASE_BACKENDS = [pytest.param("sqlite", id="sqlite")]
if os.environ.get(POSTGRES_URL_ENV):
    _DATABASE_BACKENDS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """URL of a PostgreSQL database created for this test run (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server_url = os.environ.get(POSTGRES_URL_ENV)
    if not server_url:
        raise RuntimeError(f"{POSTGRES_URL_ENV} is not set")  # only requested when it is
    name = f"interlink_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=_DATABASE_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database URL; the PostgreSQL one is shared by the run, the SQLite one is per test."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_database_url")
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'interlink.db'}"


@pytest.fixture
def database(database_url: str) -> Iterator[object]:
    """A migrated, empty ``interlink.store.Database``."""
    from sqlalchemy import text

    from interlink.store import Base, Database

    db = Database(database_url)
    db.migrate()
    try:
        yield db
    finally:
        if not db.is_sqlite:
            # The PostgreSQL database outlives the test: empty every interlink table.
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.dispose()


# -- server: live uvicorn servers on 127.0.0.1 --------------------------------------------
#
# `live_server(app)` runs any ASGI app under a real uvicorn on a free loopback port in a
# background thread and returns its base URL ("http://127.0.0.1:PORT"); stopped at teardown.

from collections.abc import Callable

from servers import UvicornThread


@pytest.fixture
def live_server() -> Iterator[Callable[..., str]]:
    servers: list[UvicornThread] = []

    def start(app: object, **config: object) -> str:
        server = UvicornThread(app, **config)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


# -- http/rest clients: real peers (OpenID provider, resource servers, mTLS) ---------------
from peers_fixtures import (  # noqa: E402,F401
    mtls_server,
    oidc_provider,
    oidc_provider_short,
    resource_server,
    tls_pki,
)


# -- pages: headless Chromium (Debian's package) through Playwright --------------------------
#
# `page` is a fresh Chromium page; the browser is closed at teardown.

from typing import Any  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is needed: `make system-deps` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()


# -- SOAP / StUF: spyne behind uvicorn (HTTP and mTLS), a StUF peer ---------------------------
from soap_fixtures import soap_keys, soap_mtls_peer, soap_peer, stuf_mtls_peer, stuf_peer  # noqa: E402,F401


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before a file that runs with warnings as errors (rest-tools' own tests do), collect the
    garbage the files before it left in this worker: an event loop or file they never closed,
    freed during such a file, would fail one of its tests with a ResourceWarning that is not
    its own. Collected here, in the teardown of the last test before it, it is only a warning."""
    if nextitem is None or getattr(nextitem, "module", None) is getattr(item, "module", None):
        return
    if any("error" in marker.args for marker in nextitem.iter_markers("filterwarnings")):
        import gc

        gc.collect()
