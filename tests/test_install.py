"""A client-only install stays small: `pip install interlink` into a fresh virtualenv brings the
wire core and the clients, none of the server, store or crypto stack, and a shell used without
its extra says which extra to install."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"starlette", "uvicorn", "sqlalchemy", "alembic", "cryptography", "argon2-cffi", "authlib", "jinja2", "click", "rich"}


@pytest.fixture(scope="module")
def slim_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("slim")
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    # A wheel of this checkout, installed with no extras (dependencies from the configured index).
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    return python


def installed(python: Path) -> set[str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        check=True, capture_output=True, text=True,
    ).stdout
    names = {line.split("==")[0].lower().replace("_", "-") for line in out.splitlines() if "==" in line}
    return names - {"pip", "setuptools", "wheel", "interlink"}


def test_a_client_only_install_has_at_most_16_packages_and_no_server_stack(slim_python: Path) -> None:
    packages = installed(slim_python)
    assert len(packages) <= 16, sorted(packages)
    assert not packages & HEAVY, sorted(packages & HEAVY)


@pytest.mark.parametrize("module", ["interlink.client", "interlink.http", "interlink.rest", "interlink.wire"])
def test_the_clients_import_without_extras(slim_python: Path, module: str) -> None:
    result = subprocess.run([str(slim_python), "-c", f"import {module}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("module", "extra"),
    [("interlink.server", "interlink[server]"), ("interlink.store", "interlink[store]"), ("interlink.cli", "interlink[cli]"),
     ("interlink.flows", "interlink[flows]")],
)
def test_a_shell_without_its_extra_names_the_extra(slim_python: Path, module: str, extra: str) -> None:
    result = subprocess.run([str(slim_python), "-c", f"import {module}"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and extra in result.stderr, result.stderr[-500:]
