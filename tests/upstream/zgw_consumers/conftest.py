from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from interlink.http import _service_client

from . import fake_network


@pytest.fixture(scope="session", autouse=True)
def fake_network_server() -> Iterator[None]:
    process = subprocess.Popen([sys.executable, str(Path(fake_network.__file__))], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())  # type: ignore[union-attr]
        fake_network.ROOT = f"http://127.0.0.1:{port}"
        yield
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()  # type: ignore[union-attr]


@pytest.fixture(autouse=True)
def clear_token_cache() -> Iterator[None]:
    """zgw-consumers caches OAuth2 tokens in Django's cache (cleared around each test);
    interlink shares token flows per credentials in ``_oauth2_cache``."""
    _service_client._oauth2_cache.clear()
    yield
    _service_client._oauth2_cache.clear()


@pytest.fixture
def requests_mock() -> fake_network.Mocker:
    return fake_network.Mocker(fake_network.ROOT)


@pytest.fixture
def settings() -> None:
    """pytest-django's ``settings``: requested by the pagination tests, which do not use it."""
    return None
