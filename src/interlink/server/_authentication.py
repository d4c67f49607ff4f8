"""Credentials -> Role, with failed-login limits: one object shared by API calls and the login
page, so both count failures the same way and the login page reaches no further into the app.
"""

from __future__ import annotations

from interlink.errors import NotAuthorised
from interlink.identity import Authenticator, Role

from ._credentials import Credentials, KeyCredentials, PasswordCredentials
from ._ratelimit import FailureLimiter

__all__ = ["Authentication"]


class Authentication:
    def __init__(self, authenticator: Authenticator, limiter: FailureLimiter) -> None:
        self.authenticator = authenticator
        self.limiter = limiter

    async def role_for(self, credentials: Credentials, client: str | None) -> Role:
        """The Role the credentials name; NotAuthorised (counted) when they do not check out,
        TooManyRequests when the limits of server/_ratelimit.py refuse the attempt."""
        if not isinstance(credentials, KeyCredentials):
            return await self._password_role(credentials, client)
        if credentials.username is None:
            return await self.key_role(credentials.key_id, credentials.secret, client)
        limiter = self.limiter
        key_id = credentials.key_id
        trusted = limiter.begin_key(key_id, client)
        role = await self.authenticator.authenticate_user_key(
            credentials.username, key_id, credentials.secret, client=client
        )
        if role is None:
            limiter.key_failed(key_id, client)
            raise NotAuthorised("wrong username or key")
        limiter.key_succeeded(key_id, client, trusted)
        return role

    async def key_role(self, key_id: str, secret: str, client: str | None) -> Role:
        """``role_for`` a key sent as ``keyid:secret``: the way of almost every call, taken
        without a Credentials object (the limiter's key checks are plain calls, no I/O)."""
        limiter = self.limiter
        trusted = limiter.begin_key(key_id, client)
        role = await self.authenticator.authenticate_key(key_id, secret, client=client)
        if role is None:
            limiter.key_failed(key_id, client)
            raise NotAuthorised("unknown, revoked or wrong key")
        limiter.key_succeeded(key_id, client, trusted)
        return role

    async def _password_role(self, credentials: PasswordCredentials, client: str | None) -> Role:
        limiter = self.limiter
        attempt = await limiter.begin(credentials.username, client, password=True)
        try:
            role = await self.authenticator.authenticate_password(credentials.username, credentials.password)
        finally:
            limiter.release(attempt)
        if role is None:
            await limiter.failed(attempt)
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
