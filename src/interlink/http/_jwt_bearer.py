"""A self-signed HS256 bearer token per request, as zgw-consumers' "ZGW" auth type sends.

Claims: ``iss`` and ``client_id`` (the client id), ``iat``, ``exp`` (``iat`` + lifetime) and,
when given, ``user_id`` and ``user_representation`` (the end user the call is made for).
"""

from __future__ import annotations

import time
from typing import Callable, Generator

import httpx

from interlink.http._jwt import encode_hs256

__all__ = ["JWTBearerAuth"]

DEFAULT_LIFETIME = 12 * 60 * 60  # zgw-consumers' default jwt_valid_for


class JWTBearerAuth(httpx.Auth):
    def __init__(
        self,
        client_id: str,
        secret: str,
        *,
        lifetime: int = DEFAULT_LIFETIME,
        user_id: str = "",
        user_representation: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lifetime <= 0:
            raise ValueError("lifetime must be positive (seconds)")
        self.client_id = client_id
        self._secret = secret
        self.lifetime = lifetime
        self.user_id = user_id
        self.user_representation = user_representation
        self._clock = clock

    def __repr__(self) -> str:
        return f"JWTBearerAuth(client_id={self.client_id!r}, secret=<hidden>, lifetime={self.lifetime})"

    def token(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "iat": now,
            "exp": now + self.lifetime,
            "client_id": self.client_id,
            "user_id": self.user_id,
            "user_representation": self.user_representation,
        }
        return encode_hs256(claims, self._secret)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request
