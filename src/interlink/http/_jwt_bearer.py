"""A self-signed HS256 bearer token, as zgw-consumers' "ZGW" auth type sends.

Claims: ``iss`` and ``client_id`` (the client id), ``iat``, ``exp`` (``iat`` + lifetime),
``user_id`` and ``user_representation`` (the end user the call is made for).

As in zgw-consumers, one token is minted per auth object (so per client, when the client is
built) and reused; a 403
answer mints a fresh one and the request is sent once more with it (zgw-consumers'
``RefreshTokenMixin``). Unlike zgw-consumers, a token past its ``exp`` is renewed before it
is sent, instead of costing a refused request first.
"""

from __future__ import annotations

import threading
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
        clock: Callable[[], float] | None = None,
    ) -> None:
        if lifetime <= 0:
            raise ValueError("lifetime must be positive (seconds)")
        self.client_id = client_id
        self._secret = secret
        self.lifetime = lifetime
        self.user_id = user_id
        self.user_representation = user_representation
        self._given_clock = clock
        self._expires = 0.0
        self._lock = threading.Lock()
        self._token: str | None = self._mint()  # at construction, as zgw-consumers' ZGWAuth

    def _clock(self) -> float:
        # time.time looked up per call, so a test's frozen clock (freezegun) applies
        return (self._given_clock or time.time)()

    def __repr__(self) -> str:
        return f"JWTBearerAuth(client_id={self.client_id!r}, secret=<hidden>, lifetime={self.lifetime})"

    requires_request_body = True  # a 403 retry re-sends the body

    def token(self) -> str:
        """The current token: minted on first use, again once expired or after :meth:`refresh_token`."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._token = self._mint()
            return self._token

    def refresh_token(self) -> str:
        """Mint a new token now (zgw-consumers' ``ZGWAuth.refresh_token``)."""
        with self._lock:
            self._token = self._mint()
            return self._token

    def _mint(self) -> str:
        now = int(self._clock())
        self._expires = now + self.lifetime - min(30.0, self.lifetime / 10)  # renew shortly before exp
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
        response = yield request
        if response.status_code == 403:
            request.headers["Authorization"] = f"Bearer {self.refresh_token()}"
            yield request
