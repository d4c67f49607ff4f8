"""Where records come from: :class:`RestSource`, a paged REST list endpoint.

A source yields *pages* (lists of records) for a cursor value: records whose cursor field is
at or after it, in cursor order, so a run can store the cursor after each committed page. The
``>=`` is on purpose: records sharing the boundary timestamp are read again and absorbed by
the id map (same hash → skipped) instead of being lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Source", "RestSource", "Page", "parse_page", "MAX_PAGE_RECORDS", "MAX_PAGE_BYTES"]

#: Bounds on what one source page may hold, so a hostile or broken source cannot exhaust memory.
MAX_PAGE_RECORDS = 10_000
MAX_PAGE_BYTES = 64 * 1024 * 1024


def parse_page(body: Any, results: str = "results") -> tuple[list[dict[str, Any]], int | None, str | None]:
    """A decoded source page → (records, total or None, next URL or None); ValueError if malformed."""
    if isinstance(body, list):
        records, total, next_url = body, len(body), None
    elif isinstance(body, dict) and isinstance(body.get(results), list):
        records, total, next_url = body[results], body.get("count"), body.get("next") or None
    else:
        raise ValueError(f"the source answered neither a list nor an object with {results!r}")
    if len(records) > MAX_PAGE_RECORDS:
        raise ValueError(f"a source page holds {len(records)} records; at most {MAX_PAGE_RECORDS}")
    if not all(isinstance(record, dict) for record in records):
        raise ValueError("every source record must be a JSON object")
    if next_url is not None and not isinstance(next_url, str):
        raise ValueError("the source's next link is not a string")
    return records, total if isinstance(total, int) and not isinstance(total, bool) else None, next_url


@dataclass
class Page:
    records: list[dict[str, Any]]
    #: Total number of matching records when the source says so (``count``), else ``None``.
    total: int | None = None


class Source(Protocol):
    def pages(self, since: Any) -> Iterator[Page]: ...

    def record_id(self, record: dict[str, Any]) -> str: ...

    def record_cursor(self, record: dict[str, Any]) -> Any: ...


@dataclass
class RestSource:
    """A REST list endpoint read page by page with an ``interlink.http`` client.

    ``RestSource(client, "/api/customers", id="id", cursor="updated_at")`` asks
    ``GET /api/customers?updated_at__gte=<cursor>&page_size=100`` and follows the answer's
    ``next`` link; records are in ``results`` (Django REST framework's page shape) or the body is
    the list itself. ``cursor=None`` reads everything on every run (the id map still skips what
    did not change). ``since_param``/``page_size_param``/``results`` adapt other APIs.
    """

    client: Any
    path: str
    id: str = "id"
    cursor: str | None = None
    page_size: int = 200
    since_param: str | None = None
    page_size_param: str = "page_size"
    results: str = "results"
    params: dict[str, str] = field(default_factory=dict)

    def record_id(self, record: dict[str, Any]) -> str:
        try:
            value = record[self.id]
        except (KeyError, TypeError):
            raise ValueError(f"a source record has no {self.id!r} field") from None
        if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value) or len(str(value)) > 255:
            raise ValueError(f"a source record's {self.id!r} must be a string or integer of 1 to 255 characters")
        return str(value)

    def record_cursor(self, record: dict[str, Any]) -> Any:
        return record.get(self.cursor) if self.cursor else None

    def pages(self, since: Any = None) -> Iterator[Page]:
        params = {**self.params, self.page_size_param: str(self.page_size)}
        if self.cursor and since is not None:
            params[self.since_param or f"{self.cursor}__gte"] = str(since)
        url: str | None = self.path
        query: dict[str, str] | None = params
        while url is not None:
            response = self.client.get(url, params=query)
            response.raise_for_status()
            if len(response.content) > MAX_PAGE_BYTES:
                raise ValueError(f"a source page is {len(response.content)} bytes; at most {MAX_PAGE_BYTES}")
            records, total, next_url = parse_page(response.json(), self.results)
            if next_url is not None and next_url == url:
                raise ValueError("the source's next link points at the page just read")
            url, query = next_url, None  # the next link carries the query (httpx: params={} would drop it)
            yield Page(records, total if isinstance(total, int) else None)
