"""``pagination_helper``: the results of a paginated list, following ``next`` links.

zgw-consumers' helper for DRF-style pages (``{"count", "next", "previous", "results"}``),
same call shape: ``pagination_helper(client, first_page_data, max_requests=None, **kwargs)``
yields every result; ``kwargs`` go to each ``client.get``. Differences, on purpose: it loops
instead of recursing (zgw-consumers' recursion fails past ~1,000 pages), and a ``next`` link
already followed raises :class:`PaginationError` instead of looping forever. ``next`` links
go through the client, so one outside its base URL raises ``InvalidURLError`` before the
service's credentials are sent there.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

from interlink.http._errors import ClientError

__all__ = ["pagination_helper", "PaginationError"]

logger = logging.getLogger(__name__)


class PaginationError(ClientError):
    """A paginated list that cannot be followed (a ``next`` link seen before)."""


def pagination_helper(client: Any, paginated_data: Mapping[str, Any], max_requests: int | None = None,
                      **kwargs: Any) -> Iterator[Any]:
    """Yield the results of ``paginated_data`` and of every page after it.

    ``max_requests`` caps the pages fetched (``None`` or ``0``: no cap, as in zgw-consumers).
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
        if next_url in seen:
            raise PaginationError(f"pagination loops: the next link {next_url!r} was already followed")
        seen.add(next_url)
        response = client.get(next_url, **kwargs)
        requests_made += 1
        response.raise_for_status()
        data = response.json()
