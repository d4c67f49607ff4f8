"""What to do with one source record: a pure decision, no I/O.

Given the record's attributes as they would be written (its hash), its id-map row (what both
sides looked like at the last sync), and — when the run read it — the target's current state,
:func:`decide` answers create / update / skip / conflict / adopt / report. The engine does the
I/O; tests drive every branch here without a network.

Rules (written down for users in docs/flows.md):

* no id-map row: **create**;
* a row whose create was in flight when a run stopped (``target_id`` is ``None``): **adopt**
  what the target already holds for this record if it can be found, else create;
* same source hash as last written: **skip** (nothing changed at the source; target-side edits
  are left alone);
* the target was deleted: **create** again (``on_deleted="recreate"``) or **report** it;
* target unchanged since we wrote it, or not read (``conflict="source_wins"`` needs no read):
  **update**;
* both changed: the conflict rule decides: ``source_wins`` update, ``target_wins`` keep the
  target (**accept**: remember the new source hash so it is not raised again), ``newest``
  whichever side's timestamp is later, ``manual`` **conflict** (recorded, target untouched).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "Action",
    "ConflictRule",
    "CONFLICT_RULES",
    "Decision",
    "LinkView",
    "TargetView",
    "MISSING",
    "NOT_READ",
    "decide",
    "record_hash",
    "parse_time",
]

ConflictRule = Literal["source_wins", "target_wins", "newest", "manual"]
CONFLICT_RULES: tuple[str, ...] = ("source_wins", "target_wins", "newest", "manual")
OnDeleted = Literal["recreate", "report"]


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    ADOPT = "adopt"
    ACCEPT = "accept"  # target_wins (or newest → target): keep the target, remember the source
    CONFLICT = "conflict"
    REPORT_DELETED = "deleted"


# One encoder for every hash: ``json.dumps`` with options builds a new encoder per call, which
# cost a run more than the C encoding itself. Same options as ever: stored hashes stay valid.
_HASH_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(attributes: Mapping[str, Any]) -> str:
    """A stable hash of attributes: key order and JSON spacing do not matter."""
    return hashlib.sha256(_HASH_JSON.encode(attributes).encode()).hexdigest()


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp (``Z`` allowed) as an aware datetime, or ``None``."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class LinkView:
    """The id-map row as the planner needs it."""

    target_id: str | None
    source_hash: str | None
    target_hash: str | None


@dataclass(frozen=True)
class TargetView:
    """The target's current state of a linked record: hash of the synced attributes, its time."""

    hash: str
    updated: dt.datetime | None = None


class _Sentinel(enum.Enum):
    MISSING = "missing"  # the target answered that the record is gone
    NOT_READ = "not_read"  # the run did not read the target (source_wins needs no read)


MISSING: Final = _Sentinel.MISSING
NOT_READ: Final = _Sentinel.NOT_READ


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(
    source_hash: str,
    link: LinkView | None,
    target: TargetView | _Sentinel = NOT_READ,
    *,
    conflict: ConflictRule = "source_wins",
    on_deleted: OnDeleted = "recreate",
    source_updated: dt.datetime | None = None,
) -> Decision:
    if conflict not in CONFLICT_RULES:
        raise ValueError(f"unknown conflict rule {conflict!r}; one of {', '.join(CONFLICT_RULES)}")
    if link is None:
        return Decision(Action.CREATE, "new record")
    if link.target_id is None:
        return Decision(Action.ADOPT, "a create was in flight when a run stopped")
    if link.source_hash == source_hash:
        return Decision(Action.SKIP, "unchanged since the last sync")
    if target is MISSING:
        if on_deleted == "recreate":
            return Decision(Action.CREATE, "deleted at the target: created again")
        return Decision(Action.REPORT_DELETED, "deleted at the target")
    if target is NOT_READ or link.target_hash is None or target.hash == link.target_hash:
        return Decision(Action.UPDATE, "changed at the source")
    # Both sides changed since the last sync.
    if conflict == "source_wins":
        return Decision(Action.UPDATE, "both changed: source wins")
    if conflict == "target_wins":
        return Decision(Action.ACCEPT, "both changed: target wins")
    if conflict == "newest":
        if source_updated is None or target.updated is None:
            return Decision(Action.CONFLICT, "both changed and a timestamp is missing")
        if source_updated > target.updated:
            return Decision(Action.UPDATE, "both changed: source is newer")
        return Decision(Action.ACCEPT, "both changed: target is newer")
    return Decision(Action.CONFLICT, "both changed: left for a person to decide")
