"""The wire's limits: every parser here does work bounded by these, whatever a caller sends.

A request is read before anyone knows who sent it, so a single public call must not be able to
make the server build millions of objects, convert a number with a billion digits or recurse
until the interpreter gives up. The limits are checked on the text, before anything is built
from it, and they are generous for any form or JSON body a person or program sends on purpose.
"""

from __future__ import annotations

MAX_FIELDS = 10_000
"""Form fields per body (and per query string); values in a JSON body, counted together."""

MAX_DEPTH = 32
"""Name parts of a form field (``a.b.c`` is 3) and nesting of a JSON body."""

MAX_NAME_LENGTH = 1_000
"""Characters in one form field name."""

MAX_NUMBER_LENGTH = 100
"""Characters in the text of one number (int, float, Decimal, datetime)."""

MAX_INDEX_DIGITS = 9
"""Digits of a list index (``x.123456789``): indices may leave gaps, but stay below 10**9."""

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
"""``int`` on the wire is a signed 64-bit integer, what databases and JSON Schema's int64 hold."""

DECIMAL_MAX_EXPONENT = 100
"""A Decimal lies below 10**100 in magnitude and has at most 100 decimal places."""

DATETIME_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
DATETIME_MAX_SECONDS = 253_402_300_800  # 10000-01-01T00:00:00Z (exclusive)

FIELD_SHOWN = 100
"""A field name in an error message is cut to this many characters."""


def shorten(name: str) -> str:
    """A field name fit for an error message: long names are cut, with an ellipsis."""
    return name if len(name) <= FIELD_SHOWN else name[:FIELD_SHOWN] + "…"
