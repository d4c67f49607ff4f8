"""Types are checked: mypy in strict mode on the packages listed under [tool.mypy] in pyproject.toml.

A package joins that list once it type-checks; the test fails with mypy's own report, so the
message names the file, the line and the fix. mypy runs in a child process with the project's
cache (.mypy_cache), so a second run takes a few seconds.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"

# Checked strictly today; a package may join, none may leave.
STRICT = {
    "src/interlink/wire",
    "src/interlink/errors.py",
    "src/interlink/credentials.py",
    "src/interlink/client",
    "src/interlink/http",
    "src/interlink/flows",
    "src/interlink/identity.py",
    "src/interlink/urls.py",
    "src/interlink/settings.py",
    "src/interlink/store",
    "src/interlink/server",
    "src/interlink/callbacks",
}


def mypy(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    try:
        import mypy  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        raise AssertionError("mypy is not installed: pip install -e '.[test]'") from None
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def config() -> dict[str, object]:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]


def test_the_listed_packages_type_check_strictly() -> None:
    result = mypy()
    assert result.returncode == 0, (
        "mypy --strict found errors in the packages listed under [tool.mypy] files in "
        "pyproject.toml; fix them (or, at a true boundary, type the value as Any):\n"
        + result.stdout
        + result.stderr
    )


def test_the_configuration_is_strict_and_keeps_its_packages() -> None:
    settings = config()
    assert settings["strict"] is True
    files = settings["files"]
    assert isinstance(files, list)
    missing = STRICT - set(files)
    assert not missing, f"these packages left the strict type check: {sorted(missing)}"
    for name in files:
        assert (ROOT / name).exists(), f"[tool.mypy] files names {name}, which does not exist"


def test_the_check_fails_on_an_untyped_function(tmp_path: Path) -> None:
    # The same configuration on a file with the mistakes strict mode exists for: the check can fail.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import Any\n"
        "def untyped(x):\n"
        "    return x\n"
        "def loose(x: Any) -> int:\n"
        "    return x\n"
        "def wrong() -> int:\n"
        "    return 'one'\n"
    )
    result = mypy("--cache-dir", str(tmp_path / "cache"), str(sample), timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[no-untyped-def]" in result.stdout
    assert "[no-any-return]" in result.stdout
    assert "[return-value]" in result.stdout
