"""Why a run failed, in one line that names the peer: what a user reads first.

A run fails on a peer far more often than on a bug: the source or target does not run, a token
is refused, the target answers an error. httpx's own messages (``[Errno 111] Connection
refused``) do not say *which* URL, and a sync talks to three (source, target, token endpoint),
so the line names the URL (redacted) and what to check. The engine records this line with the
failed run (``interlink sync status``); the CLI prints it.
"""

from __future__ import annotations

import httpx

from interlink.http import TokenRequestError
from interlink.urls import redact_url, redact_urls

__all__ = ["failure_line"]


def _request_of(error: httpx.HTTPError) -> httpx.Request | None:
    try:
        return error.request
    except RuntimeError:  # httpx: an error raised without a request
        return None


def failure_line(error: BaseException) -> str:
    """One line: what failed, where (the URL, redacted), and what to check."""
    text = redact_urls(str(error).strip().splitlines()[0] if str(error).strip() else "")
    kind = type(error).__name__
    if isinstance(error, httpx.HTTPStatusError):
        sent = error.request
        return (f"HTTP {error.response.status_code} from {sent.method} {redact_url(str(sent.url))}; "
                "check the URL and the credentials of that service")
    if isinstance(error, httpx.TransportError):
        request = _request_of(error)
        where = redact_url(str(request.url)) if request is not None else "a peer"
        if isinstance(error, httpx.TimeoutException):
            return f"no answer in time from {where} ({kind}); check that it runs and is not overloaded"
        return f"cannot reach {where} ({kind}: {text or 'no detail'}); check that it runs and its URL"
    if isinstance(error, TokenRequestError):
        return f"{text}; check the token URL, the client id and its secret"
    return f"{kind}: {text}" if text else kind
