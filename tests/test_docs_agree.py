"""The documentation agrees with the code and with itself on the facts a user acts on.

The README's install table is what a new user installs from, so every extra of
``pyproject.toml`` appears in it, and nothing in it names an extra that does not exist. The
other checks hold statements that once contradicted the code.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_EXTRAS = {"test", "docs", "bench"}


def pyproject_extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(project["optional-dependencies"])


def readme_install_table() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 2, "the Install section of README.md has no table"
    return "\n".join(rows)


def extras_named_in(text: str) -> set[str]:
    named: set[str] = set()
    for group in re.findall(r"(?:interlink|\.)\[([a-z0-9_,-]+)\]", text):
        named.update(group.split(","))
    return named


def test_readme_install_table_lists_every_extra() -> None:
    extras = set(pyproject_extras())
    named = extras_named_in(readme_install_table())
    assert extras - named == set(), f"README.md's install table lacks {sorted(extras - named)}"
    assert named - extras == set(), f"README.md's install table names unknown extras {sorted(named - extras)}"


def test_all_is_every_user_extra() -> None:
    extras = pyproject_extras()
    (all_requirement,) = extras["all"]
    in_all = extras_named_in(all_requirement)
    expected = set(extras) - {"all"} - DEVELOPMENT_EXTRAS
    assert in_all == expected


def test_token_request_error_is_not_the_servers_not_authorised() -> None:
    from interlink.errors import NotAuthorised
    from interlink.http import ClientError, TokenRequestError

    assert issubclass(TokenRequestError, ClientError)
    assert not issubclass(TokenRequestError, NotAuthorised)
    for page in [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]:
        text = page.read_text()
        assert not re.search(r"TokenRequestError`?\s*\((a|an)\s+`?NotAuthorised", text), page


def test_rest_server_page_does_not_disown_its_sessions() -> None:
    page = (ROOT / "docs" / "rest-server.md").read_text()
    from interlink.rest.server import Session, SessionMixin  # noqa: F401 - documented, so importable

    not_carried = re.search(r"Not carried over:(.*?)\n\n", page, re.S)
    assert not_carried is not None
    assert "session" not in not_carried.group(1).lower()
