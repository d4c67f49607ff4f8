"""``API(root, credential_files)``: profiles in, sessions out; ``api.home`` is the default session's."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import httpx

from ._profiles import Credentials, load_profiles, resolve_credentials
from ._session import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Session

__all__ = ["API", "ApiBase"]

S = TypeVar("S")


class ApiBase(Generic[S]):
    """What ``API`` and ``AsyncAPI`` share: reading profiles and making sessions."""

    _session_class: Callable[..., S]

    def __init__(
        self,
        root: str,
        credential_files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if isinstance(credential_files, (str, os.PathLike)):
            credential_files = [credential_files]
        self._root = root.rstrip("/")
        # Read now, so a malformed file is reported where the API is made.
        self._profiles: dict[str, Credentials] = load_profiles(credential_files or ())
        self._headers = dict(headers or {})
        self._options: dict[str, Any] = {"timeout": timeout, "retries": retries, "transport": transport}
        self._default: S | None = None
        self._sessions: weakref.WeakSet[S] = weakref.WeakSet()
        self._lock = threading.Lock()

    def __call__(
        self,
        profile: str | None = None,
        *,
        key_id: str | None = None,
        key_secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> S:
        """A new session: ``api(profile="day to day working")``, ``api(key_id=…, key_secret=…)``,
        ``api(headers={…})`` (added to the API's headers). Close it when done (or use ``with``);
        closing the API closes the sessions it made too."""
        credentials = resolve_credentials(
            self._profiles, os.environ, profile=profile, key_id=key_id, key_secret=key_secret
        )
        session = self._session_class(
            self._root, credentials, headers=_merged(self._headers, headers), **self._options
        )
        self._sessions.add(session)
        return session

    @property
    def _default_session(self) -> S:
        # Made on first use, so the environment is read when the first call is made.
        if self._default is None:
            with self._lock:
                if self._default is None:
                    self._default = self()
        return self._default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._default_session, name)

    def _all_sessions(self) -> list[S]:
        return list(self._sessions)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._root}>"


def _merged(base: Mapping[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    # Header names are case-insensitive: a session's 'host' replaces the API's 'Host'.
    merged = {k.lower(): (k, v) for k, v in base.items()}
    merged.update({k.lower(): (k, v) for k, v in (extra or {}).items()})
    return dict(merged.values())


class API(ApiBase[Session]):
    """The client for an interlink site::

        api = API("https://mywonderfulsite.com/api", ["~/.mywonderfulsite/config"])
        site = api.home.describe_site()          # the default profile's session
        session = api(profile="day to day working")
    """

    _session_class = Session

    def close(self) -> None:
        """Close every session this API made (waiting for their ``callasync`` threads)."""
        for session in self._all_sessions():
            session.close()

    def __enter__(self) -> API:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
