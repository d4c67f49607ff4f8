"""``pagination_helper``: the results of a paginated list, following ``next`` links.

zgw-consumers' helper for DRF-style pages (``{"count", "next", "previous", "results"}``),
same call shape: ``pagination_helper(client, first_page_data, max_requests=None, **kwargs)``
yields every result; ``kwargs`` go to each ``client.get``. Differences, on purpose: it loops
instead of recursing (zgw-consumers' recursion fails past ~1,000 pages), and a list that does
not end is refused instead of being read forever: a ``next`` link already followed, or one more
after ``max_pages`` pages (default :data:`MAX_PAGES`), raises :class:`PaginationError` naming
the link. ``next`` links go through the client, so one outside its base URL raises
``InvalidURLError`` before the service's credentials are sent there.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

from interlink.http._errors import ClientError
from interlink.urls import redact_url

__all__ = ["pagination_helper", "PaginationError", "MAX_PAGES"]

#: Pages :func:`pagination_helper` fetches at most unless ``max_pages`` says otherwise: a list
#: whose ``next`` links never end (a server generating them) is an error, not a loop.
MAX_PAGES = 10_000

logger = logging.getLogger(__name__)


class PaginationError(ClientError):
    """A paginated list that cannot be followed (a ``next`` link seen before, too many pages)."""


def pagination_helper(client: Any, paginated_data: Mapping[str, Any], max_requests: int | None = None,
                      *, max_pages: int = MAX_PAGES, **kwargs: Any) -> Iterator[Any]:
    """Yield the results of ``paginated_data`` and of every page after it.

    ``max_requests`` stops quietly after that many pages fetched (``None`` or ``0``: no such
    stop, as in zgw-consumers). ``max_pages`` is the bound on a list that does not end: one
    more ``next`` link after that many pages raises :class:`PaginationError`.
    """
    data = paginated_data
    seen: set[str] = set()
    requests_made = 0
    while True:
        yield from data["results"]
        next_url = data.get("next")
        if not next_url:
            return
        if max_requests and requests_made >= max_requests:
            logger.info("paginated results: stopped after the maximum of %s requests", max_requests)
            return
        if not isinstance(next_url, str):
            raise PaginationError(f"the page's next link is not a URL: {type(next_url).__name__}")
        if next_url in seen:
            raise PaginationError(f"pagination loops: the next link {redact_url(next_url)!r} was already followed")
        if requests_made >= max_pages:
            raise PaginationError(f"the list still has a next link after {max_pages} pages (max_pages=...): "
                                  f"{redact_url(next_url)!r}")
        seen.add(next_url)
        response = client.get(next_url, **kwargs)
        requests_made += 1
        response.raise_for_status()
        data = response.json()
