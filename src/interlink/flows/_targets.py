"""Where records go: :class:`JsonApiTarget`, a JSON:API server (OroCommerce's back-office API).

Creates are ``POST /{type}``, updates ``PATCH /{type}/{id}``; reads for conflict checks are one
``GET /{type}?filter[id]=1,2,…`` per batch. When the server advertises the Atomic Operations
extension (``jsonapi.ext`` in its answers), a batch goes as one ``POST /operations``; a batch the
server refuses as a whole (one bad record) is sent again record by record, so only the bad
record is quarantined.

Retries reuse :class:`interlink.http.RetryPolicy`: ``PATCH`` carries the full attributes and is
safe to repeat, so it is retried on 429/500/502/503/504; a ``POST`` only on 429 and 503, the
answers that say the server did not act (a 500 after a POST may have created the record: the
run stops instead, and the next run adopts it through ``match``). Connection failures are
retried by the client's own transport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from interlink.http import RetryPolicy

__all__ = ["JsonApiTarget", "WriteResult", "JSONAPI_MEDIA_TYPE", "ATOMIC_EXT"]

JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
ATOMIC_EXT = "https://jsonapi.org/ext/atomic"
ATOMIC_MEDIA_TYPE = f'{JSONAPI_MEDIA_TYPE}; ext="{ATOMIC_EXT}"'

UPDATE_RETRY = RetryPolicy(retries=4, backoff_factor=0.2, methods=frozenset({"PATCH", "POST"}),
                           statuses=frozenset({429, 500, 502, 503, 504}))
CREATE_RETRY = replace(UPDATE_RETRY, statuses=frozenset({429, 503}))


@dataclass
class WriteResult:
    """The outcome of one create or update."""

    ok: bool
    status: int
    target_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        return self.status == 404


class BatchRefused(Exception):
    """The server refused an atomic batch as a whole (a 4xx); send it record by record."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"atomic batch refused with HTTP {status}")
        self.status, self.errors = status, errors


class TargetError(Exception):
    """The target failed in a way a retry did not cure (5xx, a non-JSON:API answer): the run stops."""


def _errors(response: Any) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and all(isinstance(e, dict) for e in errors):
        return errors[:50]
    return [{"status": str(response.status_code), "title": response.reason_phrase or "error"}]


@dataclass
class JsonApiTarget:
    """A JSON:API resource type on a target server, written with an ``interlink.http`` client.

    * ``match``: an attribute of the target that holds the source id (e.g. an ``externalId``
      custom field in OroCommerce). It is written on create, and a run that finds a create left
      unfinished by a stopped run looks the record up by it (``filter[match]=…``) instead of
      creating it twice. Without it, such a record is created again.
    * ``updated``: the target attribute with its last-modified time, for ``conflict="newest"``.
    * ``atomic``: ``None`` asks the server (one GET) whether it advertises Atomic Operations.
    """

    client: Any
    type: str
    match: str | None = None
    updated: str | None = None
    atomic: bool | None = None
    operations_path: str = "operations"
    batch_size: int = 100
    update_retry: RetryPolicy = UPDATE_RETRY
    create_retry: RetryPolicy = CREATE_RETRY
    sleep: Callable[[float], Any] = time.sleep

    # -- requests -------------------------------------------------------------------------
    def _send(self, method: str, url: str, body: dict[str, Any], policy: RetryPolicy,
              content_type: str = JSONAPI_MEDIA_TYPE) -> Any:
        headers = {"Content-Type": content_type, "Accept": content_type}
        for attempt in range(1, policy.retries + 2):
            response = self.client.request(method, url, json=body, headers=headers)
            wait = policy.after_status(method, response.status_code, response.headers.get("retry-after"), attempt)
            if wait is None:
                return response
            response.close()
            self.sleep(wait)
        return response  # pragma: no cover - the loop returns when retries run out

    def _result(self, response: Any) -> WriteResult:
        status = response.status_code
        if status in (200, 201):
            data = response.json().get("data") or {}
            return WriteResult(True, status, str(data.get("id")), dict(data.get("attributes") or {}))
        if 400 <= status < 500 and status not in (401, 403, 429):
            return WriteResult(False, status, errors=_errors(response))
        raise TargetError(f"{self.type}: HTTP {status} from the target: {_errors(response)}")

    def create(self, attributes: dict[str, Any]) -> WriteResult:
        body = {"data": {"type": self.type, "attributes": attributes}}
        return self._result(self._send("POST", self.type, body, self.create_retry))

    def update(self, target_id: str, attributes: dict[str, Any]) -> WriteResult:
        body = {"data": {"type": self.type, "id": target_id, "attributes": attributes}}
        return self._result(self._send("PATCH", f"{self.type}/{target_id}", body, self.update_retry))

    def _collect(self, params: dict[str, str] | None) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        url: str | None = self.type
        while url is not None:
            response = self.client.get(url, params=params, headers={"Accept": JSONAPI_MEDIA_TYPE})
            if response.status_code != 200:
                raise TargetError(f"{self.type}: HTTP {response.status_code} reading the target: {_errors(response)}")
            body = response.json()
            for item in body.get("data") or []:
                found[str(item.get("id"))] = dict(item.get("attributes") or {})
            url, params = (body.get("links") or {}).get("next"), None
        return found

    def read(self, target_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Current attributes of these records; a missing id was deleted at the target."""
        ids, found = list(target_ids), {}
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start:start + self.batch_size]
            found.update(self._collect({"filter[id]": ",".join(chunk), "page[size]": str(len(chunk))}))
        return found

    def find(self, source_ids: Iterable[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Records holding these source ids in ``match``: source id -> (target id, attributes)."""
        if self.match is None:
            return {}
        ids, found = list(source_ids), {}
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start:start + self.batch_size]
            rows = self._collect({f"filter[{self.match}]": ",".join(chunk), "page[size]": str(len(chunk))})
            for target_id, attributes in rows.items():
                found[str(attributes.get(self.match))] = (target_id, attributes)
        return found

    def supports_atomic(self) -> bool:
        if self.atomic is None:
            response = self.client.get(self.type, params={"page[size]": "1"}, headers={"Accept": JSONAPI_MEDIA_TYPE})
            if response.status_code != 200:
                raise TargetError(f"{self.type}: HTTP {response.status_code} from the target: {_errors(response)}")
            try:
                ext = ((response.json() or {}).get("jsonapi") or {}).get("ext") or []
            except ValueError:
                ext = []
            self.atomic = ATOMIC_EXT in ext or ATOMIC_EXT in response.headers.get("content-type", "")
        return bool(self.atomic)

    def write_atomic(self, operations: list[tuple[str | None, dict[str, Any]]]) -> list[WriteResult]:
        """Creates (``target_id=None``) and updates in one atomic request, all or nothing."""
        ops = []
        for target_id, attributes in operations:
            if target_id is None:
                ops.append({"op": "add", "data": {"type": self.type, "attributes": attributes}})
            else:
                ops.append({"op": "update", "ref": {"type": self.type, "id": target_id},
                            "data": {"type": self.type, "id": target_id, "attributes": attributes}})
        # A retried atomic batch with creates is only safe on 429/503, as for a single POST.
        response = self._send("POST", self.operations_path, {"atomic:operations": ops}, self.create_retry,
                              ATOMIC_MEDIA_TYPE)
        if response.status_code == 200:
            results = response.json().get("atomic:results")
            if not isinstance(results, list) or len(results) != len(ops):
                raise TargetError("the atomic answer does not hold one result per operation")
            return [WriteResult(True, 200, str((r.get("data") or {}).get("id")), dict((r.get("data") or {}).get("attributes") or {}))
                    for r in results]
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 429):
            raise BatchRefused(response.status_code, _errors(response))
        raise TargetError(f"HTTP {response.status_code} from {self.operations_path}: {_errors(response)}")
