"""Key ids, key secrets, their hashing, and the parsing of credentials sent by callers.

Pure functions: no I/O, no database, no framework. The server, the store and the CLI all
use these, so a key id minted by the CLI is parsed by the server with the same rules.

Why SHA-256 and not argon2 for key secrets: a key secret is 40 characters drawn uniformly
from 62 letters and digits by ``secrets``, i.e. about 238 bits of entropy. Slow password
hashes (argon2, bcrypt) exist to make guessing *low-entropy human passwords* expensive; no
amount of guessing reaches 2**238, so a stolen table of SHA-256 digests gives an attacker
nothing. A fast hash lets every API call check its key in microseconds instead of spending
~50 ms of CPU per call (or forcing a long-lived plaintext cache). Human passwords
get argon2id. The digest is "sha256$" + hex so another scheme can be added later and told
apart by its prefix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string

from interlink.errors import NotAuthorised

__all__ = [
    "KEY_ID_PATTERN",
    "KEY_SECRET_LENGTH",
    "KEY_SECRET_ALPHABET",
    "new_api_id",
    "new_key_id",
    "new_key_secret",
    "hash_key_secret",
    "check_key_secret",
    "parse_authorisation",
    "parse_basic_header",
    "split_key_password",
]

#: ``k-`` followed by 16 lower-case hex digits (64 random bits).
KEY_ID_PATTERN = re.compile(r"k-[0-9a-f]{16}")
KEY_SECRET_ALPHABET = string.ascii_letters + string.digits
KEY_SECRET_LENGTH = 40

_API_ID_PREFIX = re.compile(r"[a-z][a-z0-9]*")
_HASH_SCHEME = "sha256$"


def new_api_id(prefix: str) -> str:
    """A random public id such as ``u-3f9a0c1d2b4e5f60``.

    Random rather than sequential so ids reveal neither how many rows exist nor which
    neighbours to try.
    """
    prefix = prefix.rstrip("-")
    if not _API_ID_PREFIX.fullmatch(prefix):
        raise ValueError(f"api_id prefix must be lower-case letters/digits, got {prefix!r}")
    return f"{prefix}-{secrets.token_hex(8)}"


def new_key_id() -> str:
    """A random key id: ``k-`` + 16 hex digits."""
    return new_api_id("k")


def new_key_secret() -> str:
    """40 random ASCII letters and digits (~238 bits): shown to the user once, never stored."""
    return "".join(secrets.choice(KEY_SECRET_ALPHABET) for _ in range(KEY_SECRET_LENGTH))


def hash_key_secret(secret: str) -> str:
    """The stored form of a key secret (see the module docstring for why plain SHA-256)."""
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
    return _HASH_SCHEME + digest


def check_key_secret(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
    if not stored_hash.startswith(_HASH_SCHEME):
        return False
    return hmac.compare_digest(hash_key_secret(secret), stored_hash)


def parse_authorisation(value: str) -> tuple[str, str]:
    """Split an ``authorisation`` field ``keyid:secret`` into (key_id, secret).

    Error messages may name the key id but never echo the secret or the raw value.
    """
    key_id, sep, secret = value.strip().partition(":")
    if not sep:
        raise NotAuthorised(
            "authorisation must be 'keyid:secret'", field="authorisation"
        )
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise NotAuthorised(
            "authorisation key id must look like 'k-' followed by 16 hex digits",
            field="authorisation",
        )
    if not secret:
        raise NotAuthorised(f"authorisation for key {key_id} has no secret", field="authorisation")
    return key_id, secret


def parse_basic_header(header_value: str) -> tuple[str, str]:
    """Decode an ``Authorization: Basic …`` header value into (username, password).

    The password may itself contain colons (``keyid:secret``): only the first colon splits.
    """
    scheme, _, encoded = header_value.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise NotAuthorised("Authorization header must use the Basic scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise NotAuthorised("Authorization Basic credentials are not valid base64") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise NotAuthorised("Authorization Basic credentials must be 'username:password'")
    return username, password


def split_key_password(password: str) -> tuple[str, str] | None:
    """(key_id, secret) when a Basic password is ``k-…:secret``; None for a plain password."""
    key_id, sep, secret = password.partition(":")
    if sep and secret and KEY_ID_PATTERN.fullmatch(key_id):
        return key_id, secret
    return None
