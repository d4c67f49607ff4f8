"""``api.home.describe_site``: a module namespace and a method handle with its properties.

A method is called with keyword arguments and returns result objects; it also has ``.name``,
``.json(...)``, ``.collate(...)``, ``.callasync(...)`` and ``.broadcast(api_roots, ...)``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from interlink.urls import redact_url, redact_urls

from interlink.wire import FormValue

from ._call import Fields, collate_arguments, fields_dict, prepare_fields
from ._objects import to_objects

if TYPE_CHECKING:
    from ._async import AsyncSession
    from ._session import Session, SessionBase

__all__ = ["RemoteMethod", "RemoteModule", "logger"]

logger = logging.getLogger("interlink.client")

MAX_BROADCAST_THREADS = 64


M = TypeVar("M")


class RemoteModule(Generic[M]):
    """``session.home``: its attributes are the module's methods (``M``: a RemoteMethod, or an
    AsyncRemoteMethod for an async session)."""

    __slots__ = ("_session", "_name")

    def __init__(self, session: SessionBase[Any, M], name: str) -> None:
        self._session = session
        self._name = name

    def __getattr__(self, name: str) -> M:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._session.method(f"{self._name}.{name}")

    def __repr__(self) -> str:
        return f"<RemoteModule {self._name}>"


S = TypeVar("S", "Session", "AsyncSession")


class MethodHandle(Generic[S]):
    """What ``RemoteMethod`` and ``AsyncRemoteMethod`` share: the method's name, the arguments
    it sends in the query string, and a call's arguments made into the fields to send."""

    __slots__ = ("_session", "name", "_in_query")

    def __init__(self, session: S, name: str) -> None:
        self._session: S = session
        #: The API name of the method, e.g. ``"home.describe_site"``.
        self.name = name
        self._in_query: frozenset[str] = frozenset()

    def in_query(self, *names: str) -> Self:
        """This method with the named arguments sent in the URL's query string, not the body:
        ``api.files.store.in_query("store")(store="b", upload=FileUpload(path))``. Only for
        what a front web server must route on (query strings reach its logs); never secrets."""
        method = type(self)(self._session, self.name)
        method._in_query = frozenset(names)
        return method

    def _fields(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Fields:
        return prepare_fields(collate_arguments(self.name, args, kwargs), self._in_query)


class RemoteMethod(MethodHandle["Session"]):
    """One API method of a session, e.g. ``home.describe_site``."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the method; the JSON result comes back as ``ApiObject``s and lists."""
        return to_objects(self.json(*args, **kwargs))

    def json(self, *args: Any, **kwargs: Any) -> Any:
        """Call the method; the result as decoded JSON (dicts, lists, str, numbers, None)."""
        fields = self._fields(args, kwargs)
        return self._session._send(self._session._root, self.name, fields)

    def collate(self, *args: Any, **kwargs: Any) -> dict[str, FormValue]:
        """The form fields this call would POST, as ``{name: value}``, without credentials."""
        return fields_dict(collate_arguments(self.name, args, kwargs))

    def callasync(self, *args: Any, **kwargs: Any) -> threading.Thread:
        """Call on a separate thread; the result is discarded and an exception is logged on
        ``logging.getLogger("interlink.client")``. Returns the started thread (join it if you
        must know the call is over; ``session.close()`` joins them all)."""
        fields = self._fields(args, kwargs)  # bad arguments fail now
        session = self._session
        root = session._root

        def run() -> None:
            try:
                session._send(root, self.name, fields)
            except Exception as exc:
                logger.error("callasync %s at %s failed: %s", self.name, redact_url(root), redact_urls(repr(exc)))
            finally:
                session._forget_thread(threading.current_thread())

        thread = threading.Thread(target=run, name=f"callasync {self.name}")
        session._remember_thread(thread)
        thread.start()
        return thread

    def broadcast(self, api_roots: Iterable[str], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call the method at every root, each on its own thread, with this session's credentials
        and headers. Returns ``{root: result or the exception it raised}`` in the order given:
        every root has an entry, a failure never hides the others' results."""
        roots = list(api_roots)
        if len(set(roots)) != len(roots):
            raise ValueError("api_roots has a root twice; its two answers could not both be returned")
        fields = self._fields(args, kwargs).for_concurrent_sends()
        outcomes: dict[str, Any] = {}
        if not roots:
            return outcomes
        workers = min(len(roots), MAX_BROADCAST_THREADS)
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=f"broadcast {self.name}") as pool:
            futures = {root: pool.submit(self._session._send, root, self.name, fields) for root in roots}
            for root, future in futures.items():
                error = future.exception()
                outcomes[root] = error if error is not None else to_objects(future.result())
        return outcomes

    def __repr__(self) -> str:
        return f"<RemoteMethod {self.name}>"
