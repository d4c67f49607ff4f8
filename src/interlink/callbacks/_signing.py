"""Standard Webhooks signatures (https://www.standardwebhooks.com/), pure.

A message is signed with HMAC-SHA256 over ``<webhook-id>.<webhook-timestamp>.<body>``; the
``webhook-signature`` header carries ``v1,<base64>`` once per live secret, space-separated, so
that a receiver still holding the previous secret keeps verifying during a rotation. Secrets
are ``whsec_`` + base64 of 32 random bytes. :func:`verify` is the receiver's side, with the
specification's 5-minute tolerance on the timestamp (either way) against replays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

__all__ = [
    "SECRET_PREFIX",
    "TOLERANCE_SECONDS",
    "SignatureError",
    "new_message_id",
    "new_secret",
    "secret_key",
    "sign",
    "signature_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
MAX_SIGNATURE_HEADER = 4096  # a receiver bounds what it parses, too
MAX_SIGNATURES = 16


class SignatureError(ValueError):
    """A message whose signature, timestamp or headers do not verify."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_message_id() -> str:
    """A stable id for one message (all its attempts), for receivers to de-duplicate on."""
    return "msg_" + secrets.token_urlsafe(18)


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (a bare base64 secret is accepted too). Its base64
    may lack its ``=`` padding, as the Standard Webhooks reference libraries accept; other
    characters outside base64 are refused (the reference libraries skip them)."""
    body = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (ValueError, TypeError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret's key is 24 to 64 bytes")
    return key


def _signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(message_id: str, timestamp: int, body: bytes, secrets_: Iterable[str]) -> str:
    """The ``webhook-signature`` value: ``v1,<sig>`` for each secret (current first)."""
    return " ".join(f"v1,{_signature(secret_key(s), message_id, timestamp, body)}" for s in secrets_)


def signature_headers(message_id: str, body: bytes, secrets_: Iterable[str], timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(message_id, timestamp, body, secrets_),
    }


def _header(headers: Mapping[str, object], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if value is None:
        raise SignatureError(f"missing {name} header")
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def verify(
    headers: Mapping[str, object],
    body: bytes | str,
    secret: str | Iterable[str],
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check a received message; return its ``webhook-id``. Raise :class:`SignatureError`.

    ``secret`` may be several (a receiver rotating its own copy); any match verifies.
    """
    message_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signature = _header(headers, "webhook-signature")
    if len(signature) > MAX_SIGNATURE_HEADER:
        raise SignatureError("webhook-signature header too long")
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        raise SignatureError("webhook-timestamp is not a number of seconds")
    timestamp = int(stamp)
    now = time.time() if now is None else now
    if timestamp < now - tolerance:
        raise SignatureError("message timestamp too old")
    if timestamp > now + tolerance:
        raise SignatureError("message timestamp too new")
    payload = body.encode() if isinstance(body, str) else body
    candidates = [secret] if isinstance(secret, str) else list(secret)
    expected = [_signature(secret_key(s), message_id, timestamp, payload) for s in candidates]
    for entry in signature.split(" ")[:MAX_SIGNATURES]:
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        if any(hmac.compare_digest(value.encode(), e.encode()) for e in expected):
            return message_id
    raise SignatureError("no matching signature")
