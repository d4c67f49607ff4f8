"""``Sync``: the declaration of one sync — source, transform, target, conflict rule, store.

A declaration is data: it does no I/O and holds no run state. The engine
(:func:`interlink.flows.run_sync`) and the Prefect shell (the flow
:func:`interlink.flows.interlink_sync`) run it; ``sync.run()`` is shorthand for the flow.
Declaring a ``Sync`` also lists it by name (``register=False`` does not), which is how
``interlink sync run NAME`` finds it after importing the module that declares it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from interlink.flows._plan import CONFLICT_RULES, ConflictRule, OnDeleted
from interlink.flows._sources import Source
from interlink.flows._targets import Target

if TYPE_CHECKING:
    from interlink.flows._engine import Counts
    from interlink.store import Database

__all__ = ["Sync", "registered", "find_sync"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
# Written only by Sync() itself: the syncs declared in this process, by name.
_REGISTRY: dict[str, Sync] = {}


class Sync:
    """One-way sync of records from ``source`` to ``target``.

    ``transform`` turns a source record into the target attributes (what is hashed and
    written); ``conflict`` is ``source_wins``, ``target_wins``, ``newest`` or ``manual``;
    ``on_deleted`` says what happens to a record deleted at the target and changed at the
    source: ``recreate`` or ``report``; ``concurrency`` bounds the writes in flight when the
    target has no Atomic Operations; ``database`` is the store for the sync's state: a
    ``Database``, a URL, or ``None`` for ``INTERLINK_DATABASE_URL`` (opened and migrated by the
    first run, not here).
    """

    def __init__(
        self,
        name: str,
        *,
        source: Source,
        transform: Callable[[dict[str, Any]], dict[str, Any]],
        target: Target,
        conflict: ConflictRule = "source_wins",
        on_deleted: OnDeleted = "recreate",
        concurrency: int = 8,
        database: Database | str | None = None,
        register: bool = True,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"sync name {name!r}: lowercase letters, digits, '-' and '_', at most 100")
        if not isinstance(source, Source):
            raise TypeError(f"source={source!r} is not a source: it needs client, pages(), record_id() and "
                            "record_cursor() (interlink.flows.Source; RestSource is one)")
        if not isinstance(target, Target):
            raise TypeError(f"target={target!r} is not a target: it needs client, match, updated, batch_size, "
                            "create(), update(), read(), find(), supports_atomic() and write_atomic() "
                            "(interlink.flows.Target; JsonApiTarget is one)")
        if conflict not in CONFLICT_RULES:
            raise ValueError(f"conflict={conflict!r}: one of {', '.join(CONFLICT_RULES)}")
        if on_deleted not in ("recreate", "report"):
            raise ValueError(f"on_deleted={on_deleted!r}: 'recreate' or 'report'")
        if conflict == "newest" and not target.updated:
            raise ValueError("conflict='newest' needs the target's timestamp attribute: JsonApiTarget(updated=...)")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.name = name
        self.source = source
        self.transform = transform
        self.target = target
        self.conflict: ConflictRule = conflict
        self.on_deleted: OnDeleted = on_deleted
        self.concurrency = concurrency
        #: The store as declared: a ``Database``, a URL, or ``None`` (``INTERLINK_DATABASE_URL``).
        self.store: Database | str | None = database
        if register:
            _REGISTRY[name] = self

    def use_database(self, database: Database | str | None) -> None:
        """Keep this sync's state in ``database`` from now on (the CLI's ``--database``)."""
        self.store = database

    def run(self, *, progress: bool = True) -> Counts:
        """Run as a Prefect flow (ephemeral Prefect unless ``PREFECT_API_URL`` names a server);
        returns the run's :class:`~interlink.flows.Counts`. Shorthand for
        ``interlink.flows.run_flow(sync)``."""
        from interlink.flows._prefect import run_flow

        return run_flow(self, progress=progress)

    @property
    def flow(self) -> Any:
        """This sync as a Prefect flow object (``.serve()``, ``.deploy()``)."""
        from interlink.flows._prefect import flow_for

        return flow_for(self)

    def __repr__(self) -> str:
        return f"Sync({self.name!r}, conflict={self.conflict!r})"


def registered() -> dict[str, Sync]:
    """The syncs declared in this process, by name."""
    return dict(_REGISTRY)


def find_sync(name: str) -> Sync:
    """The sync declared as ``name``; LookupError naming the declared ones if there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise LookupError(f"no sync named {name!r} (declared: {known})") from None
