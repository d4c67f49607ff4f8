"""``Sync``: the declaration of one sync (source, transform, target, conflict rule).

Declaring a ``Sync`` registers it by name (``interlink sync run NAME`` finds it after importing
the module that declares it). ``sync.run()`` runs it as a Prefect flow; the same work without
Prefect is ``interlink.flows.run_sync(sync)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from interlink.flows._plan import CONFLICT_RULES, ConflictRule, OnDeleted

__all__ = ["Sync", "registered", "find_sync"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_REGISTRY: dict[str, Sync] = {}


class Sync:
    """One-way sync of records from ``source`` to ``target``.

    ``transform`` turns a source record into the target attributes (what is hashed and
    written); ``conflict`` is ``source_wins``, ``target_wins``, ``newest`` or ``manual``;
    ``on_deleted`` says what happens to a record deleted at the target and changed at the
    source: ``recreate`` or ``report``; ``concurrency`` bounds the writes in flight when the
    target has no Atomic Operations.
    """

    def __init__(
        self,
        name: str,
        *,
        source: Any,
        transform: Callable[[dict[str, Any]], dict[str, Any]],
        target: Any,
        conflict: ConflictRule = "source_wins",
        on_deleted: OnDeleted = "recreate",
        concurrency: int = 8,
        database: Any = None,
        register: bool = True,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"sync name {name!r}: lowercase letters, digits, '-' and '_', at most 100")
        if conflict not in CONFLICT_RULES:
            raise ValueError(f"conflict={conflict!r}: one of {', '.join(CONFLICT_RULES)}")
        if on_deleted not in ("recreate", "report"):
            raise ValueError(f"on_deleted={on_deleted!r}: 'recreate' or 'report'")
        if conflict == "newest" and not getattr(target, "updated", None):
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
        self._database = database
        if register:
            _REGISTRY[name] = self

    def database(self) -> Any:
        """The store holding this sync's state (``INTERLINK_DATABASE_URL`` unless given), migrated."""
        if self._database is None or isinstance(self._database, str):
            from interlink.store import Database

            self._database = Database(self._database)
            self._database.migrate()
        return self._database

    def use_database(self, database: Any) -> None:
        self._database = database

    def run(self, *, progress: bool = True) -> Any:
        """Run as a Prefect flow (ephemeral Prefect unless ``PREFECT_API_URL`` names a server);
        returns the run's :class:`~interlink.flows.Counts`."""
        from interlink.flows._prefect import sync_flow

        return sync_flow(self, progress=progress)

    @property
    def flow(self) -> Any:
        """This sync as a Prefect flow object (``.serve()``, ``.deploy()``)."""
        from interlink.flows._prefect import flow_for

        return flow_for(self)

    def __repr__(self) -> str:
        return f"Sync({self.name!r}, conflict={self.conflict!r})"


def registered() -> dict[str, Sync]:
    return dict(_REGISTRY)


def find_sync(name: str) -> Sync:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise LookupError(f"no sync named {name!r} (declared: {known})") from None
