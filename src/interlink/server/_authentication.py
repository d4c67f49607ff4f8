"""Credentials -> Role, with failed-login limits: one object shared by API calls and the login
page, so both count failures the same way and the login page reaches no further into the app.
"""

from __future__ import annotations

from interlink.errors import NotAuthorised
from interlink.identity import Authenticator, Role

from ._credentials import Credentials, KeyCredentials
from ._ratelimit import FailureLimiter

__all__ = ["Authentication"]


class Authentication:
    def __init__(self, authenticator: Authenticator, limiter: FailureLimiter) -> None:
        self.authenticator = authenticator
        self.limiter = limiter

    async def role_for(self, credentials: Credentials, client: str | None) -> Role:
        """The Role the credentials name; NotAuthorised (counted) when they do not check out,
        TooManyRequests when the limits of server/_ratelimit.py refuse the attempt."""
        limiter = self.limiter
        is_key = isinstance(credentials, KeyCredentials)
        attempt = await limiter.begin(credentials.identity, client, password=not is_key)
        try:
            role = await self._verify(credentials, client)
        finally:
            limiter.release(attempt)
        if role is None:
            await limiter.failed(attempt)
            if isinstance(credentials, KeyCredentials):
                if credentials.username is None:
                    raise NotAuthorised("unknown, revoked or wrong key")
                raise NotAuthorised("wrong username or key")
            raise NotAuthorised(
                "wrong username or password (a key is sent as user:keyid:secret or keyid:secret)"
            )
        await limiter.succeeded(attempt)
        return role

    async def login(self, username: str, password: str, client: str | None) -> Role | None:
        """The login page's check: the user's default role, or None; TooManyRequests when limited."""
        limiter = self.limiter
        attempt = await limiter.begin(username, client, password=True)
        try:
            role = await self.authenticator.authenticate_password(username, password) if username else None
        finally:
            limiter.release(attempt)
        if role is None:
            await limiter.failed(attempt)
            return None
        await limiter.succeeded(attempt)
        return role

    async def _verify(self, credentials: Credentials, client: str | None) -> Role | None:
        authenticator = self.authenticator
        if isinstance(credentials, KeyCredentials):
            if credentials.username is None:
                return await authenticator.authenticate_key(credentials.key_id, credentials.secret, client=client)
            return await authenticator.authenticate_user_key(
                credentials.username, credentials.key_id, credentials.secret, client=client
            )
        return await authenticator.authenticate_password(credentials.username, credentials.password)
