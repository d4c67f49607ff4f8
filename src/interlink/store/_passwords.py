"""Human passwords: argon2id hashing and a check that costs the same whether or not the user
exists. Part of the store (argon2-cffi comes with the ``store`` extra); the public names are
exported by ``interlink.store``.

Passwords are low-entropy, so unlike key secrets (see ``interlink.credentials``) they get a
slow, memory-hard hash: argon2id with argon2-cffi's defaults (RFC 9106 "low memory" profile:
t=3, m=64 MiB, p=4), about 50 ms of CPU per check. The stored form is the PHC string
(``$argon2id$v=19$m=65536,t=3,p=4$salt$hash``), so its parameters travel with it and can be
raised later; ``needs_rehash`` tells when.

Constant time: a login for an unknown user, or a user with no password, still verifies the
password against a dummy hash made with the same parameters, so response time does not reveal
which usernames exist.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "verify_password", "needs_rehash", "MIN_PASSWORD_LENGTH"]

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()  # argon2id is the type argon2-cffi uses by default


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("interlink: no such user, same cost")


def hash_password(password: str) -> str:
    """The stored form of ``password`` (never log or store the password itself)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    """Whether ``password`` matches ``stored_hash``; ``None`` (no user, no password) costs the
    same as a real check and answers False."""
    if stored_hash is None:
        try:
            _hasher.verify(_dummy_hash(), password)
        except VerificationError:
            pass
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
