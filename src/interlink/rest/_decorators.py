"""rest-tools' handler decorators: authentication, role checks, and errors as JSON.

Status codes and reasons are rest-tools': 403 ``authentication failed`` without a valid
credential, 403 ``authorization failed`` without a matching role, 500 ``Error in <Handler>``
for an exception in the method (logged; its text never reaches the caller).

Every role decorator authenticates too, so ``@authenticated`` is not needed beside it. They
work alike for JWTs and for interlink keys (see ``RestHandler``): a key's claims name its
role as ``role`` and ``realm_access.roles`` and its permissions as ``scope``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from inspect import isawaitable
from typing import Any, Protocol

import httpx
import tornado.httpclient
import tornado.web

__all__ = [
    "TokenAttributeRoleMappingProtocol",
    "authenticated",
    "catch_error",
    "keycloak_role_auth",
    "role_authorization",
    "scope_role_auth",
    "token_attribute_role_mapping_auth",
]

LOGGER = logging.getLogger("interlink.rest")


async def _call(method: Callable[..., Any], self: Any, args: tuple, kwargs: dict) -> Any:
    result = method(self, *args, **kwargs)
    if isawaitable(result):
        return await result
    return result


def authenticated(method: Callable[..., Any]) -> Callable[..., Any]:
    """Require a valid credential (403 ``authentication failed``); roles are not checked."""

    @wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.current_user:
            raise tornado.web.HTTPError(403, reason="authentication failed")
        return await _call(method, self, args, kwargs)

    return wrapper


def _backend_status(exc: BaseException) -> int | None:
    """The status of a failed call to another service (our REST client, httpx, or requests)."""
    response = getattr(exc, "response", None)
    if isinstance(exc, httpx.HTTPStatusError) or type(exc).__name__ == "HTTPError" and response is not None:
        return getattr(response, "status_code", None)
    return None


def catch_error(method: Callable[..., Any]) -> Callable[..., Any]:
    """Answer an exception in the method with 500 ``Error in <Handler>`` (a 403 from a backend
    service with 403 ``Error authenticating user``); ``HTTPError``s pass through."""

    @wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await _call(method, self, args, kwargs)
        except (tornado.web.HTTPError, tornado.httpclient.HTTPError):
            raise
        except Exception as exc:
            LOGGER.warning("Error in website handler", exc_info=True)
            status = _backend_status(exc)
            name = self.__class__.__name__
            if status == 403:
                self.send_error(403, reason="Error authenticating user")
            elif status is not None:
                self.send_error(500, reason="Error contacting backend in " + name)
            else:
                self.send_error(500, reason="Error in " + name)
        return None

    return wrapper


def _role_check(check: Callable[[Any], bool]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make_wrapper(method: Callable[..., Any]) -> Callable[..., Any]:
        @authenticated
        @catch_error
        @wraps(method)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not check(self):
                raise tornado.web.HTTPError(403, reason="authorization failed")
            return await _call(method, self, args, kwargs)

        return wrapper

    return make_wrapper


def role_authorization(**_auth: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow tokens whose ``role`` claim is one of ``roles``."""
    roles = _auth.get("roles", [])

    def check(self: Any) -> bool:
        role = self.auth_data.get("role")
        ok = bool(roles) and role in roles
        if not ok:
            LOGGER.info("role mismatch: %r not in %r", role, roles)
        return ok

    return _role_check(check)


def scope_role_auth(**_auth: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow tokens with a scope ``<prefix>:<role>`` for one of ``roles``."""
    roles = set(_auth.get("roles", []))
    prefix = _auth.get("prefix")

    def check(self: Any) -> bool:
        scopes = self.auth_data.get("scope", "")
        token_roles = {
            scope.split(":", 1)[1]
            for scope in (scopes.split() if isinstance(scopes, str) else [])
            if prefix and scope.startswith(f"{prefix}:")
        }
        ok = bool(roles & token_roles)
        if not ok:
            LOGGER.info("role mismatch: %r vs %r", sorted(roles), sorted(token_roles))
        return ok

    return _role_check(check)


def _walk(claims: Any, path: list[str]) -> Any:
    for part in path:
        claims = claims.get(part, {}) if isinstance(claims, dict) else {}
    return claims


def keycloak_role_auth(**_auth: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow tokens whose roles at ``prefix`` (default ``realm_access.roles``) meet ``roles``."""
    roles = set(_auth.get("roles", []))
    path = _auth.get("prefix", "realm_access.roles").split(".")

    def check(self: Any) -> bool:
        found = _walk(self.auth_data, path)
        token_roles = set(found) if isinstance(found, (list, tuple, set, dict)) else set()
        ok = bool(roles & token_roles)
        if not ok:
            LOGGER.info("role mismatch: %r vs %r", sorted(roles), sorted(map(str, token_roles)))
        return ok

    return _role_check(check)


def _matches(claims: dict[str, Any], expression: str) -> list[re.Match[str]]:
    """``attr.path=regex`` against the claims (``scope`` split on spaces; lists itemwise)."""
    name, value = expression.split("=", 1)
    if name == "scope":
        found: Any = claims.get("scope", "")
        found = found.split() if isinstance(found, str) else []
    else:
        *path, last = name.split(".")
        holder = _walk(claims, path)
        found = holder.get(last) if isinstance(holder, dict) else None
    if found is None:
        return []
    pattern = re.compile(value)
    candidates = found if isinstance(found, list) else [found]
    return [m for m in (pattern.fullmatch(c) for c in candidates if isinstance(c, str)) if m]


def token_attribute_role_mapping_auth(
    role_attrs: dict[str, list[str]], group_attrs: dict[str, list[str]] | None = None
) -> Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """A decorator factory mapping token attributes to roles (and groups), as rest-tools'.

    ``role_attrs`` maps a role name (or a regex replacement such as ``\\1``) to expressions
    ``attr.path=regex``; the decorator it returns takes ``roles=[…]`` and sets
    ``self.auth_roles`` and ``self.auth_groups`` (sorted) before calling the method.
    """
    plain_roles = {name for name in role_attrs if re.fullmatch(r"\w+", name)}
    pattern_roles = set(role_attrs) - plain_roles
    groups = group_attrs or {}

    def make_decorator(**_auth: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        wanted = list(_auth.get("roles", []))

        def make_wrapper(method: Callable[..., Any]) -> Callable[..., Any]:
            @authenticated
            @catch_error
            @wraps(method)
            async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    authorised: set[str] = set()
                    for role in plain_roles.intersection(wanted):
                        if any(_matches(self.auth_data, e) for e in role_attrs[role]):
                            authorised.add(role)
                    for name in pattern_roles:
                        for expression in role_attrs[name]:
                            named = {m.expand(name) for m in _matches(self.auth_data, expression)}
                            authorised.update(role for role in wanted if role in named)
                except Exception as exc:
                    LOGGER.warning("exception in role auth", exc_info=True)
                    raise tornado.web.HTTPError(500, reason="internal server error") from exc
                if not authorised:
                    LOGGER.debug("role mismatch: %r", wanted)
                    raise tornado.web.HTTPError(403, reason="authorization failed")
                self.auth_roles = sorted(authorised)
                try:
                    found: set[str] = set()
                    for name, expressions in groups.items():
                        for expression in expressions:
                            found.update(m.expand(name) for m in _matches(self.auth_data, expression))
                except Exception as exc:
                    LOGGER.warning("exception in group auth", exc_info=True)
                    raise tornado.web.HTTPError(500, reason="internal server error") from exc
                self.auth_groups = sorted(found)
                return await _call(method, self, args, kwargs)

            return wrapper

        return make_wrapper

    return make_decorator


class TokenAttributeRoleMappingProtocol(Protocol):
    auth_groups: list
    auth_roles: list
