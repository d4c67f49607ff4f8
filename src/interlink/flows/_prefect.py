"""The Prefect shell: a flow per run, tasks for hand-written flows, the summary artifact.

Imported only when a flow runs (``Sync.run``, ``interlink sync run``) so that declaring syncs,
reading their state and the rest of interlink never import Prefect. The shell reads a
:class:`~interlink.flows.Sync` declaration and hands it to the engine (``_engine.run_sync``);
it changes nothing in the declaration or in the catalogue of declared syncs.

Tasks, for users who write their own ``@flow`` as the Prefect examples do:

* :func:`extract_pages`: a source's records from a cursor on, as a list of pages;
* :func:`load_batch`: plan, write and commit one batch for a sync (the id map makes it safe
  to call twice with the same records);
* :func:`advance_cursor`: store the cursor once everything before it is loaded.

:func:`interlink_sync` is the flow ``Sync.run`` runs; it takes the sync's *name* (and
optionally the module declaring it), so it can be served or deployed as it is::

    interlink_sync.serve(name="customers-hourly", parameters={"name": "customers",
                         "module": "oro_sync.flows"}, interval=3600)
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from interlink.flows import _engine
from interlink.flows._engine import Counts
from interlink.flows._progress import RunProgress, summary_rows, summary_table
from interlink.flows._sync import Sync, find_sync

__all__ = ["interlink_sync", "sync_records", "run_flow", "flow_for", "extract_pages", "load_batch",
           "advance_cursor"]

# The sync a flow run started by ``run_flow`` runs: the flow takes a sync's *name* (so it can be
# served and deployed), and a sync run from Python need not be declared under it
# (``register=False``). Per context, so runs on other threads or tasks do not see it.
_running: contextvars.ContextVar[Sync | None] = contextvars.ContextVar("interlink_sync_running", default=None)


@task(name="extract_pages", cache_policy=NO_CACHE, persist_result=False)
def extract_pages(source: Any, since: Any = None) -> list[list[dict[str, Any]]]:
    """Every page of ``source`` from ``since`` on (holds them all: for small syncs)."""
    return [page.records for page in source.pages(since)]


@task(name="load_batch", cache_policy=NO_CACHE, persist_result=False)
def load_batch(sync: Sync, records: list[dict[str, Any]]) -> Counts:
    """Plan, write and commit one batch of source records for ``sync``."""
    return _engine.load_batch(sync, records)


@task(name="advance_cursor", cache_policy=NO_CACHE, persist_result=False)
def advance_cursor(sync: Sync, value: Any) -> None:
    """Store ``sync``'s cursor; call it only after the records before it are loaded."""
    from interlink.store import save_sync_cursor

    with _engine.store_of(sync).session() as session:
        save_sync_cursor(session, sync.name, value)


# One task per run, async, wrapping the engine's page loop (which commits the id map and the
# cursor page by page, as without Prefect). Not a task per page: in an async flow each sync task
# run costs Prefect 0.1 s to 0.3 s here (measured with 10 empty ones), more than loading a page.
@task(name="sync_records", cache_policy=NO_CACHE, persist_result=False)
async def sync_records(sync: Sync, progress: bool = False) -> Counts:
    """Read, plan, write and commit every page of ``sync`` from its cursor on."""
    with RunProgress(sync.name, enabled=progress) as bar:
        return _engine.run_sync(sync, on_page=bar.update)


def _sync_named(name: str) -> Sync:
    # A function, not the context variable in the flow's body: Prefect pickles the flow by
    # value to run it in a subprocess, and a context variable does not pickle.
    given = _running.get()
    return given if given is not None and given.name == name else find_sync(name)


def _artifact_key(name: str) -> str:
    # Prefect artifact keys: lowercase letters, digits and dashes only.
    return "sync-" + re.sub(r"[^a-z0-9-]", "-", name.lower())


# An ``async`` flow on purpose, though the work in it is blocking: Prefect's engine for sync
# flows joins its heartbeat thread when the run ends, and that thread sleeps in 1-second steps,
# so every sync flow run lasts about a second longer than its work (measured with Prefect
# 3.8.8: 1.15 s for an empty sync flow, 0.25 s for an empty async one). The async engine sends
# the same heartbeats and does not wait for the thread.
@flow(name="interlink-sync", validate_parameters=False, persist_result=False)
async def interlink_sync(name: str, module: str | None = None, progress: bool = True) -> Counts:
    """Run the sync declared as ``name`` (importing ``module`` first when given)."""
    if module:
        importlib.import_module(module)
    sync = _sync_named(name)
    logger = get_run_logger()
    started = time.perf_counter()
    counts = await sync_records(sync, progress)
    seconds = time.perf_counter() - started
    await acreate_table_artifact(
        key=_artifact_key(sync.name), table=summary_rows(counts),
        description=f"sync {sync.name}: {counts.read} records read in {seconds:.1f} s",
    )
    if progress:
        from rich.console import Console

        Console().print(summary_table(sync.name, counts, seconds))
    logger.info("sync %s: %s", sync.name, counts.as_dict())
    return counts


def flow_for(sync: Sync) -> Any:
    """The flow that runs ``sync`` (its run is named after the sync)."""
    return interlink_sync.with_options(flow_run_name=f"sync-{sync.name}")


def run_flow(sync: Sync, progress: bool = True) -> Counts:
    """Run ``sync`` as a Prefect flow run to completion; returns its counts (``Sync.run()``)."""

    def run() -> Counts:
        _running.set(sync)  # in this run's own context only
        counts: Counts = asyncio.run(flow_for(sync)(sync.name, progress=progress))
        return counts

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return contextvars.copy_context().run(run)
    # Called from running async code (a notebook, another flow): run the flow on its own thread.
    with ThreadPoolExecutor(1, thread_name_prefix=f"sync-{sync.name}") as pool:
        return pool.submit(contextvars.copy_context().run, run).result()
