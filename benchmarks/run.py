"""`make bench`: run every `benchmarks/bench_*.py` and write `docs/benchmarks.md`.

Each benchmark module exposes `run() -> str`, a markdown section (heading, table, notes) measured
in this run, peers included. Modules may be named on the command line (`bench_soap` or `soap`)
to run only them: their sections in `docs/benchmarks.md` are replaced and the others are kept,
each section saying when it was measured.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import platform
import re
import sys
from pathlib import Path

import benchmarks

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
# Each module's section is kept between these markers, so one module can be measured again alone.
_MARK = "<!-- {name} -->"
_SECTION = re.compile(r"<!-- (bench_\w+) -->\n(.*?)(?=\n<!-- bench_\w+ -->\n|\Z)", re.S)


def all_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))


def kept_sections() -> dict[str, str]:
    """The sections of the current document, by module (empty when it has no markers)."""
    if not DOC.exists():
        return {}
    return {name: body.rstrip("\n") for name, body in _SECTION.findall(DOC.read_text())}


def main(argv: list[str]) -> int:
    names = all_modules()
    if argv:
        names = [n for n in names if n in argv or n.removeprefix("bench_") in argv]
        if not names:
            print(f"no benchmark named {' '.join(argv)}; there are: {', '.join(all_modules())}")
            return 2
    sections = kept_sections() if argv else {}
    now = dt.datetime.now(dt.UTC)
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        section = module.run().rstrip("\n")
        print(section, flush=True)
        sections[name] = f"{section}\n\n*Measured {now:%Y-%m-%d %H:%M} UTC.*"
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench`, Python {platform.python_version()}, {platform.machine()}, on this "
        "machine (2 cores, loopback). Every peer of a section is measured in the same run as "
        "interlink; each section says when it was measured (`make bench BENCH=soap` measures one "
        "section again).\n\n"
    )
    body = "\n\n".join(_MARK.format(name=name) + "\n" + sections[name] for name in all_modules() if name in sections)
    DOC.write_text(header + body + "\n")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
