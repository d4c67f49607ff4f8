"""Compact JWTs through one library, PyJWT: HS256 signing and reading claims unverified.

Reading unverified claims is only ever used by a client on its *own* access token, to learn
when it expires; the server that receives the token is the one that verifies it.
"""

from __future__ import annotations

from typing import Any

import jwt

__all__ = ["encode_hs256", "unverified_claims", "expires_at"]


def encode_hs256(claims: dict[str, Any], secret: str | bytes, headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT", **(headers or {})})


def unverified_claims(token: str | bytes) -> dict[str, Any] | None:
    """The payload of a compact JWS, or ``None`` when ``token`` is not one (an opaque token)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None
    return claims  # PyJWT refuses a payload that is not a JSON object


def expires_at(token: str | bytes) -> float | None:
    """The ``exp`` claim of a JWT as a UNIX time, or ``None`` (opaque token or no ``exp``)."""
    claims = unverified_claims(token)
    if not claims:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) else None
