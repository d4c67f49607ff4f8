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

``redact_url`` is the one way a URL is printed or logged: userinfo and the values of
credential-looking query parameters become ``***``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote, unquote_plus, urlsplit, urlunsplit

__all__ = [
    "CREDENTIAL_NAMES",
    "URLRuleError",
    "has_userinfo",
    "is_base_url",
    "is_credential_name",
    "is_inside",
    "normalise_base_url",
    "redact_query",
    "redact_url",
    "redact_urls",
    "resolve_url",
]

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
        shown = redact_url(base_url)
        raise URLRuleError(f"base URL must be an absolute http(s) URL, got {shown!r}")
    if parts.query or parts.fragment:
        raise URLRuleError(f"base URL must not have a query or fragment: {redact_url(base_url)!r}")
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
        raise URLRuleError(f"bad port in {redact_url(urlunsplit(parts))!r}") from exc
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
            raise URLRuleError(f"not an http(s) URL: {redact_url(text)!r}")
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
            f"URL {redact_url(absolute)!r} is outside the client's base URL {redact_url(base)!r}; "
            "refusing to send the service's credentials there"
        )
    return absolute


# -- redaction: the one way a URL reaches a terminal or a log --------------------------------

#: Parameter names (decoded, case-folded) whose values are credentials wherever they appear:
#: in a URL we print, in the server's access log, in a log line's ``name=value`` pairs.
CREDENTIAL_NAMES = frozenset({
    "key", "api_key", "apikey", "api-key", "token", "access_token", "refresh_token", "id_token",
    "secret", "client_secret", "password", "passwd", "pwd", "signature", "sig", "code", "auth",
    "authorization", "authorisation", "session", "sessionid",
    # the API-calls specification's credential field and the CSRF tokens of sites
    "csrf_token", "csrfmiddlewaretoken",
})
# Names that end like these are credentials too, whatever their prefix: ``private_token``,
# ``x-api-key``, ``X-Amz-Signature``, ``X-Amz-Credential``, ``hub.verify_token``, ``accessToken``.
# Short words (key, code, sig, session) only count on their own: ``sort_key``, ``zip_code``.
_CREDENTIAL_ENDINGS = (
    "token", "secret", "password", "passwd", "signature", "apikey", "api_key", "api-key",
    "credential", "credentials", "sessionid",
)
REDACTED = "***"
_SEPARATOR = re.compile(r"([&;])")
# Control characters and whitespace would break the one line a URL is printed on.
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f]")
_AUTHORITY_START = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//")


def _fold(name: str) -> str:
    if "%" in name or "+" in name:  # decoded, as the server that reads the field decodes it
        name = unquote_plus(name, errors="replace")
    name = name.strip().casefold()
    return name[:-2] if name.endswith("[]") else name  # token[]=… is still the token


def is_credential_name(name: str, also: Iterable[str] = ()) -> bool:
    """Whether a query parameter or form field called ``name`` carries a credential.

    ``name`` is compared percent-decoded and case-folded (``%61pi_KEY`` is ``api_key``), as
    :data:`CREDENTIAL_NAMES` or one of its longer endings; ``also`` adds names (a record's own
    API-key parameter, say).
    """
    return _is_credential(_fold(name), _folded(also))


_NO_NAMES: frozenset[str] = frozenset()


def _folded(names: Iterable[str]) -> frozenset[str]:
    return frozenset(_fold(name) for name in names if name) if names else _NO_NAMES


def _is_credential(folded: str, extra: frozenset[str]) -> bool:
    return folded in CREDENTIAL_NAMES or folded.endswith(_CREDENTIAL_ENDINGS) or folded in extra


def redact_query(query: str, *, placeholder: str = REDACTED, also: Iterable[str] = ()) -> str:
    """``query`` (``a=1&token=x``, ``&`` or ``;`` separated) with credential values replaced."""
    if "=" not in query:
        return query
    extra = _folded(also)
    # A plain loop: the server's access log calls this for every request with a query string.
    parts = _SEPARATOR.split(query)  # field, separator, field, ...: joined back as they were
    for index in range(0, len(parts), 2):
        name, sep, _ = parts[index].partition("=")
        if sep and _is_credential(_fold(name), extra):
            parts[index] = f"{name}={placeholder}"
    return "".join(parts)


def redact_url(url: object, *, also: Iterable[str] = ()) -> str:
    """``url`` fit to print or log: userinfo and credential query values replaced by ``***``.

    ``https://me:pw@h/x?api_key=k&page=2`` becomes ``https://***@h/x?api_key=***&page=2``.
    Credential names are those of :func:`is_credential_name` (plus ``also``); a fragment that
    looks like a query (``#access_token=…``) is treated the same. Relative URLs and paths
    work too. Pure and total: any text comes back redacted, never an exception.
    """
    if isinstance(url, (bytes, bytearray)):
        text = bytes(url).decode("utf-8", "replace")
    else:
        text = str(url)
    extra = tuple(also)
    text, hash_mark, fragment = text.partition("#")
    text, question_mark, query = text.partition("?")
    start = _AUTHORITY_START.match(text)
    if start is not None:
        # RFC 3986: the authority runs to the next "/"; userinfo is everything before its
        # last "@" (a password may hold an unescaped "@").
        end = text.find("/", start.end())
        end = len(text) if end < 0 else end
        userinfo, at, host = text[start.end():end].rpartition("@")
        if at:
            text = f"{text[:start.end()]}{REDACTED}@{host}{text[end:]}"
    if question_mark:
        text += "?" + redact_query(query, also=extra)
    if hash_mark:
        text += "#" + (redact_query(fragment, also=extra) if "=" in fragment else fragment)
    return _UNPRINTABLE.sub(lambda m: f"%{ord(m.group()):02X}", text)


_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"<>`]+""")


def redact_urls(text: str, *, also: Iterable[str] = ()) -> str:
    """``text`` (an error message, a log line) with every absolute URL in it redacted by
    :func:`redact_url`: httpx, zeep and token errors quote the URL they failed on."""
    extra = tuple(also)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(), also=extra), str(text))


def has_userinfo(url: str) -> bool:
    """Whether ``url`` carries a user name or password (``https://user:pw@host/``)."""
    start = _AUTHORITY_START.match(str(url))
    if start is None:
        return False
    text = str(url)[start.end():]
    authority = re.split(r"[/?#]", text, maxsplit=1)[0]
    return "@" in authority
