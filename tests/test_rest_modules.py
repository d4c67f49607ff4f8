"""``interlink.rest.client`` and ``interlink.rest.server`` mirror ``rest_tools.client`` and
``rest_tools.server``: the same names, the client without Tornado, and ``interlink.rest``
re-exporting both."""

from __future__ import annotations

import subprocess
import sys

import pytest

import interlink.rest
import interlink.rest.client
import interlink.rest.server

# rest_tools.client names interlink does not have: its requests-based client sessions (the
# clients here are on httpx) and the `utils` module (its one function, request_and_validate,
# is on interlink.rest.client itself).
NOT_PROVIDED = {"AsyncSession", "Session", "utils"}


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_the_client_loads_neither_tornado_nor_openapi_core() -> None:
    code = (
        "import sys\n"
        "from interlink.rest.client import RestClient, OpenIDRestClient, ClientCredentialsAuth\n"
        "import interlink.rest\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tornado', 'openapi_core')))\n"
    )
    result = run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_tornado_the_client_works_and_the_server_names_the_extra() -> None:
    blocked = "import sys\nsys.modules['tornado'] = None\n"  # as if Tornado were not installed
    result = run(blocked + "from interlink.rest.client import RestClient\nprint(RestClient.__name__)")
    assert result.returncode == 0 and result.stdout.strip() == "RestClient", result.stderr
    for statement in ("import interlink.rest.server", "from interlink.rest import RestServer"):
        result = run(blocked + statement)
        assert result.returncode != 0
        assert "ImportError" in result.stderr and "interlink[rest-server]" in result.stderr, result.stderr[-400:]


@pytest.mark.parametrize("module", [interlink.rest.client, interlink.rest.server])
def test_interlink_rest_re_exports_both(module: object) -> None:
    for name in module.__all__:  # type: ignore[attr-defined]
        assert getattr(interlink.rest, name) is getattr(module, name), name


def test_the_same_names_as_rest_tools() -> None:
    client = pytest.importorskip("rest_tools.client", reason="wipac-rest-tools (bench extra) is the reference")
    server = pytest.importorskip("rest_tools.server")
    assert set(client.__all__) - NOT_PROVIDED <= set(interlink.rest.client.__all__)
    assert set(server.__all__) <= set(interlink.rest.server.__all__)
    from interlink.rest.client import request_and_validate  # rest_tools.client.utils' one name

    assert request_and_validate is interlink.rest.request_and_validate
