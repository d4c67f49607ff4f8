"""The user documentation builds without warnings, and the code on the tutorial path runs.

A page's code is what a reader copies, so the test copies it too, against real servers on
127.0.0.1 (random ports), in a fresh directory:

* on the tutorial pages (``docs/tutorial/*.md``) and in ``README.md`` every fenced block runs,
  in page order, unless the line before it is ``<!-- not run: why -->``:
  a block with ``title="FILE"`` is written to that file; ``python`` blocks run as scripts;
  ``sh`` blocks run command by command (``export`` lines set the environment of the next
  commands, ``make run`` and ``interlink serve …`` start a server in the background, ``curl``
  gets ``--fail-with-body`` so an error status fails the block); ``text`` blocks are output;
* on any page, a block after ``<!-- run against: mysite -->`` runs against the example site
  (``python -m examples.mysite``, which ``make run`` serves) from the directory holding its
  ``var/credentials``.

``127.0.0.1:8000`` and ``--port 8000`` in a block are replaced by the port of the server that
block talks to.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from servers import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIAL = [DOCS / "tutorial" / name for name in ("first-steps.md", "own-method.md", "site-page.md", "client-script.md")]


FENCE = re.compile(r"^```(?P<info>[^`]*)$")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    title: str | None
    marker: str
    code: str

    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """Top-level fenced blocks (not those indented inside admonitions), with the comment before each."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        info = match.group("info").strip()
        lang = info.split()[0] if info else ""
        title = re.search(r'title="([^"]+)"', info)
        end = index + 1
        while end < len(lines) and lines[end] != "```":
            end += 1
        before = index - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        comment = re.fullmatch(r"\s*<!--\s*(.*?)\s*-->\s*", lines[before]) if before >= 0 else None
        found.append(
            Block(
                page=str(path.relative_to(ROOT)),
                line=index + 1,
                lang=lang,
                title=title.group(1) if title else None,
                marker=comment.group(1) if comment else "",
                code="\n".join(lines[index + 1 : end]) + "\n",
            )
        )
        index = end + 1
    return found


def commands_of(code: str) -> list[str]:
    """Shell commands, one per logical line (backslash continuations joined, comments dropped)."""
    commands, current = [], ""
    for raw in code.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip() and not current.lstrip().startswith("#"):
            commands.append(current.strip())
        current = ""
    return commands


class Runner:
    """Runs blocks in one working directory, with the servers they start."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("INTERLINK_")}
        self.env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + self.env.get("PATH", "")
        self.env["PYTHONPATH"] = str(ROOT)
        self.env.pop("MYSITE_DATA_DIR", None)
        self.env.pop("MYSITE_DEMO_PASSWORD", None)
        self.servers: dict[str, tuple[subprocess.Popen, int]] = {}
        self.current: str | None = None

    # servers -----------------------------------------------------------------------------
    def start(self, kind: str, argv: list[str], block: Block) -> None:
        self.stop(kind)
        port = free_port()
        env = dict(self.env, HOST="127.0.0.1", PORT=str(port))
        argv = [str(port) if arg == "8000" else arg for arg in argv]
        process = subprocess.Popen(
            argv, cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.servers[kind] = (process, port)
        self.current = kind
        try:
            wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", process)
        except RuntimeError as error:
            pytest.fail(f"{block.where()}: {' '.join(argv)} did not serve: {error}")

    def start_mysite(self, block: Block) -> None:
        self.start("mysite", [sys.executable, "-m", "examples.mysite"], block)

    def port(self, kind: str | None = None) -> int:
        kind = kind or self.current
        assert kind in self.servers, "no server is running for this block"
        return self.servers[kind][1]

    def stop(self, kind: str) -> None:
        entry = self.servers.pop(kind, None)
        if entry:
            process = entry[0]
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()

    def close(self) -> None:
        for kind in list(self.servers):
            self.stop(kind)

    # blocks ------------------------------------------------------------------------------
    def substitute(self, text: str, kind: str | None = None) -> str:
        if kind is None and not self.servers:
            return text
        port = self.port(kind)
        return text.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("--port 8000", f"--port {port}")

    def run(self, block: Block, *, everything: bool) -> None:
        marker = block.marker
        if marker.startswith("not run"):
            return
        against = marker.partition("run against:")[2].strip() or None
        if not everything and not against:
            return
        if against == "mysite" and "mysite" not in self.servers:
            self.start_mysite(block)
        if block.title:
            target = self.workdir / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.substitute(block.code, against) if self.servers else block.code)
        elif block.lang == "python":
            script = self.workdir / f"_doc_block_{block.line}.py"
            script.write_text(self.substitute(block.code, against))
            self.check(block, [sys.executable, str(script)])
        elif block.lang in ("sh", "bash", "shell"):
            for command in commands_of(block.code):
                self.run_command(block, command, against)

    def run_command(self, block: Block, command: str, against: str | None) -> None:
        if command == "make run":
            self.start_mysite(block)
        elif command.startswith("interlink serve "):
            self.start("own", shlex.split(command), block)
        elif command.startswith("export "):
            name, _, value = command[len("export ") :].partition("=")
            self.env[name] = " ".join(shlex.split(value))
        else:
            command = self.substitute(command, against)
            if command.startswith("curl "):
                command = "curl -sS --fail-with-body " + command[len("curl ") :]
            self.check(block, ["bash", "-o", "pipefail", "-c", command])

    def check(self, block: Block, argv: list[str]) -> None:
        done = subprocess.run(argv, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            pytest.fail(
                f"{block.where()}: {argv[-1]!r} exited {done.returncode}\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            )


@pytest.fixture
def runner(tmp_path: Path):
    runner = Runner(tmp_path)
    yield runner
    runner.close()


def run_pages(runner: Runner, pages: list[Path], *, everything: bool) -> None:
    for page in pages:
        for block in blocks_of(page):
            runner.run(block, everything=everything)
        if page.name == "site-page.md":
            check_site_page(f"http://127.0.0.1:{runner.port('own')}")


def check_site_page(base: str) -> None:
    """What a browser does on the tutorial's page: log in, open /users, submit its form."""
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert browser.get("/users").status_code in (302, 303, 307)
        login = browser.get("/login", params={"next": "/users"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        answer = browser.post(
            "/login",
            data={"username": "joebloggs", "password": "correct horse battery staple", "csrf_token": token, "next": "/users"},
        )
        assert answer.status_code in (302, 303), answer.text
        page = browser.get("/users")
        assert page.status_code == 200
        assert 'action="/api/home/list_users"' in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        result = browser.post(
            "/api/home/list_users", data={"filter.name_gt": "a", "filter.name_lt": "k", "csrf_token": csrf}
        )
        assert result.status_code == 200, result.text
        assert [row["username"] for row in result.json()] == ["joebloggs", "johndoe"]


def test_site_builds_strict(tmp_path: Path) -> None:
    """mkdocs build --strict: a broken link, a page missing from the nav or a bad anchor fails."""
    mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
    argv = [mkdocs] if mkdocs else [sys.executable, "-m", "mkdocs"]
    done = subprocess.run(
        [*argv, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    index = (tmp_path / "site" / "index.html").read_text()
    assert "fonts.googleapis.com" not in index  # offline: no CDN fonts
    for page in (tmp_path / "site").rglob("*.html"):  # offline: no script or stylesheet from the network
        html = page.read_text()
        assert not re.search(r'<script[^>]+src="https?://|<link[^>]+rel="stylesheet"[^>]+href="https?://', html), page
    assert (tmp_path / "site" / "search" / "search_index.json").exists()


def test_tutorial_first_steps(runner: Runner) -> None:
    run_pages(runner, TUTORIAL[:1], everything=True)


def test_tutorial_own_method_page_and_client(runner: Runner) -> None:
    run_pages(runner, TUTORIAL, everything=True)


def test_readme_runs(runner: Runner) -> None:
    run_pages(runner, [ROOT / "README.md"], everything=True)


def test_marked_examples_on_reference_pages(runner: Runner) -> None:
    pages = sorted(p for p in DOCS.rglob("*.md") if "tutorial" not in p.parts)
    marked = [p for p in pages if "<!-- run against:" in p.read_text()]
    assert DOCS / "client.md" in marked  # describe_user(user=users[0].user) among them
    run_pages(runner, marked, everything=False)


def test_docs_speak_to_users() -> None:
    """No internal bookkeeping on the user's pages: upstream systems are named by name."""
    owned_elsewhere = {"benchmarks.md", "performance.md"}
    words = re.compile(r"\bseeds?\b|\bissue \d+|\bthe issue\b|seeds/", re.IGNORECASE)
    offenders = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        if page.name in owned_elsewhere:
            continue
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if words.search(line):
                offenders.append(f"{page.relative_to(ROOT)}:{number}: {line.strip()}")
    # The code too: its docstrings and comments are read by users of the package. ("the issue"
    # is allowed there: a sync's conflicts and quarantined records are its issues.)
    in_code = re.compile(r"\bseeds?\b|\bissue \d+|seeds/", re.IGNORECASE)
    for source in [*sorted((ROOT / "src").rglob("*.py")), *sorted((ROOT / "examples").rglob("*.py"))]:
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if in_code.search(line):
                offenders.append(f"{source.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
