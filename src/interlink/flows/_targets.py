"""Where records go: :class:`JsonApiTarget`, a JSON:API server (OroCommerce's back-office API).

Creates are ``POST /{type}``, updates ``PATCH /{type}/{id}`` (``path=`` names another collection
path); reads for conflict checks are one ``GET /{type}?filter[id]=1,2,…`` per batch (``filter=``
spells the filter as the target does, e.g. ``filter[{field}.in]`` for Django REST framework
JSON:API). When the server advertises the Atomic Operations
extension (``jsonapi.ext`` in its answers), a batch goes as one ``POST /operations``; a batch the
server refuses as a whole (one bad record) is sent again record by record, so only the bad
record is quarantined.

Retries reuse :class:`interlink.http.RetryPolicy`: ``PATCH`` carries the full attributes and is
safe to repeat, so it is retried on 429/500/502/503/504; a ``POST`` only on 429 and 503, the
answers that say the server did not act (a 500 after a POST may have created the record: the
run stops instead, and the next run adopts it through ``match``). Connection failures are
retried by the client's own transport.

The target is a system we do not control, and its answers are checked before anything is
recorded: every answer is read within ``max_answer_bytes`` (refused as it streams); a success
answer to a create must hold a resource of this ``type`` with an id, else the write is
*uncertain* (:attr:`WriteResult.uncertain`: quarantined with the answer kept, and the create left
in flight so the next run adopts rather than duplicates); ``links.next`` is followed at most
``max_pages`` times per read and never back to a page already read.

A lookup by filter is trusted only once the target has shown that it applies it. Targets differ
(a filter they do not know is ignored, refused, or matched as one literal value), and a lookup
that finds nothing where the record exists would make a run create it again. So before the
first lookup of a field in a run, the target is asked twice: for a record it holds together with
a value nobody holds (the answer must be exactly that record), and for two values nobody holds
(the answer must be empty). Every answer is also checked against what was asked for. When the
``id`` filter fails, records are read one ``GET /{type}/{id}`` each; when the ``match`` filter
fails, a run that needs it stops with a message naming the ``filter`` option.

Errors that are the configuration's, not a record's, stop the run with one message instead of
quarantining every record: the credentials refused (401/403), no collection at the path (404 on
create), a type the target does not accept (409).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from interlink.flows._exchange import EXCERPT_CHARS, Answer, open_answer, prepare, read_answer
from interlink.http import ResponseTooLarge, RetryPolicy
from interlink.urls import redact_url

__all__ = ["Target", "JsonApiTarget", "WriteResult", "BatchRefused", "TargetError", "JSONAPI_MEDIA_TYPE",
           "ATOMIC_EXT", "MAX_ANSWER_BYTES", "MAX_READ_PAGES", "JSONAPI_FILTER"]

JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
ATOMIC_EXT = "https://jsonapi.org/ext/atomic"
ATOMIC_MEDIA_TYPE = f'{JSONAPI_MEDIA_TYPE}; ext="{ATOMIC_EXT}"'

UPDATE_RETRY = RetryPolicy(retries=4, backoff_factor=0.2, methods=frozenset({"PATCH", "POST"}),
                           statuses=frozenset({429, 500, 502, 503, 504}))
CREATE_RETRY = replace(UPDATE_RETRY, statuses=frozenset({429, 503}))

#: The largest answer the target may send to one request (``JsonApiTarget(max_answer_bytes=...)``).
MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: ``links.next`` links one read of the target follows at most (``JsonApiTarget(max_pages=...)``).
MAX_READ_PAGES = 1_000
#: Longest target id the id map holds.
MAX_ID_LENGTH = 255
#: The filter spelling of the JSON:API recommendations (``filter[id]=1,2``).
JSONAPI_FILTER = "filter[{field}]"
#: Records read (one page) to find a known value for a filter probe.
PROBE_SAMPLE = 50


@dataclass
class WriteResult:
    """The outcome of one create or update.

    ``ok=False`` with a 2xx ``status`` is an *uncertain* write: the target said it acted, but its
    answer cannot be used (no ``data.id``, another ``type``, not JSON). ``answer`` keeps the start
    of that answer for the person reading the issue.
    """

    ok: bool
    status: int
    target_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None

    @property
    def missing(self) -> bool:
        return self.status == 404

    @property
    def uncertain(self) -> bool:
        """The target answered success to a write we cannot confirm: it may have acted."""
        return not self.ok and 200 <= self.status < 300


class BatchRefused(Exception):
    """The server refused an atomic batch as a whole (a 4xx); send it record by record."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"atomic batch refused with HTTP {status}")
        self.status, self.errors = status, errors


class TargetError(Exception):
    """The target failed in a way a retry did not cure (5xx, a non-JSON:API answer, an answer
    over the size limit, ``links.next`` in a circle): the run stops."""


@runtime_checkable
class Target(Protocol):
    """What a sync writes to. :class:`JsonApiTarget` is one; another target implements these.

    ``client`` is the ``httpx.Client`` it writes with (a run keeps its connections open);
    ``match`` and ``updated`` name target attributes (or are ``None``): the source id written
    on create, and the last-modified time for ``conflict="newest"``; ``batch_size`` is the most
    records per :meth:`write_atomic` call.
    """

    client: Any
    match: str | None
    updated: str | None
    batch_size: int

    def create(self, attributes: dict[str, Any]) -> WriteResult:
        """Create one record; its new id in ``target_id``."""
        ...

    def update(self, target_id: str, attributes: dict[str, Any]) -> WriteResult:
        """Write these attributes of one record; ``status=404`` when it is gone."""
        ...

    def read(self, target_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Current attributes of these records; a missing id was deleted at the target."""
        ...

    def find(self, source_ids: Iterable[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Records holding these source ids in ``match``: source id -> (target id, attributes)."""
        ...

    def supports_atomic(self) -> bool:
        """Whether :meth:`write_atomic` may be used."""
        ...

    def write_atomic(self, operations: list[tuple[str | None, dict[str, Any]]]) -> list[WriteResult]:
        """Creates (``target_id=None``) and updates all or nothing, one result each in order;
        raises :class:`BatchRefused` when the target refuses the batch as a whole."""
        ...


class TargetRefused(TargetError):
    """The target refused the run's configuration, not a record: the credentials (401/403), the
    collection's path (404), the type (409). It acted on nothing; the run stops."""


class _LookupRefused(Exception):
    """The target answered a filtered read with a 4xx (400, 422: it does not know the filter)."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"HTTP {status}: {errors}")
        self.status, self.errors = status, errors


class _FilterIgnored(TargetError):
    """A filtered read answered a record that was not asked for."""


class _Unusable(Exception):
    """A success answer whose resource the run cannot use (the reason is the message)."""


def _errors(answer: Answer) -> list[dict[str, Any]]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and all(isinstance(e, dict) for e in errors):
        return errors[:50]
    return [{"status": str(answer.status_code), "title": answer.reason_phrase or "error"}]


@dataclass
class JsonApiTarget:
    """A JSON:API resource type on a target server, written with an ``interlink.http`` client.

    * ``match``: an attribute of the target that holds the source id (e.g. an ``externalId``
      custom field in OroCommerce). It is written on create, and a run that finds a create left
      unfinished by a stopped run looks the record up by it (``filter[match]=…``) instead of
      creating it twice. Without it, such a record is created again.
    * ``updated``: the target attribute with its last-modified time, for ``conflict="newest"``.
    * ``path``: the collection's path, relative to the client's base URL; ``{type}`` is replaced
      by ``type`` (Django REST framework JSON:API: ``type="Customer", path="/customers"``).
    * ``filter``: the query parameter of a lookup of several values, ``{field}`` replaced by
      ``id`` or ``match`` (the JSON:API recommendation ``filter[{field}]`` by default;
      ``filter[{field}.in]`` for Django REST framework JSON:API's ``in`` lookups).
    * ``atomic``: ``None`` asks the server (one GET) whether it advertises Atomic Operations.
    * ``max_answer_bytes``, ``max_pages``: the largest answer read from the target, and the most
      ``links.next`` links one read follows.
    """

    client: Any
    type: str
    match: str | None = None
    updated: str | None = None
    path: str = "/{type}"
    filter: str = JSONAPI_FILTER
    atomic: bool | None = None
    operations_path: str = "operations"
    batch_size: int = 100
    update_retry: RetryPolicy = UPDATE_RETRY
    create_retry: RetryPolicy = CREATE_RETRY
    sleep: Callable[[float], Any] = time.sleep
    max_answer_bytes: int = MAX_ANSWER_BYTES
    max_pages: int = MAX_READ_PAGES
    # field -> whether the target applies its filter (probed once per run, see new_run()).
    _lookups: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "{field}" not in self.filter:
            raise ValueError(f"JsonApiTarget(filter={self.filter!r}) needs '{{field}}' where the field name goes, "
                             "e.g. 'filter[{field}]' or 'filter[{field}.in]'")

    @property
    def collection(self) -> str:
        """The collection's path: ``path`` with the ``type`` in it."""
        return self.path.format(type=self.type)

    def new_run(self) -> None:
        """Forget what was learnt of the target's filters: a new run probes them again."""
        self._lookups.clear()

    def _item_url(self, target_id: str) -> str:
        return f"{self.collection.rstrip('/')}/{target_id}"

    def _filter(self, name: str, values: Iterable[str]) -> dict[str, str]:
        return {self.filter.format(field=name): ",".join(values)}

    # -- configuration errors: the run stops with one message --------------------------------
    def _config_error(self, answer: Answer) -> TargetRefused | None:
        """The error when this answer says the configuration is wrong, not one record."""
        status, where = answer.status_code, f"{answer.method} {answer.url}"
        if status in (401, 403):
            return TargetRefused(f"{self.type}: the target refused the credentials (HTTP {status} to {where}); "
                               f"check the client's token, its scope and permissions: {_errors(answer)}")
        if status == 404:
            return TargetRefused(f"{self.type}: nothing at {where} (HTTP 404); check JsonApiTarget(path=...) and "
                               f"the client's base URL (the collection is {self.collection!r})")
        if status == 409:
            return TargetRefused(f"{self.type}: the target refused the type {self.type!r} (HTTP 409 to {where}); "
                               f"check JsonApiTarget(type=...), the type the target names in its answers: "
                               f"{_errors(answer)}")
        return None

    # -- requests -------------------------------------------------------------------------
    def _read(self, request: Any) -> Answer:
        try:
            return read_answer(open_answer(self.client, request), self.max_answer_bytes)
        except ResponseTooLarge as error:
            raise self._too_large(request, error) from error

    def _too_large(self, request: Any, error: ResponseTooLarge) -> TargetError:
        return TargetError(
            f"{self.type}: the target's answer to {request.method} {redact_url(request.url)} is larger than "
            f"{error.limit} bytes (JsonApiTarget(max_answer_bytes=...)); the run stops (a create it may have "
            "made is adopted by `match` on the next run)")

    def _send(self, method: str, url: str, body: dict[str, Any], policy: RetryPolicy,
              content_type: str = JSONAPI_MEDIA_TYPE) -> Answer:
        headers = {"Content-Type": content_type, "Accept": content_type}
        for attempt in range(1, policy.retries + 2):
            request = prepare(self.client, method, url, self.max_answer_bytes, json=body, headers=headers)
            try:
                response = open_answer(self.client, request)
                wait = policy.after_status(method, response.status_code, response.headers.get("retry-after"), attempt)
                if wait is None:
                    return read_answer(response, self.max_answer_bytes)
            except ResponseTooLarge as error:
                raise self._too_large(request, error) from error
            response.close()  # an answer to retry is not read
            self.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover

    def _resource(self, data: Any, expected_id: str | None = None) -> tuple[str, dict[str, Any]]:
        """``data`` of a success answer → (id, attributes); :class:`_Unusable` if it is not a
        resource of this type (with ``expected_id``: that one)."""
        if not isinstance(data, dict):
            raise _Unusable("its data is not a resource object")
        if data.get("type") != self.type:
            raise _Unusable(f"its data.type is {data.get('type')!r}, not {self.type!r}")
        id_ = data.get("id")
        if isinstance(id_, int) and not isinstance(id_, bool):
            id_ = str(id_)
        if not isinstance(id_, str) or not id_ or len(id_) > MAX_ID_LENGTH:
            raise _Unusable(f"its data.id is {id_!r}, not a string of 1 to {MAX_ID_LENGTH} characters")
        if expected_id is not None and id_ != expected_id:
            raise _Unusable(f"its data.id is {id_!r}, not the {expected_id!r} written")
        attributes = data.get("attributes")
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, dict):
            raise _Unusable("its data.attributes is not an object")
        return id_, dict(attributes)

    def _unusable(self, status: int, why: str, excerpt: str) -> WriteResult:
        # The target said it acted: the record may exist. The engine keeps a create of it in
        # flight, so the next run adopts it by ``match`` instead of creating it twice.
        return WriteResult(False, status, errors=[{
            "status": str(status), "title": "unusable answer from the target",
            "detail": f"the target answered HTTP {status} but {why}; nothing was recorded as written"}],
            answer=excerpt)

    def _written(self, answer: Answer, target_id: str | None, attributes: dict[str, Any]) -> WriteResult:
        """The result of a create (``target_id=None``) or an update of ``target_id``."""
        status = answer.status_code
        if status in (200, 201, 204):
            if status == 204 or (target_id is not None and not answer.content):
                body: Any = {}
            else:
                try:
                    body = answer.json()
                except ValueError:
                    return self._unusable(status, "its answer is not JSON", answer.excerpt())
                if not isinstance(body, dict):
                    return self._unusable(status, "its answer is not a JSON:API document", answer.excerpt())
            if target_id is not None and body.get("data") is None:
                # JSON:API: an update answered without data (204, or meta only) was applied as sent.
                return WriteResult(True, status, target_id, dict(attributes))
            try:
                id_, written = self._resource(body.get("data"), target_id)
            except _Unusable as why:
                return self._unusable(status, str(why), answer.excerpt())
            return WriteResult(True, status, id_, written)
        if status == 404 and target_id is not None:
            return WriteResult(False, status, errors=_errors(answer))  # the record is gone
        config = self._config_error(answer)
        if config is not None:
            raise config
        if 400 <= status < 500 and status != 429:
            return WriteResult(False, status, errors=_errors(answer))
        raise TargetError(f"{self.type}: HTTP {status} to {answer.method} {answer.url}: {_errors(answer)}")

    def create(self, attributes: dict[str, Any]) -> WriteResult:
        body = {"data": {"type": self.type, "attributes": attributes}}
        return self._written(self._send("POST", self.collection, body, self.create_retry), None, attributes)

    def update(self, target_id: str, attributes: dict[str, Any]) -> WriteResult:
        body = {"data": {"type": self.type, "id": target_id, "attributes": attributes}}
        return self._written(self._send("PATCH", self._item_url(target_id), body, self.update_retry),
                             target_id, attributes)

    def _collect(self, params: dict[str, str] | None, first_page: bool = False) -> dict[str, dict[str, Any]]:
        """The records of a collection read (``links.next`` followed unless ``first_page``);
        :class:`_LookupRefused` on a 4xx that is not the configuration's."""
        found: dict[str, dict[str, Any]] = {}
        headers = {"Accept": JSONAPI_MEDIA_TYPE}
        request = prepare(self.client, "GET", self.collection, self.max_answer_bytes, params=params, headers=headers)
        seen: set[str] = set()
        while True:
            url = str(request.url)
            if url in seen:
                raise TargetError(f"{self.type}: the target's links.next go round in a circle: "
                                  f"{redact_url(url)} was already read")
            if len(seen) >= self.max_pages:
                raise TargetError(f"{self.type}: the target still had a links.next after {self.max_pages} pages "
                                  f"(JsonApiTarget(max_pages=...)), at {redact_url(url)}")
            seen.add(url)
            answer = self._read(request)
            if answer.status_code != 200:
                config = self._config_error(answer)
                if config is not None:
                    raise config
                if 400 <= answer.status_code < 500 and answer.status_code != 429:
                    raise _LookupRefused(answer.status_code, _errors(answer))
                raise TargetError(f"{self.type}: HTTP {answer.status_code} to GET {answer.url}: {_errors(answer)}")
            try:
                body = answer.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("data") or [], list):
                raise TargetError(f"{self.type}: the target's answer to GET {answer.url} is not a JSON:API "
                                  f"collection: {answer.excerpt()[:200]!r}")
            for item in body.get("data") or []:
                try:
                    id_, attributes = self._resource(item)
                except _Unusable as why:
                    # A record we cannot identify would read as deleted and be created again.
                    raise TargetError(f"{self.type}: a record in the target's answer to GET {answer.url} is "
                                      f"unusable: {why}") from None
                found[id_] = attributes
            links = body.get("links")
            next_url = links.get("next") if isinstance(links, dict) else None
            if isinstance(next_url, dict):  # a JSON:API link object
                next_url = next_url.get("href")
            if first_page or not next_url or not isinstance(next_url, str):
                return found
            request = prepare(self.client, "GET", next_url, self.max_answer_bytes, headers=headers)

    def _value(self, name: str, target_id: str, attributes: dict[str, Any]) -> str | None:
        value = target_id if name == "id" else attributes.get(name)
        return None if value is None or value == "" else str(value)

    def _lookup(self, name: str, values: list[str]) -> dict[str, dict[str, Any]]:
        """The records whose ``name`` is one of ``values``; :class:`_FilterIgnored` when the
        answer holds a record not asked for (the target did not apply the filter)."""
        wanted = set(values)
        rows = self._collect({**self._filter(name, values), "page[size]": str(len(values))})
        for target_id, attributes in rows.items():
            value = self._value(name, target_id, attributes)
            if value not in wanted:
                shown = ",".join(values[:3]) + (",…" if len(values) > 3 else "")
                raise _FilterIgnored(
                    f"{self.type}: asked for {self.filter.format(field=name)}={shown}, the target answered "
                    f"record {target_id} whose {name} is {value!r}: it does not apply this filter; the run "
                    "stops (set JsonApiTarget(filter=...) to the target's spelling)")
        return rows

    def _lookup_works(self, name: str) -> bool:
        """Whether the target applies ``filter`` to ``name`` with several values (probed once
        per run). A target without records has nothing to find: the lookup is used as it is."""
        known = self._lookups.get(name)
        if known is not None:
            return known
        try:
            sample = self._collect({"page[size]": str(PROBE_SAMPLE)}, first_page=True)
        except _LookupRefused as error:
            raise TargetError(f"{self.type}: the target refused a plain read of {self.collection!r} "
                              f"(HTTP {error.status}): {error.errors}") from None
        if not sample:
            return True
        example = next(((i, v) for i, a in sample.items() if (v := self._value(name, i, a)) is not None), None)
        if example is None:
            # No record shows a value to look up: the filter cannot be shown to work.
            self._lookups[name] = False
            return False
        # Values no record holds, of the known value's kind (a target may refuse text where it
        # keeps numbers, and that refusal would read as a filter that does not work).
        if example[1].isdigit():
            nobody = [f"-{uuid.uuid4().int % 10**15}", f"-{uuid.uuid4().int % 10**15}"]
        else:
            nobody = [f"interlink-probe-{uuid.uuid4().hex}", f"interlink-probe-{uuid.uuid4().hex}"]
        try:
            hit = self._lookup(name, [example[1], nobody[0]])
            miss = self._lookup(name, nobody)
        except (_LookupRefused, _FilterIgnored):
            self._lookups[name] = False
            return False
        works = example[0] in hit and not miss
        self._lookups[name] = works
        return works

    def read(self, target_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Current attributes of these records; a missing id was deleted at the target."""
        ids, found = list(target_ids), {}
        if not ids:
            return {}
        if not self._lookup_works("id"):
            for target_id in ids:  # the filter cannot be trusted: one GET per record
                attributes = self._read_one(target_id)
                if attributes is not None:
                    found[target_id] = attributes
            return found
        for rows in self._lookup_batches("id", ids):
            found.update(rows)
        return found

    def _lookup_batches(self, name: str, values: list[str]) -> Iterator[dict[str, dict[str, Any]]]:
        """:meth:`_lookup` of ``values``, ``batch_size`` at a time; a refused filter stops the run."""
        for start in range(0, len(values), self.batch_size):
            try:
                yield self._lookup(name, values[start:start + self.batch_size])
            except _LookupRefused as error:
                raise TargetError(f"{self.type}: the target refused {self.filter.format(field=name)} "
                                  f"(HTTP {error.status}): {error.errors}") from None

    def _read_one(self, target_id: str) -> dict[str, Any] | None:
        request = prepare(self.client, "GET", self._item_url(target_id), self.max_answer_bytes,
                          headers={"Accept": JSONAPI_MEDIA_TYPE})
        answer = self._read(request)
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise self._config_error(answer) or TargetError(
                f"{self.type}: HTTP {answer.status_code} to GET {answer.url}: {_errors(answer)}")
        try:
            body = answer.json()
            _, attributes = self._resource(body.get("data") if isinstance(body, dict) else None, target_id)
        except (ValueError, _Unusable) as why:
            raise TargetError(f"{self.type}: the target's answer to GET {answer.url} is unusable: {why}") from None
        return attributes

    def find(self, source_ids: Iterable[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Records holding these source ids in ``match``: source id -> (target id, attributes).
        Stops the run (TargetError) rather than answer "not there" from a filter the target
        does not apply: the engine would create those records again."""
        if self.match is None:
            return {}
        ids, found = list(source_ids), {}
        if not ids:
            return {}
        spelled = self.filter.format(field=self.match)
        if not self._lookup_works(self.match):
            raise TargetError(
                f"{self.type}: a stopped run left {len(ids)} create(s) unfinished, and the target does not "
                f"apply {spelled}=a,b (asked for a record it holds and for values nobody holds, its answers "
                "did not match), so it cannot say whether they were created; the run stops rather than "
                "create them twice. Set JsonApiTarget(filter=...) to the target's spelling (Django REST "
                "framework JSON:API: 'filter[{field}.in]' with an 'in' lookup on the field), or make the "
                f"target filter on {self.match!r}")
        for rows in self._lookup_batches(self.match, ids):
            for target_id, attributes in rows.items():
                found[str(attributes.get(self.match))] = (target_id, attributes)
        return found

    def supports_atomic(self) -> bool:
        if self.atomic is None:
            request = prepare(self.client, "GET", self.collection, self.max_answer_bytes, params={"page[size]": "1"},
                              headers={"Accept": JSONAPI_MEDIA_TYPE})
            answer = self._read(request)
            if answer.status_code != 200:
                raise self._config_error(answer) or TargetError(
                    f"{self.type}: HTTP {answer.status_code} to GET {answer.url}: {_errors(answer)}")
            try:
                body = answer.json()
            except ValueError:
                body = None
            jsonapi = body.get("jsonapi") if isinstance(body, dict) else None
            ext = (jsonapi.get("ext") if isinstance(jsonapi, dict) else None) or []
            self.atomic = (isinstance(ext, list) and ATOMIC_EXT in ext) or ATOMIC_EXT in answer.headers.get("content-type", "")
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
        answer = self._send("POST", self.operations_path, {"atomic:operations": ops}, self.create_retry,
                            ATOMIC_MEDIA_TYPE)
        status = answer.status_code
        if status in (200, 204):
            results: Any = [{}] * len(ops)  # 204: no operation returned data
            if status == 200:
                try:
                    results = answer.json().get("atomic:results")
                except (ValueError, AttributeError):
                    results = None
            if not isinstance(results, list) or len(results) != len(ops):
                raise TargetError("the atomic answer does not hold one result per operation")
            return [self._atomic_result(status, result, target_id, attributes)
                    for result, (target_id, attributes) in zip(results, operations)]
        if status in (401, 403):
            raise self._config_error(answer) or AssertionError("unreachable: 401 and 403 are configuration errors")
        if 400 <= status < 500 and status != 429:
            raise BatchRefused(status, _errors(answer))
        raise TargetError(f"HTTP {status} from {self.operations_path}: {_errors(answer)}")

    def _atomic_result(self, status: int, result: Any, target_id: str | None,
                       attributes: dict[str, Any]) -> WriteResult:
        data = result.get("data") if isinstance(result, dict) else None
        if target_id is not None and data is None:
            return WriteResult(True, status, target_id, dict(attributes))  # an update without data: as sent
        try:
            id_, written = self._resource(data, target_id)
        except _Unusable as why:
            return self._unusable(status, f"its result for this operation is unusable: {why}",
                                  json.dumps(result, default=str)[:EXCERPT_CHARS])
        return WriteResult(True, status, id_, written)
