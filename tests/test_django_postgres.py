"""interlink.django on PostgreSQL: the Django tests (test client and real servers) run once more,
in a pytest process of their own (Django is configured once per process), on a database made
for this run on the server at INTERLINK_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("INTERLINK_TEST_POSTGRES_URL"), reason="INTERLINK_TEST_POSTGRES_URL is not set"),
    pytest.mark.timeout(600),
]


def test_the_django_tests_pass_on_postgresql(postgres_database_url: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "INTERLINK_DJANGO_SQLITE"}
    env["INTERLINK_DJANGO_POSTGRES_URL"] = postgres_database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", "-x",
         "test_django.py", "test_django_servers.py"],
        cwd=TESTS, env=env, capture_output=True, text=True, timeout=540,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
