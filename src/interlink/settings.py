"""Every environment variable interlink reads, named and parsed in one place.

``Settings.from_environ()`` is called at the edges — the ``interlink`` command, a ``Database``
opened without a URL, the secret-key lookup of the store, a client made without explicit
credentials — never deep inside a call. Tests and embedding applications can build a
``Settings`` of their own instead of touching ``os.environ``.

| variable | setting | used by |
| --- | --- | --- |
| ``INTERLINK_DATABASE_URL`` | ``database_url`` | the store, ``interlink serve`` |
| ``INTERLINK_SECRET_KEY`` | ``secret_key`` | encryption of service secrets at rest |
| ``INTERLINK_PROFILE`` | ``profile`` | the client's credentials profile |
| ``INTERLINK_ACCESS_KEY_ID`` / ``INTERLINK_ACCESS_KEY_SECRET`` | ``access_key_id`` / ``access_key_secret`` | the client's credentials |
| ``INTERLINK_CALLBACK_ALLOWED_NETWORKS`` | ``callback_allowed_networks`` | networks callbacks may reach besides public addresses (comma-separated CIDRs) |

The ``interlink`` command also takes ``INTERLINK_API_ROOT`` and ``INTERLINK_CREDENTIALS_FILE``
as defaults of ``call``'s ``--root`` and ``--credentials`` options (click reads them there).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ACCESS_KEY_ID_ENV",
    "ACCESS_KEY_SECRET_ENV",
    "CALLBACK_ALLOWED_NETWORKS_ENV",
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "PROFILE_ENV",
    "SECRET_KEY_ENV",
    "Settings",
    "parse_duration",
]

DATABASE_URL_ENV = "INTERLINK_DATABASE_URL"
SECRET_KEY_ENV = "INTERLINK_SECRET_KEY"
PROFILE_ENV = "INTERLINK_PROFILE"
ACCESS_KEY_ID_ENV = "INTERLINK_ACCESS_KEY_ID"
ACCESS_KEY_SECRET_ENV = "INTERLINK_ACCESS_KEY_SECRET"
CALLBACK_ALLOWED_NETWORKS_ENV = "INTERLINK_CALLBACK_ALLOWED_NETWORKS"

DEFAULT_DATABASE_URL = "sqlite:///interlink.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # repr=False: a Settings printed in a log or traceback shows no secret.
    secret_key: str = field(default="", repr=False)
    profile: str | None = None
    access_key_id: str | None = None
    access_key_secret: str | None = field(default=None, repr=False)
    callback_allowed_networks: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL,
            secret_key=env.get(SECRET_KEY_ENV, "").strip(),
            profile=env.get(PROFILE_ENV) or None,
            access_key_id=env.get(ACCESS_KEY_ID_ENV) or None,
            access_key_secret=env.get(ACCESS_KEY_SECRET_ENV) or None,
            callback_allowed_networks=env.get(CALLBACK_ALLOWED_NETWORKS_ENV, "").strip(),
        )


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> dt.timedelta:
    """A duration as people type it on a command line: ``90s``, ``15m``, ``12h``, ``30d``, ``2w``
    (a bare number is seconds). ``ValueError`` says what is wrong with it; the ``interlink``
    command and Django's ``manage.py interlink`` both read their options with it."""
    text = text.strip().lower()
    unit = text[-1:] if text[-1:] in _DURATION_UNITS else "s"
    number = text[:-1] if text[-1:] in _DURATION_UNITS else text
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 12h, 30d") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 12h, 30d")
    if value < 0:
        raise ValueError("a duration may not be negative")
    return dt.timedelta(seconds=value * _DURATION_UNITS[unit])
