"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The key comes from the environment variable ``INTERLINK_SECRET_KEY``: one Fernet key, or
several separated by commas (the first encrypts, all decrypt — rotate by prepending a new
key, re-saving, then dropping the old one). Make one with::

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"

Stored values are ``fernet:<token>`` so another scheme can be told apart later. Nothing
here logs or echoes a secret.
"""

from __future__ import annotations


from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["SECRET_KEY_ENV", "SecretKeyMissing", "SecretDecryptionFailed", "check_secret_key", "encrypt_secret",
           "decrypt_secret"]

from interlink.settings import SECRET_KEY_ENV, Settings

_PREFIX = "fernet:"


class SecretKeyMissing(RuntimeError):
    """A secret has to be stored or read, but ``INTERLINK_SECRET_KEY`` is not set (or invalid)."""


class SecretDecryptionFailed(RuntimeError):
    """A stored secret does not decrypt with the configured key(s)."""


#: How to make a key, for every message that asks for one.
MAKE_A_KEY = ('make one with: python -c "from cryptography.fernet import Fernet; '
              'print(Fernet.generate_key().decode())"')


def _fernet() -> MultiFernet:
    raw = Settings.from_environ().secret_key
    if not raw:
        raise SecretKeyMissing(
            f"{SECRET_KEY_ENV} is not set; signing and service secrets are encrypted at rest with it: {MAKE_A_KEY}"
        )
    try:
        return MultiFernet([Fernet(part.strip().encode()) for part in raw.split(",") if part.strip()])
    except (ValueError, TypeError) as exc:
        raise SecretKeyMissing(
            f"{SECRET_KEY_ENV} is not a valid Fernet key (32 url-safe base64 bytes): {MAKE_A_KEY}"
        ) from exc


def check_secret_key() -> None:
    """Raise :class:`SecretKeyMissing` (one line saying how to make a key) unless
    ``INTERLINK_SECRET_KEY`` is set to usable keys: for a server or worker to refuse to start
    instead of failing on its first secret."""
    _fernet()


def encrypt_secret(plain: str) -> str:
    return _PREFIX + _fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_secret(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        raise SecretDecryptionFailed("stored secret has an unknown format")
    try:
        return _fernet().decrypt(stored[len(_PREFIX):].encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretDecryptionFailed(f"stored secret does not decrypt with {SECRET_KEY_ENV}") from exc
