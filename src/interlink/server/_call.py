"""``Call``: what a method may ask about the call it serves — the caller's role and user, its
address, and a database session in the call's own transaction.

    @home.method
    def list_users(rl: Role, call: Call, filter: UserFilter) -> list[User]:
        return list(call.db.scalars(select(User).where(User.username > filter.name_gt)))

``call.db`` is opened on first use (a call that never touches it costs nothing), committed
when the method returns and rolled back when it raises; the rows it loaded stay readable
after the commit, for the result. For a plain ``def`` method all of that happens in the
method's worker thread, never on the event loop.

A Call is also the context its method runs in: ``with call: ...`` makes it the current call
(``current_call()``) and, on the way out, commits or rolls back. That ``with`` is the one place
a transaction ends, whichever way the method is run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from interlink.errors import ServerError
from interlink.identity import DatabaseSessions, Role, User

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

__all__ = ["CURRENT_CALL", "Call", "CallSlot", "current_call"]

T = TypeVar("T")

# The call being served, for code that runs inside a method without being handed its Call
# (``Callback.send``, ``callbacks.emit``). Set only for calls that have a Call at all.
CURRENT_CALL: ContextVar[Call | None] = ContextVar("interlink_current_call", default=None)


def current_call() -> Call | None:
    """The Call of the method running in this context, if it has one."""
    return CURRENT_CALL.get()


class CallSlot(Generic[T]):
    """A typed place on every Call for one extension's own state of that call.

    An extension makes one at import time and keeps its per-call object there, so the Call
    needs to know nothing about it::

        STATE: CallSlot[CallbackState] = CallSlot("callbacks")
        STATE.set(call, CallbackState(...))      # when the call begins
        state = STATE.get(call)                  # CallbackState | None
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self, call: Call) -> T | None:
        slots = call._slots
        return None if slots is None else slots.get(self)

    def set(self, call: Call, value: T) -> None:
        if call._slots is None:
            call._slots = {}
        call._slots[self] = value

    def __repr__(self) -> str:
        return f"CallSlot({self.name!r})"


class Call:
    __slots__ = ("method", "role", "client", "_database", "_stack", "_session", "response", "before_commit",
                 "_slots", "_token")

    def __init__(self, method: str, role: Role | None, client: str | None, database: DatabaseSessions | None) -> None:
        self.method = method
        self.role = role
        self.client = client
        self._database = database
        self._stack: ExitStack | None = None
        self._session: Session | None = None
        # The encoded result, once the method has returned (runtime expressions read it).
        self.response: Any = None
        # Run with the result known, in the transaction, just before it commits (the
        # callbacks' outbox rows are written here).
        self.before_commit: list[Callable[[Call], None]] = []
        self._slots: dict[CallSlot[Any], Any] | None = None  # extensions' own state (CallSlot)
        self._token: Token[Call | None] | None = None

    @property
    def user(self) -> User | None:
        """The caller's user (the role's owner); None for an anonymous call of a public method."""
        return None if self.role is None else getattr(self.role, "user", None)

    @property
    def db(self) -> Session:
        """A SQLAlchemy session in this call's transaction (the site's database)."""
        if self._session is None:
            if self._database is None:
                raise ServerError(f"{self.method} uses call.db, but its ApiServer has no database")
            stack = ExitStack()
            self._session = stack.enter_context(self._database.session())
            self._stack = stack
        return self._session

    def __enter__(self) -> Call:
        self._token = CURRENT_CALL.set(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        token, self._token = self._token, None
        try:
            self.finish(error)
        finally:
            if token is not None:
                CURRENT_CALL.reset(token)

    def finish(self, error: BaseException | None = None) -> None:
        """Commit (no error) or roll back (error) the transaction, if one was opened; the
        ``before_commit`` hooks run first, and one that raises rolls everything back."""
        if error is None and self.before_commit:
            hooks, self.before_commit = self.before_commit, []
            try:
                for hook in hooks:
                    hook(self)
            except BaseException as hook_error:
                self.finish(hook_error)
                raise
        stack, self._stack = self._stack, None
        if stack is None:
            return
        if error is None:
            stack.close()
        else:
            stack.__exit__(type(error), error, error.__traceback__)

    def __repr__(self) -> str:
        return f"<Call {self.method} role={self.role!r}>"
