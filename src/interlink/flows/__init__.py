"""interlink.flows: incremental, idempotent, resumable syncs between systems, on Prefect.

    from interlink.flows import Sync, RestSource, JsonApiTarget

    customers = Sync("customers", source=RestSource(source_client, "/api/customers",
                                                      id="id", cursor="updated_at"),
                     transform=lambda c: {"name": c["name"]},
                     target=JsonApiTarget(oro_client, type="customers"),
                     conflict="source_wins")
    customers.run()

State (cursor, id map, issues) lives in ``interlink.store``. Prefect is imported only when a
flow runs; the tasks for hand-written flows are ``extract_pages``, ``load_batch`` and
``advance_cursor`` (imported from here on first use).
"""

import importlib.util

# The extra is checked without importing Prefect (a slow import): declaring syncs, reading
# their state and the CLI's listings do not need it loaded.
if importlib.util.find_spec("prefect") is None:  # pragma: no cover - depends on the installed extras
    raise ImportError("interlink.flows needs the flows extra (prefect is not installed): pip install 'interlink[flows]'")
try:
    import sqlalchemy  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.flows needs the flows extra ({error}): pip install 'interlink[flows]'") from error

from typing import Any

from interlink.flows._engine import Counts, load_batch as load_records, prefetch, run_sync
from interlink.flows._plan import (
    CONFLICT_RULES,
    MISSING,
    NOT_READ,
    Action,
    Decision,
    LinkView,
    TargetView,
    decide,
    record_hash,
)
from interlink.flows._sources import Page, RestSource, Source
from interlink.flows._sync import Sync, find_sync, registered
from interlink.flows._targets import ATOMIC_EXT, JSONAPI_MEDIA_TYPE, JsonApiTarget, TargetError, WriteResult

__all__ = [
    "Sync",
    "RestSource",
    "JsonApiTarget",
    "Source",
    "Page",
    "Counts",
    "WriteResult",
    "TargetError",
    "run_sync",
    "load_records",
    "prefetch",
    "find_sync",
    "registered",
    "decide",
    "record_hash",
    "Action",
    "Decision",
    "LinkView",
    "TargetView",
    "MISSING",
    "NOT_READ",
    "CONFLICT_RULES",
    "ATOMIC_EXT",
    "JSONAPI_MEDIA_TYPE",
    # Prefect tasks and flow, loaded on first use:
    "extract_pages",
    "load_batch",
    "advance_cursor",
    "interlink_sync",
]

_PREFECT_NAMES = {"extract_pages", "load_batch", "advance_cursor", "interlink_sync"}


def __getattr__(name: str) -> Any:
    if name in _PREFECT_NAMES:
        from interlink.flows import _prefect

        return getattr(_prefect, name)
    raise AttributeError(f"module 'interlink.flows' has no attribute {name!r}")
