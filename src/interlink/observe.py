"""What interlink's parts report about their own work, for whoever watches: nobody by default.

Callback delivery and sync flows tell an :class:`Observer` what they do — a message queued, a
delivery attempt and its outcome, a sync run's pages, batches and issues — without knowing who
listens. The default observer does nothing, so a part pays one attribute look-up and a call of
an empty method for each report. ``interlink.telemetry`` installs one that turns the reports
into OpenTelemetry spans and Prometheus metrics (``set_observer``); a part never imports it.

Reports carry names, counts, statuses and identifiers — never a payload, an argument value, a
key, a secret or a token: an observer passes them on to other systems as they are.
"""

from __future__ import annotations

import collections.abc as _abc
import contextlib
import typing as _typing

__all__ = ["Delivery", "Handling", "Observer", "SyncRun", "observer", "set_observer"]


class Delivery:
    """One delivery attempt, as it goes: the worker says how it ended."""

    def finished(self, outcome: str, status: int | None = None) -> None:
        """``outcome``: ``delivered`` (a 2xx answer), ``refused`` (another answer) or
        ``unreachable`` (none: a refused address, no connection, the deadline); ``status`` the
        HTTP status, if an answer came."""


class SyncRun:
    """One sync run, as it goes: what it read, wrote and set aside."""

    def event(self, name: str, attributes: _abc.Mapping[str, str | int | float | bool]) -> None:
        """Something the run did once: ``page_read``, ``batch_written``, ``conflict``, ``quarantined``."""

    def finished(self, counts: _abc.Mapping[str, int], error: BaseException | None = None) -> None:
        """The run's totals (``read``, ``created``, ``updated``, ``skipped``, ...) at its end."""


class Handling:
    """One request a server handles outside the API pipeline (the rest-tools server), as it goes;
    a context manager of its own, so that nobody listening costs no more than entering it."""

    def finished(self, status: int) -> None:
        """The HTTP status it was answered with."""

    def __enter__(self) -> Handling:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_NO_DELIVERY = Delivery()
_NO_SYNC_RUN = SyncRun()
_NO_HANDLING = Handling()


class Observer(_typing.Protocol):
    """Who listens to interlink's reports; every method has a do-nothing default."""

    def queued(self, *, kind: str, event: str, message_id: str) -> str | None:
        """A message was queued (an outbox row) by the work in progress: the current trace
        context as text to keep with it, for its deliveries to continue the trace, or None."""
        return None

    @contextlib.contextmanager
    def delivery(self, trace_context: str | None, *, kind: str, event: str, message_id: str,
                 attempt: int) -> _abc.Iterator[Delivery]:
        """Around one delivery attempt of a queued message (``attempt`` counts from 1)."""
        yield _NO_DELIVERY

    @contextlib.contextmanager
    def sync_run(self, sync: str) -> _abc.Iterator[SyncRun]:
        """Around one run of the sync named ``sync``."""
        yield _NO_SYNC_RUN

    def handling(self, name: str, method: str, headers: _abc.Mapping[str, str]) -> contextlib.AbstractContextManager[Handling]:
        """Around one request a server handles: ``name`` what handles it (``GET FruitsHandler``:
        never a path, which may carry ids), ``method`` the HTTP method, ``headers`` the request's
        (a trace context to continue)."""
        return _NO_HANDLING


class _Nobody(Observer):
    pass


_observer: Observer = _Nobody()


def observer() -> Observer:
    """The observer parts report to (one that does nothing unless telemetry is configured)."""
    return _observer


def set_observer(new: Observer | None) -> Observer:
    """Report to ``new`` from now on (``None``: to nobody); the observer it replaces."""
    global _observer
    old, _observer = _observer, new if new is not None else _Nobody()
    return old
