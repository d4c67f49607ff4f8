"""schemathesis against the example site's /api/openapi.json, served by a real uvicorn.

The document is only useful if it is exact: requests generated from it must reach the methods,
and every answer must be one it declares. Bounded and repeatable: a fixed number of examples per
operation and media type, derandomized (a fixed seed), no example database. Valid requests
(positive mode) carry a store-backed key in the Authorization header the way Swagger UI's
Authorize sends it; invalid ones (negative mode) must be refused with a declared 4xx.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from example_site import example_site, new_user_key

POSITIVE_EXAMPLES = 25
NEGATIVE_EXAMPLES = 15
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def run_operation(operation: Any, media_type: str, mode: GenerationMode, examples: int, base_url: str,
                  headers: dict[str, str], statuses: Counter[int], failures: list[str]) -> int:
    """Send ``examples`` generated requests; count their statuses; collect check failures."""
    sent = 0

    # schemathesis draws a body's media type itself: keep the ones of `media_type`, so that each
    # media type gets its own bounded share.
    cases = operation.as_strategy(generation_mode=mode).filter(lambda case: case.media_type == media_type)

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def one(case: Any) -> None:
        nonlocal sent
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        sent += 1
        assert case.media_type == media_type
        statuses[response.status_code] += 1
        checks = list(CONFORMANCE)
        if mode is GenerationMode.NEGATIVE and case.media_type == "application/json":
            # Only JSON is checked for rejection: in a form every value is text, so "an integer
            # where a list of text is expected" is, once sent, a valid list of one text.
            checks.append(negative_data_rejection)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:  # a Failure, or a FailureGroup of them
            failures.append(f"{operation.label} {media_type} {mode.value}: {exc!r}"[:2000])

    try:
        one()
    except Unsatisfiable:
        pass  # e.g. no negative body exists for an operation without arguments
    return sent


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(tmp_path: Path, live_server: Any) -> None:
    site = example_site(tmp_path)
    username = f"schemathesis-{os.getpid()}-{tmp_path.name}"
    key_id, secret = new_user_key(site.database, username)
    base = live_server(site.api)
    schema = schemathesis.openapi.from_url(base + "/api/openapi.json")
    headers = {"Authorization": f"Bearer {key_id}:{secret}"}

    valid: Counter[int] = Counter()
    invalid: Counter[int] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /api/home/list_users", "POST /api/home/upload", "POST /api/home/ping"}
    for operation in operations:
        for body in operation.body:
            media_type = body.media_type
            sent = run_operation(operation, media_type, GenerationMode.POSITIVE, POSITIVE_EXAMPLES, base, headers, valid, failures)
            assert sent > 0, f"no valid request generated for {operation.label} as {media_type}"
            run_operation(operation, media_type, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, base, headers, invalid, failures)

    report = f"valid requests by status: {dict(valid)}; invalid: {dict(invalid)}"
    print(report)
    assert not failures, "\n\n".join(failures[:10]) + "\n" + report
    assert not any(status >= 500 for status in valid | invalid), report
    reached = sum(n for status, n in valid.items() if 200 <= status < 300)
    assert sum(valid.values()) >= 200, report
    assert reached * 2 >= sum(valid.values()), report
