"""interlink.flows: incremental, idempotent, resumable syncs between systems, on Prefect.

    from interlink.flows import Sync, RestSource, JsonApiTarget

    customers = Sync("customers", source=RestSource(source_client, "/api/customers",
                                                      id="id", cursor="updated_at"),
                     transform=lambda c: {"name": c["name"]},
                     target=JsonApiTarget(oro_client, type="customers"),
                     conflict="source_wins")
    customers.run()

A ``Sync`` is a declaration; ``run_sync(sync)`` (the engine) and ``run_flow(sync)`` (the
Prefect shell, what ``sync.run()`` calls) run it. Sources and targets other than ``RestSource``
and ``JsonApiTarget`` implement the ``Source`` and ``Target`` protocols.

State (cursor, id map, issues) lives in ``interlink.store`` (``store_of(sync)``). Prefect is
imported only when a flow runs; ``run_flow``, the flow ``interlink_sync`` and the tasks for
hand-written flows, ``extract_pages``, ``load_batch`` and ``advance_cursor``, are imported from
here on first use.
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

from interlink.flows._engine import Counts, load_batch as load_records, prefetch, run_sync, store_of
from interlink.flows._failure import failure_line
from interlink.flows._issues import IssueNotFound, Resolution, resolve_issue, retry_quarantined
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
from interlink.flows._sources import Page, RestSource, Source, SourceError
from interlink.flows._sync import Sync, find_sync, registered
from interlink.flows._targets import (
    ATOMIC_EXT,
    JSONAPI_MEDIA_TYPE,
    BatchRefused,
    JsonApiTarget,
    Target,
    TargetError,
    WriteResult,
)

__all__ = [
    "Sync",
    "RestSource",
    "JsonApiTarget",
    "Source",
    "Target",
    "Page",
    "Counts",
    "WriteResult",
    "SourceError",
    "TargetError",
    "BatchRefused",
    "run_sync",
    "store_of",
    "failure_line",
    "load_records",
    "prefetch",
    "find_sync",
    "registered",
    "resolve_issue",
    "retry_quarantined",
    "IssueNotFound",
    "Resolution",
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
    # The Prefect shell, loaded on first use:
    "run_flow",
    "extract_pages",
    "load_batch",
    "advance_cursor",
    "interlink_sync",
]

_PREFECT_NAMES = {"run_flow", "extract_pages", "load_batch", "advance_cursor", "interlink_sync"}


def __getattr__(name: str) -> object:
    if name in _PREFECT_NAMES:
        from interlink.flows import _prefect

        return getattr(_prefect, name)
    raise AttributeError(f"module 'interlink.flows' has no attribute {name!r}")
