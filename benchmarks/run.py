"""`make bench`: run every `benchmarks/bench_*.py` and write `docs/benchmarks.md`.

Each benchmark module exposes `run() -> str`, a markdown section (heading, table, notes) measured
in this run, peers included. A module may be named on the command line to run only it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import platform
import sys
from pathlib import Path

import benchmarks

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n in argv or n.removeprefix("bench_") in argv]
    sections = []
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        section = module.run()
        print(section, flush=True)
        sections.append(section)
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {platform.machine()}, "
        "every peer measured in the same run on this machine (2 cores, loopback).\n\n"
    )
    DOC.write_text(header + "\n\n".join(sections) + "\n")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
