"""URL rules for clients pinned to a base URL: pure functions, no I/O and no httpx.

They live in the core because the store checks service records' base URLs with the same
rules that the clients (``interlink.http``, ``interlink.rest``) enforce on every request.

Why our own guard instead of ape-pie's:

A client pinned to a base URL attaches that service's credentials to every request, so a
URL that leaves the base must never be sent. ape-pie checks containment with
``str.startswith``, which lets ``https://example.com.evil.org`` through for the base
``https://example.com`` and ``https://example.com/api-other`` through for
``https://example.com/api``. Here containment means: same scheme, same host, same port
(default ports made explicit) and the base's path *segments* are a prefix of the target's
path segments, after ``.``/``..`` (also percent-encoded) are resolved.
"""

from __future__ import annotations

import functools
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

__all__ = ["URLRuleError", "normalise_base_url", "resolve_url", "is_inside", "is_base_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class URLRuleError(ValueError):
    """A URL that breaks the rules: malformed, or outside the base URL.

    ``interlink.http.InvalidURLError`` (also an ``httpx.InvalidURL``) is what clients raise;
    the store sees this plain ``ValueError`` (SQLAlchemy validators expect one).
    """


@functools.lru_cache(maxsize=256)  # pure, and asked for the same few bases on every request
def normalise_base_url(base_url: str) -> str:
    """The base URL as a directory: absolute http(s), no query or fragment, ending in ``/``."""
    parts = urlsplit(str(base_url).strip())
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise URLRuleError(f"base URL must be an absolute http(s) URL, got {base_url!r}")
    if parts.query or parts.fragment:
        raise URLRuleError(f"base URL must not have a query or fragment: {base_url!r}")
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    userinfo, _, host = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{host.lower()}" if userinfo else host.lower()
    return urlunsplit((parts.scheme.lower(), netloc, path, "", ""))


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise URLRuleError(f"bad port in {urlunsplit(parts)!r}") from exc
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def _segments(path: str) -> list[str]:
    """Absolute path -> segments with dot segments resolved (RFC 3986 5.2.4).

    Percent-encoded dots count as dots: servers decode them before routing. A trailing
    empty segment stands for a trailing ``/``.
    """
    out: list[str] = []
    raw = path.split("/")[1:] if path.startswith("/") else path.split("/")
    for index, segment in enumerate(raw):
        plain = unquote(segment)
        last = index == len(raw) - 1
        if plain in (".", ".."):
            if plain == ".." and out:
                out.pop()
            if last:
                out.append("")
            continue
        out.append(segment)
    return out or [""]


def is_inside(base_url: str, url: str) -> bool:
    """Whether the absolute ``url`` lies under the (normalised) ``base_url``.

    The base itself counts as inside, with or without its trailing ``/``.
    """
    origin, base_segments = _base(base_url)
    target = urlsplit(url)
    if origin != _origin(target):
        return False
    target_segments = _segments(target.path or "/")
    return tuple(target_segments[: len(base_segments)]) == base_segments


@functools.lru_cache(maxsize=256)  # pure; the same few bases on every request
def _base(base_url: str) -> tuple[tuple[str, str, int], tuple[str, ...]]:
    base = urlsplit(normalise_base_url(base_url))
    return _origin(base), tuple(s for s in _segments(base.path) if s)


def is_base_url(url: object) -> bool:
    """Whether ``url`` is absolute: it has a scheme *and* a host (ape-pie's rule).

    ``documents:search`` or ``urn:uuid:...`` have a "scheme" to ``urlsplit`` but no host: they
    are relative paths. A protocol-relative ``//host/x`` is not absolute either. Text that
    cannot be parsed as a URL raises ``ValueError``.
    """
    return _is_absolute(urlsplit(url.decode("utf-8") if isinstance(url, bytes) else str(url)))


def _is_absolute(parts: SplitResult) -> bool:
    return bool(parts.scheme and parts.netloc)


def resolve_url(base_url: str, url: object) -> str:
    """The absolute URL for ``url`` under ``base_url``, or :class:`URLRuleError`.

    Relative URLs (with or without a leading ``/``) are resolved under the base, keeping
    their query string; absolute ones must already lie inside it. A leading ``/`` means
    "under the base", as rest-tools' and ape-pie's users write ``"/fruits"`` and ``"fruits"``
    interchangeably. A scheme without a host (``documents:search``, ``urn:uuid:...``) is part
    of a relative path, as ape-pie treats it. Dot segments are resolved *before* the
    containment check, so ``../`` cannot climb out of the base.
    """
    text = url.decode("utf-8") if isinstance(url, bytes) else str(url)
    base = normalise_base_url(base_url)
    base_parts = urlsplit(base)
    if text.startswith("//"):  # protocol-relative: the base's scheme
        text = f"{base_parts.scheme}:{text}"
    parts = urlsplit(text)
    if _is_absolute(parts):
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            raise URLRuleError(f"not an http(s) URL: {_redact(text)!r}")
        scheme, netloc, raw_path = parts.scheme.lower(), parts.netloc, parts.path or "/"
    else:
        # Only scheme *and* host make a URL absolute (ape-pie's rule): ``documents:search``
        # and ``urn:uuid:...`` are paths under the base, not URLs with a scheme.
        if parts.scheme:
            parts = urlsplit("./" + text)
        scheme, netloc = base_parts.scheme, base_parts.netloc
        raw_path = base_parts.path + parts.path.lstrip("/")
    path = "/" + "/".join(_segments(raw_path))
    absolute = urlunsplit((scheme, netloc, path, parts.query, parts.fragment))
    if not is_inside(base, absolute):
        raise URLRuleError(
            f"URL {_redact(absolute)!r} is outside the client's base URL {base!r}; "
            "refusing to send the service's credentials there"
        )
    return absolute


def _redact(url: str) -> str:
    """The URL without its query string or userinfo: either may carry a secret."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, quote(unquote(parts.path)), "", ""))
