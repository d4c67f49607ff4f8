"""Users, roles and keys: the SQLAlchemy 2 tables behind authentication.

Rows are found from outside by ``api_id`` (random, prefixed: ``u-…``, ``r-…``; a key's id
``k-…`` is its api_id), never by the integer primary key, which stays internal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, cast

from sqlalchemy import JSON, DateTime, ForeignKey, MetaData, String, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy import inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from interlink import identity
from interlink.credentials import hash_key_secret, new_api_id, new_key_id, new_key_secret
from interlink.wire import Model

__all__ = [
    "Base",
    "User",
    "Role",
    "Key",
    "UTCDateTime",
    "utcnow",
    "DEFAULT_ROLE_NAME",
    "load_for_detach",
    "LoginSession",
]

DEFAULT_ROLE_NAME = "default"

# Named constraints let Alembic alter them later (SQLite batch mode needs names too).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always UTC-aware in Python, whatever the database keeps.

    SQLite has no time zones and hands back naive values; PostgreSQL's ``timestamptz``
    hands back the session's zone. Both come back here as UTC-aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; interlink stores UTC-aware datetimes only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every interlink table; ``Base.metadata`` is Alembic's target."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


class User(Base, identity.User):
    """A person or system that owns roles. Created together with its default role."""

    __tablename__ = "interlink_users"
    api_id_prefix: ClassVar[str | None] = "u"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_api_id("u"))
    username: Mapped[str] = mapped_column(String(150), unique=True)
    # argon2id hash, added by the passwords issue; None = no password login.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    # Nullable only because the user row must exist before its default role can point at it.
    default_role_id: Mapped[int | None] = mapped_column(
        ForeignKey("interlink_roles.id", ondelete="SET NULL", use_alter=True), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __init__(self, **kwargs: Any) -> None:
        # Ids are set at construction, not at flush, so they can be shown before saving.
        kwargs.setdefault("api_id", new_api_id("u"))
        super().__init__(**kwargs)

    default_role: Mapped[Role | None] = relationship(
        foreign_keys=[default_role_id], post_update=True, lazy="selectin"
    )
    roles: Mapped[list[Role]] = relationship(
        back_populates="user",
        foreign_keys="Role.user_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Role.id",
    )

    def __repr__(self) -> str:
        return f"User(api_id={self.api_id!r}, username={self.username!r})"


class Role(Base, identity.Role):
    """What a caller acts as. A key authenticates as exactly one role.

    ``user`` is loaded eagerly (joined) because roles are handed to method code after the
    session that loaded them has closed.
    """

    __tablename__ = "interlink_roles"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    api_id_prefix: ClassVar[str | None] = "r"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_api_id("r"))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("interlink_users.id", ondelete="CASCADE"), index=True)
    # Permission names granted to this role; the permissions issue fills these in.
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("api_id", new_api_id("r"))
        kwargs.setdefault("permissions", [])
        super().__init__(**kwargs)

    user: Mapped[User] = relationship(
        back_populates="roles", foreign_keys=[user_id], lazy="joined", innerjoin=True
    )
    keys: Mapped[list[Key]] = relationship(
        back_populates="role", cascade="all, delete-orphan", passive_deletes=True, order_by="Key.id"
    )

    @property
    def is_default(self) -> bool:
        """Whether this is its user's default role (full access, like the user's password)."""
        # Mapped as never None, but it is until the role is attached to a user.
        user = cast("User | None", self.user)
        return user is not None and user.default_role_id == self.id

    def has(self, permission: str) -> bool:
        """The default role may do everything; any other role what its permissions list."""
        if self.is_default:
            return True
        return permission in (self.permissions or ())

    def __repr__(self) -> str:
        return f"Role(api_id={self.api_id!r}, name={self.name!r})"


class Key(Base, Model):
    """A credential for one role: a public ``key_id`` and a secret kept only as a hash."""

    __tablename__ = "interlink_keys"
    api_id_prefix: ClassVar[str | None] = "k"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_key_id)
    role_id: Mapped[int] = mapped_column(ForeignKey("interlink_roles.id", ondelete="CASCADE"), index=True)
    # None until create_secret() runs: such a key never authenticates.
    secret_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # During a rotation the old secret keeps working until previous_secret_expires_at (0003).
    previous_secret_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # CIDR networks the key may be used from; None = anywhere (0003).
    allowed_networks: Mapped[list[str] | None] = mapped_column(JSON, default=None)

    role: Mapped[Role] = relationship(back_populates="keys", lazy="joined", innerjoin=True)

    def __init__(self, **kwargs: Any) -> None:
        # The id is needed before flush (it is printed next to the secret), so set it now.
        kwargs.setdefault("key_id", new_key_id())
        super().__init__(**kwargs)

    @hybrid_property
    def api_id(self) -> str:
        return self.key_id

    def create_secret(self) -> bytes:
        """Make a new secret, keep only its hash, and return the secret: the one time it is seen.

        Calling it again replaces the secret (the old one stops working once saved).
        """
        secret = new_key_secret()
        self.secret_hash = hash_key_secret(secret)
        return secret.encode("ascii")

    def rotate_secret(self, grace: dt.timedelta, now: dt.datetime | None = None) -> bytes:
        """A new secret; the current one stays valid for ``grace`` so callers can switch over.

        Returns the new secret (shown once). Two secrets are live at most: rotating again
        drops the older previous secret at once.
        """
        now = now or utcnow()
        if self.secret_hash is not None and grace > dt.timedelta(0):
            self.previous_secret_hash = self.secret_hash
            self.previous_secret_expires_at = now + grace
        else:
            self.previous_secret_hash = None
            self.previous_secret_expires_at = None
        return self.create_secret()

    def usable_at(self, when: dt.datetime) -> bool:
        """Not revoked, not expired, and has a secret."""
        if self.secret_hash is None or self.revoked_at is not None:
            return False
        return self.expires_at is None or when < self.expires_at

    def status(self, now: dt.datetime) -> str:
        """One word for listings: ``revoked``, ``expired``, ``no secret``, ``rotating`` (the
        previous secret still works too) or ``active``; revocation wins over the rest."""
        if self.revoked_at is not None:
            return "revoked"
        if not self.usable_at(now):
            return "expired" if self.expires_at is not None and self.secret_hash is not None else "no secret"
        previous_until = self.previous_secret_expires_at
        if self.previous_secret_hash is not None and previous_until is not None and now < previous_until:
            return "rotating"
        return "active"

    def __repr__(self) -> str:
        return f"Key(key_id={self.key_id!r})"


class LoginSession(Base):
    """A browser's login: the cookie holds a random token, the table only its SHA-256.

    Server-side so that logout, expiry and a deleted user reach every worker process
    (they share the database), not just the one that served the logout.
    """

    __tablename__ = "interlink_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(80), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("interlink_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    def __repr__(self) -> str:
        return f"LoginSession(id={self.id!r}, user_id={self.user_id!r})"


def load_for_detach(session: Session) -> None:
    """Load what detached users, roles and keys are read through, before the session closes.

    Eager loading stops at cycles (role -> user -> default role -> user …), so a role's user's
    default role, say, would otherwise raise DetachedInstanceError in method code. Following
    the many-to-one links here mostly hits the identity map and costs no SQL.
    """
    pending: list[object | None] = list(session.identity_map.values())
    seen: set[int] = set()
    while pending:
        obj = pending.pop()
        if obj is None or id(obj) in seen or obj in session.deleted:
            continue
        seen.add(id(obj))
        state = inspect(obj)
        if not state.persistent or state.expired:
            continue
        if isinstance(obj, Role):
            pending.append(obj.user)
        elif isinstance(obj, User):
            pending.append(obj.default_role)
        elif isinstance(obj, Key):
            pending.append(obj.role)
