"""Compact JWTs: HS256 signing and reading claims *without* verification. Pure functions.

Reading unverified claims is only ever used by a client on its *own* access token, to learn
when it expires; the server that receives the token is the one that verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

__all__ = ["encode_hs256", "unverified_claims", "expires_at"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_hs256(claims: dict[str, Any], secret: str | bytes, headers: dict[str, Any] | None = None) -> str:
    header = {"alg": "HS256", "typ": "JWT", **(headers or {})}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    key = secret.encode() if isinstance(secret, str) else secret
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def unverified_claims(token: str | bytes) -> dict[str, Any] | None:
    """The payload of a compact JWS, or ``None`` when ``token`` is not one (an opaque token)."""
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def expires_at(token: str | bytes) -> float | None:
    """The ``exp`` claim of a JWT as a UNIX time, or ``None`` (opaque token or no ``exp``)."""
    claims = unverified_claims(token)
    if not claims:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) else None
