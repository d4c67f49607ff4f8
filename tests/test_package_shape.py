"""The shape of the package: what each package exports, and which way its imports point.

Exports: every name in a package's ``__all__`` can be imported from it, and every public name
it has is in ``__all__`` (as httpx's own test of its exported members), so what users may rely
on is written down in one place. Imports: the core (``wire``, ``errors``, ``credentials``,
``identity``, ``urls``, ``settings``) imports no shell, ``wire`` imports nothing of interlink's,
the server imports no capability package, and no package imports another package's private
module (``interlink.store._models`` from outside ``interlink.store``): it asks the package's public
names, or the package exports what its neighbours need.
"""

from __future__ import annotations

import ast
import importlib
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

PACKAGES = [
    "interlink",
    "interlink.wire",
    "interlink.errors",
    "interlink.client",
    "interlink.http",
    "interlink.store",
    "interlink.server",
    "interlink.callbacks",
    "interlink.flows",
    "interlink.rest",
    "interlink.rest.client",
    "interlink.rest.server",
    "interlink.soap",
    "interlink.stuf",
    "interlink.telemetry",
    "interlink.observe",
]

# Names that the systems interlink replaces document: users change only the import line, so
# these stay exported (API: the API-calls specification; APIClient, ConfigAdapter: ape-pie;
# ServiceConfigAdapter, build_client: zgw-consumers; the rest: rest-tools' README).
DOCUMENTED = {
    "interlink": {"ApiServer", "FileUpload", "Model", "Role", "User"},
    "interlink.client": {"API", "AsyncAPI"},
    "interlink.http": {"APIClient", "ConfigAdapter", "ServiceConfigAdapter", "build_client"},
    "interlink.rest": {
        "RestClient",
        "OpenIDRestClient",
        "ClientCredentialsAuth",
        "DeviceGrantAuth",
        "SavedDeviceGrantAuth",
        "RestServer",
        "RestHandler",
        "ArgumentHandler",
        "ArgumentSource",
    },
}

# Public names that are not exported yet, each in a package another change is reshaping; remove
# an entry when its name is gone (the test says so). New ones are not allowed.
UNEXPORTED: set[tuple[str, str]] = set()


def public_names(module: types.ModuleType) -> set[str]:
    # Modules are left out: a package's subpackages become its attributes once imported, and
    # an extra's guard (`import starlette`) leaves one too; `annotations` is the __future__ flag.
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and name != "annotations" and not isinstance(value, types.ModuleType)
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_can_be_imported(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert len(exported) == len(set(exported)), f"{package}.__all__ names something twice"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names {missing}, which it does not have"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_exported(package: str) -> None:
    module = importlib.import_module(package)
    allowed = {name for where, name in UNEXPORTED if where == package}
    unexported = public_names(module) - set(module.__all__) - allowed
    assert not unexported, (
        f"{package} has public names that its __all__ does not list: {sorted(unexported)}; "
        "add them to __all__, or import them under a private name (import typing, not from typing)"
    )
    stale = allowed - public_names(module)
    assert not stale, f"{package} no longer has {sorted(stale)}: remove them from UNEXPORTED"


@pytest.mark.parametrize("package", sorted(DOCUMENTED))
def test_the_documented_names_stay_exported(package: str) -> None:
    module = importlib.import_module(package)
    assert DOCUMENTED[package] <= set(module.__all__), sorted(DOCUMENTED[package] - set(module.__all__))


# -- import direction ---------------------------------------------------------------------------

CORE = {"wire", "errors", "credentials", "identity", "urls", "settings", "observe"}
CAPABILITIES = {"callbacks", "flows", "rest", "soap", "stuf", "cli", "django", "telemetry"}

# Imports of another package's private module that exist today, each in code another change is
# moving; the test fails on any new one, and on an entry that is gone (remove it then).
PRIVATE_IMPORTS_TODAY = {
    # The server/store/callbacks reshape (one call pipeline with an extension seam; the store
    # owns every table) moves these: callbacks plug in through the seam and ask the store's
    # public names; the rate limiter asks the Backend for its counters.
    ("interlink.callbacks._outbox", "interlink.store._models"),
    ("interlink.callbacks._worker", "interlink.store._models"),
    # The CLI's commands, which follow those packages' new public names in the same reshape.
    ("interlink.cli._services", "interlink.store._services"),
    # The rest split into interlink.rest.client and interlink.rest.server, which builds the
    # client on interlink.http's public names (token flows, the bounded transport's keys).
    ("interlink.rest._arguments", "interlink.wire._json"),
    ("interlink.rest._arguments", "interlink.wire._limits"),
    ("interlink.rest._client", "interlink.http._auth"),
    ("interlink.rest._client", "interlink.http._client"),
    ("interlink.rest._client", "interlink.http._errors"),
    ("interlink.rest._client", "interlink.http._jwt"),
    ("interlink.rest._client", "interlink.http._oauth2"),
    ("interlink.rest._client", "interlink.http._options"),
    ("interlink.rest._client", "interlink.http._retry"),
    ("interlink.rest._client", "interlink.http._transport"),
    ("interlink.rest._device", "interlink.http._errors"),
    ("interlink.rest._device", "interlink.http._oauth2"),
    ("interlink.rest._device", "interlink.http._transport"),
    ("interlink.rest._jwt_auth", "interlink.http._transport"),
    ("interlink.rest._openid", "interlink.http._errors"),
    ("interlink.rest._openid", "interlink.http._oauth2"),
    ("interlink.rest._openid", "interlink.http._transport"),
    # StUF is built on the SOAP client's parts; nobody is moving these yet: interlink.soap
    # should export what StUF needs (the lead decides when).
    ("interlink.stuf._client", "interlink.soap._errors"),
    ("interlink.stuf._client", "interlink.soap._faults"),
    ("interlink.stuf._client", "interlink.soap._options"),
    ("interlink.stuf._client", "interlink.soap._transport"),
    ("interlink.stuf._client", "interlink.soap._wsse"),
    ("interlink.stuf._client", "interlink.soap._xml"),
    ("interlink.stuf._errors", "interlink.soap._errors"),
    ("interlink.stuf._stuf", "interlink.soap._options"),
    ("interlink.stuf._templates", "interlink.soap._xml"),
}

SERVER_IMPORTS_TODAY: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every module a file imports, anywhere in it (lazy and TYPE_CHECKING imports count too);
    for ``from m import n``, both ``m`` and ``m.n`` (n may be a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names)


def interlink_imports() -> Iterator[tuple[str, str]]:
    """(importing module, imported interlink module) for every file of src/interlink."""
    for path in sorted((SRC / "interlink").rglob("*.py")):
        importer = module_name(path)
        for target in imported_modules(path):
            if target.startswith("interlink."):
                yield importer, target


def package_of(module: str) -> str:
    """``interlink.store._models`` -> ``store``; ``interlink.errors`` -> ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def private_module(target: str) -> str | None:
    """The private module a name lies in (``interlink.store._models``), or None."""
    parts = target.split(".")
    for i, part in enumerate(parts[2:], start=2):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[: i + 1])
    return None


def test_the_import_walk_resolves_relative_imports() -> None:
    # The walk itself, on a file of the real tree: a relative import resolves to its package.
    found = set(imported_modules(SRC / "interlink" / "wire" / "__init__.py"))
    assert "interlink.wire._shape" in found
    assert "interlink.wire._shape.shape_of" in found
    assert private_module("interlink.store._models.Base") == "interlink.store._models"
    assert private_module("interlink.store.Role") is None


def test_the_core_imports_no_shell() -> None:
    wrong = sorted(
        (importer, target)
        for importer, target in interlink_imports()
        if package_of(importer) in CORE and package_of(target) not in CORE
    )
    assert not wrong, f"the core imports a shell (move the code, or pass the value in): {wrong}"


def test_wire_imports_nothing_of_interlinks() -> None:
    wrong = sorted(
        (importer, target)
        for importer, target in interlink_imports()
        if package_of(importer) == "wire" and package_of(target) != "wire"
    )
    assert not wrong, f"interlink.wire must stand alone (it is the core of the core): {wrong}"


def test_the_server_imports_no_capability_package() -> None:
    found = {
        (importer, "interlink." + package_of(target))
        for importer, target in interlink_imports()
        if package_of(importer) == "server" and package_of(target) in CAPABILITIES
    }
    new = sorted(found - SERVER_IMPORTS_TODAY)
    assert not new, f"the server imports a capability package (extensions attach to it instead): {new}"
    gone = sorted(SERVER_IMPORTS_TODAY - found)
    assert not gone, f"these imports are gone: remove them from SERVER_IMPORTS_TODAY: {gone}"


def test_only_interlink_django_imports_django() -> None:
    # Django is the django extra's: the rest of interlink must import without it.
    wrong = set()
    for path in sorted((SRC / "interlink").rglob("*.py")):
        importer = module_name(path)
        if package_of(importer) == "django":
            continue
        for target in imported_modules(path):
            if target == "django" or target.startswith("django."):
                wrong.add(importer)
    assert not wrong, f"only interlink.django may import Django: {sorted(wrong)}"


def test_no_package_imports_another_packages_private_module() -> None:
    found = set()
    for importer, target in interlink_imports():
        private = private_module(target)
        if private is not None and package_of(private) != package_of(importer):
            found.add((importer, private))
    new = sorted(found - PRIVATE_IMPORTS_TODAY)
    assert not new, (
        "these modules import another package's private module; import its public name "
        f"(export it from the package if it has none): {new}"
    )
    gone = sorted(PRIVATE_IMPORTS_TODAY - found)
    assert not gone, f"these imports are gone: remove them from PRIVATE_IMPORTS_TODAY: {gone}"
