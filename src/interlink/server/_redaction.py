"""Keeping credentials out of logs: query strings are printed by access logs, and a caller may
put ``authorisation=keyid:secret`` there (it works, with a warning).

Names are compared *decoded*: ``?%61uthorisation=…`` is the same field to the server, so it is
the same field to the redaction. Which names are credentials is decided in one place,
``interlink.urls.is_credential_name`` (the access log and every printed URL use it too).
"""

from __future__ import annotations

import logging
import re

from interlink.urls import is_credential_name

__all__ = ["RedactCredentials", "install_log_redaction", "redact", "warn_query_credentials"]

logger = logging.getLogger("interlink.server")

_PAIR = re.compile(r"([^\s&?\"'=]+)=([^&\s\"']*)")


def _redact_pair(match: re.Match[str]) -> str:
    name = match.group(1)
    if is_credential_name(name):
        return f"{name}=[redacted]"
    return match.group(0)


def redact(text: str) -> str:
    """``text`` with the value of every credential-named ``name=value`` pair blanked."""
    if "=" not in text:
        return text
    return _PAIR.sub(_redact_pair, text)


class RedactCredentials(logging.Filter):
    """Blanks credential fields in log records (uvicorn's access log prints query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
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
