"""Small, explicit store operations shared by the CLI, the server and tests.

Each takes an open session and leaves committing to the caller (``with db.session() as s:``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from interlink import identity
from interlink.store._models import DEFAULT_ROLE_NAME, Key, Role, User
from interlink.store._services import Service
from interlink.store._sessions import end_sessions

__all__ = [
    "create_user",
    "create_role",
    "create_key",
    "find_user",
    "find_role",
    "find_key",
    "load_model",
    "list_users",
    "list_roles",
    "list_keys",
    "list_services",
    "set_password",
    "AlreadyExists",
]

T = TypeVar("T")


class AlreadyExists(ValueError):
    """A user or role name that is already taken."""


def create_user(session: Session, username: str) -> User:
    """A new user with its default role (named ``default``), flushed so ids are final."""
    username = username.strip()
    if not username:
        raise ValueError("a username may not be empty")
    if ":" in username:
        # Basic auth splits user:password at the first colon, so a colon could never log in.
        raise ValueError("a username may not contain ':'")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(f"user {username!r} already exists")
    user = User(username=username)
    session.add(user)
    session.flush()
    role = Role(name=DEFAULT_ROLE_NAME, user=user)
    session.add(role)
    session.flush()
    user.default_role = role
    session.flush()
    return user


def create_role(session: Session, user: User, name: str) -> Role:
    """A new role of ``user``; role names are unique per user."""
    name = name.strip()
    if not name:
        raise ValueError("a role name may not be empty")
    taken = session.scalar(select(Role.id).where(Role.user_id == user.id, Role.name == name))
    if taken is not None:
        raise AlreadyExists(f"user {user.username!r} already has a role {name!r}")
    role = Role(name=name, user=user)
    session.add(role)
    session.flush()
    return role


def create_key(session: Session, role: Role) -> tuple[Key, bytes]:
    """A new key for ``role`` and its secret, which is not kept anywhere: show it once."""
    key = Key(role=role)
    secret = key.create_secret()
    session.add(key)
    session.flush()
    return key, secret


def find_user(session: Session, ref: str) -> User:
    """A user by api_id (``u-…``) or username; LookupError if there is none."""
    user = session.scalar(select(User).where((User.api_id == ref) | (User.username == ref)))
    if user is None:
        raise LookupError(f"no user {ref!r}")
    return user


def find_role(session: Session, ref: str) -> Role:
    """A role by api_id (``r-…``), or by name when exactly one role has that name.

    ``user/role`` (e.g. ``joebloggs/everyday``) names one user's role unambiguously.
    """
    role = session.scalar(select(Role).where(Role.api_id == ref))
    if role is not None:
        return role
    username, slash, name = ref.rpartition("/")
    query = select(Role).where(Role.name == (name if slash else ref))
    if slash:
        query = query.join(Role.user).where(User.username == username)
    roles = list(session.scalars(query).unique())
    if not roles:
        raise LookupError(f"no role {ref!r}")
    if len(roles) > 1:
        owners = ", ".join(sorted(f"{r.user.username}/{r.name} ({r.api_id})" for r in roles))
        raise LookupError(f"role name {ref!r} is ambiguous: {owners}; use the api_id or user/role")
    return roles[0]


def find_key(session: Session, key_id: str) -> Key:
    key = session.scalar(select(Key).where(Key.key_id == key_id))
    if key is None:
        raise LookupError(f"no key {key_id!r}")
    return key


# A signature names the identity types (``interlink.User``); their rows are the store's classes.
_MAPPED: dict[type, type] = {identity.User: User, identity.Role: Role}


def load_model(session: Session, cls: type[T], api_id: str) -> T | None:
    """Any mapped class by its ``api_id`` (for a Key, its key id); None if absent.
    ``interlink.User`` and ``interlink.Role`` load the store's users and roles.

    The eager loads configured on the mapping come along, so the object is usable detached.
    """
    mapped = _MAPPED.get(cls, cls)
    column: Any = getattr(mapped, "api_id")
    found: T | None = session.scalar(select(mapped).where(column == api_id))
    return found


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)).unique())


def list_roles(session: Session, user: User | None = None) -> list[Role]:
    """Every role (or ``user``'s), by username then role name."""
    query = select(Role).join(Role.user).order_by(User.username, Role.name)
    if user is not None:
        query = query.where(Role.user_id == user.id)
    return list(session.scalars(query).unique())


def list_keys(session: Session, role: Role | None = None) -> list[Key]:
    """Every key (or ``role``'s), oldest first. ``Key.status(now)`` says which still work."""
    query = select(Key).order_by(Key.id)
    if role is not None:
        query = query.where(Key.role_id == role.id)
    return list(session.scalars(query).unique())


def list_services(session: Session) -> list[Service]:
    """Every service record, by slug."""
    return list(session.scalars(select(Service).order_by(Service.slug)))


def set_password(session: Session, user: User, password: str) -> None:
    """Set ``user``'s login password (argon2id hash only) and end the user's site sessions.

    ValueError when the password is refused (too short, too long).
    """
    from interlink.store._passwords import hash_password

    user.password_hash = hash_password(password)
    end_sessions(session, user)
