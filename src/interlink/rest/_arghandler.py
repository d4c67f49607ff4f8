"""``ArgumentHandler``: rest-tools' argparse-like arguments on a ``RestHandler``.

The parsing is ``interlink.rest._arguments`` (pure); this shell reads the handler's query
arguments or JSON body and turns a problem into ``HTTPError(400, reason=…)``.
"""

from __future__ import annotations

import argparse
from typing import Any

import tornado.web

from interlink.rest._arguments import ArgumentParser, ArgumentProblem, ArgumentSource

__all__ = ["ArgumentHandler", "ArgumentSource"]


class ArgumentHandler:
    """Like ``argparse.ArgumentParser``, for a request's query arguments or JSON body.

    ``add_argument(name, type=…, default=…, required=…, dest=…, nargs=…, choices=…)``; an
    argument without a default is required; ``type=bool`` reads y/yes/t/true/on/1 and
    n/no/f/false/off/0 (and JSON true/false/1/0), anything else is a 400.
    ``parse_args()`` returns a ``Namespace`` or raises a 400.
    """

    def __init__(self, argument_source: ArgumentSource, rest_handler: Any) -> None:
        if not isinstance(argument_source, ArgumentSource):
            raise ValueError(f"Invalid argument_source: {argument_source}")
        self.argument_source = argument_source
        self.rest_handler = rest_handler
        self._parser = ArgumentParser()

    def add_argument(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Declare an argument (``argparse.add_argument``'s keywords that fit key-value pairs)."""
        self._parser.add_argument(name, *args, **kwargs)

    def parse_args(self) -> argparse.Namespace:
        """The arguments, converted and checked; ``HTTPError(400)`` with rest-tools' reasons."""
        try:
            if self.argument_source is ArgumentSource.JSON_BODY_ARGUMENTS:
                given: Any = self.rest_handler.json_body_arguments
            else:
                given = {
                    key: [_text(key, value) for value in values]
                    for key, values in self.rest_handler.request.arguments.items()
                }
            return self._parser.parse(self.argument_source, given)
        except ArgumentProblem as exc:
            raise tornado.web.HTTPError(400, reason=str(exc)) from None


def _text(key: str, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        from interlink.rest._arguments import printable

        raise ArgumentProblem(f"argument {printable(key)[:100]}: not valid UTF-8") from None
