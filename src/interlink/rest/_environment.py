"""``from_environment``: rest-tools' configuration from environment variables.

Same call shape and results as ``rest_tools.utils.from_environment`` (which is
``wipac_dev_tools.from_environment``): ``keys`` is one name, a list of names, or a dict of
defaults; each value is cast to its default's type (``bool``, ``int``, ``float``; anything
else stays a ``str``); a default of ``None`` makes the variable required (``OSError`` when
missing); a value that does not cast raises ``ValueError``.

As in ``interlink.settings``, the environment can be given (``environ=``) instead of read
from ``os.environ``, so tests need not touch the process environment. Fixed on purpose:
the ``ValueError`` names the variable and the offending text (rest-tools showed the default
instead of the value that failed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Union

__all__ = ["from_environment", "strtobool", "RetVal"]

RetVal = Union[str, int, float, bool]
KeySpec = Union[str, Sequence[str], Mapping[str, Union[RetVal, None]]]

_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})


def strtobool(value: str) -> bool:
    """``y``/``yes``/``t``/``true``/``on``/``1`` and ``n``/``no``/``f``/``false``/``off``/``0``,
    in any case; anything else is a ``ValueError``."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"invalid truth value {value!r}")


def _cast(text: str, kind: type) -> RetVal:
    if kind is bool:
        return strtobool(text)
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text


def from_environment(keys: KeySpec, *, environ: Mapping[str, str] | None = None) -> dict[str, RetVal]:
    """Configuration values from the environment (see the module text)."""
    if isinstance(keys, str):
        defaults: dict[str, RetVal | None] = {keys: None}
    elif isinstance(keys, list):
        defaults = dict.fromkeys(keys, None)
    elif isinstance(keys, dict):
        defaults = dict(keys)
    else:
        raise TypeError("keys: Expected string, list or dict")
    env = os.environ if environ is None else environ
    config: dict[str, RetVal] = {}
    for key, default in defaults.items():
        if key in env:
            try:
                config[key] = _cast(env[key], type(default))
            except ValueError:
                raise ValueError(
                    f"'{type(default)}'-indicated value is not a legal value: key='{key}' value='{env[key]}'"
                ) from None
        elif default is None:
            raise OSError(f"Missing environment variable '{key}'")
        else:
            config[key] = default
    return config
