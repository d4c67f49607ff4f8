"""Who is calling: credentials from the ``authorisation`` field or HTTP Basic, checked by an
Authenticator, and a log filter that keeps query-string credentials out of access logs."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from interlink.credentials import parse_authorisation, parse_basic_header, split_key_password
from interlink.errors import NotAuthorised
from interlink.store import Authenticator

if TYPE_CHECKING:
    from interlink.store import Role

logger = logging.getLogger("interlink.server")


async def authenticate(
    authenticator: Authenticator,
    authorisation: str | None,
    basic_header: str | None,
    client: str | None = None,
) -> Role | None:
    """The caller's Role, ``None`` when no credentials were sent; bad ones raise NotAuthorised.

    ``client`` (the caller's address) is passed on only when given, to authenticators that
    apply key IP allowlists (``checks_networks``); they raise Forbidden outside them.
    """
    if authorisation is not None:
        key_id, secret = parse_authorisation(authorisation)
        if client is None:
            role = await authenticator.authenticate_key(key_id, secret)
        else:
            role = await authenticator.authenticate_key(key_id, secret, client=client)  # type: ignore[call-arg]
        if role is None:
            raise NotAuthorised("unknown, revoked or wrong key")
        return role
    if basic_header is not None:
        username, password = parse_basic_header(basic_header)
        pair = split_key_password(password)
        if pair is not None:
            if client is None:
                role = await authenticator.authenticate_user_key(username, *pair)
            else:
                role = await authenticator.authenticate_user_key(username, *pair, client=client)  # type: ignore[call-arg]
        else:
            check_password = getattr(authenticator, "authenticate_password", None)
            if check_password is None:
                raise NotAuthorised("send keyid:secret as the Basic password")
            role = await check_password(username, password)
        if role is None:
            raise NotAuthorised("wrong username or credentials")
        return role
    return None


def basic_authorization(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:6].lower() == "basic ":
                return text
            return None
    return None


_QUERY_SECRET = re.compile(r"(?i)(authorisation=)[^&\s\"]*")


def redact(text: str) -> str:
    return _QUERY_SECRET.sub(r"\1[redacted]", text)


class RedactCredentials(logging.Filter):
    """Blanks ``authorisation=...`` in log records (uvicorn's access log prints query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and "authorisation=" in record.msg.lower():
            record.msg = redact(record.msg)
        return True


def install_log_redaction(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    for name in names:
        log = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in log.filters):
            log.addFilter(RedactCredentials())


def warn_query_credentials(path: str) -> None:
    logger.warning(
        "credentials sent in the query string of %s: they work, but query strings end up in "
        "server and proxy logs; send `authorisation` as a POST field instead",
        path,
    )


