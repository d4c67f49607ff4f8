"""interlink.store: users, roles and keys on SQLAlchemy 2, with Alembic migrations.

``Database(url)`` (SQLite file by default, any SQLAlchemy URL), ``Database.migrate()``,
the models ``User``, ``Role``, ``Key``, the operations the CLI uses, and ``KeyAuthenticator``
which the server asks "which role is this keyid:secret?" on every call.
"""

try:
    import sqlalchemy  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.store needs the store extra ({error}): pip install 'interlink[store]'") from error

from interlink.identity import Authenticator
from interlink.store._authenticators import KeyAuthenticator, MemoryKeys
from interlink.store._backend import open_backend
from interlink.store._login_attempts import DatabaseCounters, LoginAttempt
from interlink.store._outbox import DeliveryAttempt, OutboxMessage, SigningSecret, WebhookEndpoint
from interlink.store._sessions import SessionStore, end_sessions
from interlink.store._encryption import SecretDecryptionFailed, SecretKeyMissing, check_secret_key
from interlink.store._database import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    VERSION_TABLE,
    Database,
)
from interlink.store._models import (
    DEFAULT_ROLE_NAME,
    Base,
    Key,
    LoginSession,
    Role,
    User,
    UTCDateTime,
    utcnow,
)
from interlink.store._passwords import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password
from interlink.store._services import Service, find_service, find_service_for_url
from interlink.store._sync_state import (
    SyncIssue,
    SyncLink,
    SyncState,
    forget_sync_links,
    get_sync_state,
    list_sync_issues,
    list_sync_states,
    load_sync_link_states,
    load_sync_links,
    record_sync_issue,
    resolve_sync_issues,
    save_sync_counts,
    save_sync_cursor,
    save_sync_links,
)
from interlink.store._operations import (
    AlreadyExists,
    create_key,
    create_role,
    create_user,
    find_key,
    find_role,
    find_user,
    list_keys,
    list_roles,
    list_services,
    list_users,
    load_model,
    set_password,
)

__all__ = [
    "SecretDecryptionFailed",
    "SecretKeyMissing",
    "check_secret_key",
    "SyncIssue",
    "SyncLink",
    "SyncState",
    "forget_sync_links",
    "get_sync_state",
    "list_sync_issues",
    "list_sync_states",
    "load_sync_link_states",
    "load_sync_links",
    "record_sync_issue",
    "resolve_sync_issues",
    "save_sync_counts",
    "save_sync_cursor",
    "save_sync_links",
    "DatabaseCounters",
    "DeliveryAttempt",
    "LoginAttempt",
    "OutboxMessage",
    "SigningSecret",
    "WebhookEndpoint",
    "SessionStore",
    "end_sessions",
    "open_backend",
    "Service",
    "find_service",
    "find_service_for_url",
    "AlreadyExists",
    "Authenticator",
    "Base",
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_ROLE_NAME",
    "Database",
    "Key",
    "KeyAuthenticator",
    "LoginSession",
    "MemoryKeys",
    "Role",
    "User",
    "UTCDateTime",
    "VERSION_TABLE",
    "create_key",
    "create_role",
    "create_user",
    "find_key",
    "find_role",
    "find_user",
    "list_keys",
    "list_roles",
    "list_services",
    "list_users",
    "load_model",
    "set_password",
    "utcnow",
    "MIN_PASSWORD_LENGTH",
    "hash_password",
    "needs_rehash",
    "verify_password",
]
