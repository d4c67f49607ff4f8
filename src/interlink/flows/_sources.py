"""Where records come from: the :class:`Source` protocol and :class:`RestSource`, a paged REST
list endpoint.

A source yields *pages* (lists of records) for a cursor value: records whose cursor field is
at or after it, in cursor order, so a run can store the cursor after each committed page. The
``>=`` is on purpose: records sharing the boundary timestamp are read again and absorbed by
the id map (same hash → skipped) instead of being lost.

A source is a system we do not control. Each page is read within ``max_page_bytes`` (refused as
it streams, before more is buffered), and ``next`` links are followed at most ``max_pages``
times per run and never to a page already read: a source whose links go round in a circle
stops the run with an error naming the link, instead of being read forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from interlink.flows._exchange import open_answer, prepare, read_answer
from interlink.http import ResponseTooLarge
from interlink.urls import redact_url

__all__ = ["Source", "RestSource", "Page", "SourceError", "parse_page", "MAX_PAGE_RECORDS", "MAX_PAGE_BYTES",
           "MAX_PAGES"]

#: Bounds on what one source page may hold, so a hostile or broken source cannot exhaust memory.
MAX_PAGE_RECORDS = 10_000
MAX_PAGE_BYTES = 64 * 1024 * 1024
#: Pages one run reads at most (``RestSource(max_pages=...)``): 20 million records at 200 a page.
MAX_PAGES = 100_000


class SourceError(ValueError):
    """The source answered something a run cannot use (a malformed or too large page, ``next``
    links in a circle): the run stops, with the cursor after the last page committed."""


def parse_page(body: Any, results: str = "results") -> tuple[list[dict[str, Any]], int | None, str | None]:
    """A decoded source page → (records, total or None, next URL or None); SourceError if malformed."""
    total: Any
    if isinstance(body, list):
        records, total, next_url = body, len(body), None
    elif isinstance(body, dict) and isinstance(body.get(results), list):
        records, total, next_url = body[results], body.get("count"), body.get("next") or None
    else:
        raise SourceError(f"the source answered neither a list nor an object with {results!r}")
    if len(records) > MAX_PAGE_RECORDS:
        raise SourceError(f"a source page holds {len(records)} records; at most {MAX_PAGE_RECORDS}")
    if not all(isinstance(record, dict) for record in records):
        raise SourceError("every source record must be a JSON object")
    if next_url is not None and not isinstance(next_url, str):
        raise SourceError("the source's next link is not a string")
    return records, total if isinstance(total, int) and not isinstance(total, bool) else None, next_url


@dataclass
class Page:
    records: list[dict[str, Any]]
    #: Total number of matching records when the source says so (``count``), else ``None``.
    total: int | None = None


@runtime_checkable
class Source(Protocol):
    """What a sync reads from. :class:`RestSource` is one; write your own for other systems.

    ``client`` is the ``httpx.Client`` (an ``interlink.http`` client, usually) the source reads
    with: a run keeps its connections open from the first page to the last.
    """

    client: Any

    def pages(self, since: Any) -> Iterator[Page]:
        """Pages of records whose cursor is at or after ``since`` (everything for ``None``),
        in cursor order."""
        ...

    def record_id(self, record: dict[str, Any]) -> str:
        """The record's id at the source: a string of 1 to 255 characters."""
        ...

    def record_cursor(self, record: dict[str, Any]) -> Any:
        """The record's cursor value (its last-modified time), or ``None`` without a cursor."""
        ...


@dataclass
class RestSource:
    """A REST list endpoint read page by page with an ``interlink.http`` client.

    ``RestSource(client, "/api/customers", id="id", cursor="updated_at")`` asks
    ``GET /api/customers?updated_at__gte=<cursor>&page_size=100`` and follows the answer's
    ``next`` link; records are in ``results`` (Django REST framework's page shape) or the body is
    the list itself. ``cursor=None`` reads everything on every run (the id map still skips what
    did not change). ``since_param``/``page_size_param``/``results`` adapt other APIs.
    ``max_page_bytes`` and ``max_pages`` bound what one page and one run may read.
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
    max_page_bytes: int = MAX_PAGE_BYTES
    max_pages: int = MAX_PAGES

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
        request = prepare(self.client, "GET", self.path, self.max_page_bytes, params=params)
        seen: set[str] = set()
        while True:
            url = str(request.url)
            if url in seen:
                raise SourceError(f"the source's next links go round in a circle: {redact_url(url)} was already "
                                  "read in this run; fix the source's paging (the pages read so far are committed)")
            if len(seen) >= self.max_pages:
                raise SourceError(f"the source still had a next link after {self.max_pages} pages "
                                  f"(RestSource(max_pages=...)), at {redact_url(url)}")
            seen.add(url)
            page, next_url = self._page(request)
            yield page
            if next_url is None:
                return
            # The next link carries the query (httpx: params={} would drop it).
            request = prepare(self.client, "GET", next_url, self.max_page_bytes)

    def _page(self, request: Any) -> tuple[Page, str | None]:
        try:
            response = open_answer(self.client, request)
            if response.is_error:
                response.close()
                response.raise_for_status()
            answer = read_answer(response, self.max_page_bytes)
        except ResponseTooLarge as error:
            raise SourceError(
                f"the source's page {redact_url(request.url)} is larger than {error.limit} bytes "
                "(RestSource(max_page_bytes=...)); ask for smaller pages (page_size=) or raise the limit") from error
        try:
            body = answer.json()
        except ValueError:
            raise SourceError(f"the source's page {answer.url} is not JSON: {answer.excerpt()[:200]!r}") from None
        records, total, next_url = parse_page(body, self.results)
        return Page(records, total), next_url
