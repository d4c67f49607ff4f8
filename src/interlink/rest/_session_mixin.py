"""``SessionMixin``: rest-tools' handler mixin giving ``self.session`` for the current user."""

from __future__ import annotations

from typing import Any

import tornado.web

from interlink.rest._session import Session, SessionWrapper

__all__ = ["SessionMixin"]


class SessionMixin(tornado.web.RequestHandler):
    """``class Handler(SessionMixin, RestHandler)``, routed with ``session=Session(…)`` among its
    arguments: ``self.session`` is the authenticated caller's session (created empty on first
    use; writes go back to the store), or ``None`` for an anonymous request."""

    _session_mgr: Session

    def initialize(self, *args: Any, session: Session, **kwargs: Any) -> None:  # type: ignore[override]
        self._session_mgr = session
        super().initialize(*args, **kwargs)

    @property
    def session(self) -> SessionWrapper | None:
        user = self.current_user
        if not user:
            return None
        try:
            data = self._session_mgr.get_session(user)
        except KeyError:
            data = {}
            self._session_mgr.set(user, data)
        return SessionWrapper(user, data, self._session_mgr)
