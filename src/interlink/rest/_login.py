"""rest-tools' browser login on a ``RestHandler``: OpenID Connect authorization-code flow.

``OpenIDLoginHandler`` sends the browser to the provider (with PKCE when it has no client
secret), takes the code back, exchanges it for tokens (client secret by HTTP Basic), checks
them with the handler's ``OpenIDAuth`` and stores them with ``store_tokens`` —
``OpenIDCookieHandlerMixin`` keeps them in secure cookies and reads the access token back as
``current_user``. The OAuth ``state`` carries the XSRF token and is checked on return.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from inspect import isawaitable
from typing import Any

import tornado.escape
import tornado.httputil
import tornado.web
from tornado.auth import OAuth2Mixin

from interlink.rest._decorators import catch_error
from interlink.rest._handler import RestHandler
from interlink.rest._jwt_auth import OpenIDAuth

__all__ = ["OpenIDCookieHandlerMixin", "OpenIDLoginHandler", "PKCEMixin"]

LOGGER = logging.getLogger("interlink.rest")


class _ExpiringVerifiers:
    """PKCE verifiers by challenge: at most ``size`` of them, each for ``ttl`` seconds."""

    def __init__(self, size: int = 10_000, ttl: float = 3600) -> None:
        self.size, self.ttl = size, ttl
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, challenge: str, verifier: str) -> None:
        with self._lock:
            self._items[challenge] = (time.monotonic() + self.ttl, verifier)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, challenge: str) -> str:
        with self._lock:
            found = self._items.get(challenge)
            if found is None or found[0] < time.monotonic():
                self._items.pop(challenge, None)
                raise KeyError("invalid pkce challenge")
            return found[1]


class PKCEMixin:
    """RFC 7636 challenges (S256) remembered per process, as rest-tools'."""

    _pkce_verifiers = _ExpiringVerifiers()

    @classmethod
    def create_pkce_challenge(cls) -> str:
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("utf-8")).digest()
        challenge = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
        cls._pkce_verifiers.put(challenge, verifier)
        return challenge

    @classmethod
    def get_pkce_verifier(cls, challenge: str) -> str:
        return cls._pkce_verifiers.get(challenge)


class OpenIDCookieHandlerMixin:
    """Keep the login's tokens in secure cookies; ``current_user`` from the access token."""

    auth: Any

    def get_current_user(self) -> str | None:
        try:
            access_token = self.get_secure_cookie("access_token")  # type: ignore[attr-defined]
            if not access_token:
                raise RuntimeError("missing access_token cookie")
            if not self.auth:
                raise RuntimeError("auth is not set!")
            data = self.auth.validate(access_token)
            self.auth_data = data
            self.auth_key = access_token.decode("utf-8")
            self.auth_refresh_token = self.get_secure_cookie("refresh_token")  # type: ignore[attr-defined]
            return data["sub"]
        except Exception as exc:
            LOGGER.info("failed auth: %s", type(exc).__name__)
        return None

    def store_tokens(
        self,
        access_token: str,
        access_token_exp: float,
        refresh_token: str | None = None,
        refresh_token_exp: float | None = None,
        user_info: Any = None,
        user_info_exp: float | None = None,
    ) -> Any:
        """Keep the tokens (and user info) as secure cookies that expire with them."""
        days = lambda seconds: float(seconds) / 3600 / 24
        self.set_secure_cookie("access_token", access_token, expires_days=days(access_token_exp))  # type: ignore[attr-defined]
        if refresh_token and refresh_token_exp:
            self.set_secure_cookie("refresh_token", refresh_token, expires_days=days(refresh_token_exp))  # type: ignore[attr-defined]
        if user_info and user_info_exp:
            self.set_secure_cookie(  # type: ignore[attr-defined]
                "user_info", tornado.escape.json_encode(user_info), expires_days=days(user_info_exp)
            )
        return None

    def clear_tokens(self) -> None:
        for name in ("access_token", "refresh_token", "user_info"):
            self.clear_cookie(name)  # type: ignore[attr-defined]


class OpenIDLoginHandler(OpenIDCookieHandlerMixin, OAuth2Mixin, PKCEMixin, RestHandler):
    """The login route: ``GET`` starts the flow, and finishes it when the provider sends the
    browser back with ``code`` (or ``error``). Needs the ``login_url`` setting as a full URL."""

    def initialize(  # type: ignore[override]
        self, *args: Any, oauth_client_id: str, oauth_client_secret: str | None, oauth_client_scope: str | None = None, **kwargs: Any
    ) -> None:
        super().initialize(*args, **kwargs)
        self.oauth_setup()
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = oauth_client_secret
        scopes = {"openid", "profile"}
        if oauth_client_scope is not None:
            scopes.update(oauth_client_scope.split())
        else:
            scopes.add("groups")
        if oauth_client_secret:
            scopes.add("offline_access")
        self.oauth_client_scope = list(scopes)

    def oauth_setup(self) -> None:
        if not isinstance(self.auth, OpenIDAuth):
            raise RuntimeError("OpenID Connect auth not set up")
        info = self.auth.provider_info
        self._OAUTH_AUTHORIZE_URL = info["authorization_endpoint"]
        self._OAUTH_ACCESS_TOKEN_URL = info["token_endpoint"]
        self._OAUTH_LOGOUT_URL = info.get("end_session_endpoint", "")
        self._OAUTH_USERINFO_URL = info.get("userinfo_endpoint", "")

    def validate_new_token(self, token: Any) -> dict[str, Any]:
        if not self.auth:
            raise RuntimeError("auth is not set!")
        return self.auth.validate(token)

    async def get_authenticated_user(self, redirect_uri: str, code: str, state: dict[str, Any]) -> dict[str, Any]:
        """Exchange ``code`` for tokens; the ID token (or user info) comes back validated."""
        http = self.get_auth_http_client()
        body = {"redirect_uri": redirect_uri, "code": code, "client_id": self.oauth_client_id, "grant_type": "authorization_code"}
        kwargs: dict[str, Any] = {}
        if self.oauth_client_secret:
            kwargs["auth_username"] = self.oauth_client_id
            kwargs["auth_password"] = self.oauth_client_secret
        else:
            challenge = state.get("code_challenge")
            if not challenge:
                raise tornado.web.HTTPError(400, reason="missing PKCE code challenge")
            body["code_verifier"] = self.get_pkce_verifier(challenge)
        response = await http.fetch(
            self._OAUTH_ACCESS_TOKEN_URL,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urllib.parse.urlencode(body),
            **kwargs,
        )
        tokens = tornado.escape.json_decode(response.body)
        if not tokens.get("id_token"):
            response = await http.fetch(
                self._OAUTH_USERINFO_URL, method="GET", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
            tokens["id_token"] = tornado.escape.json_decode(response.body)
        if isinstance(tokens.get("id_token"), str):
            tokens["id_token"] = self.validate_new_token(tokens["id_token"])
        self.validate_new_token(tokens["access_token"])
        return tokens

    def _decode_state(self, state: bytes | str) -> dict[str, Any]:
        data = tornado.escape.json_decode(base64.b64decode(state))
        _, token, _ = self._decode_xsrf_token(data.pop("xsrf"))
        _, expected, _ = self._get_raw_xsrf_token()
        if not token:
            raise tornado.web.HTTPError(403, reason="'state' argument has invalid format")
        if not hmac.compare_digest(tornado.escape.utf8(token), tornado.escape.utf8(expected)):
            raise tornado.web.HTTPError(403, reason="XSRF cookie does not match state argument")
        return data

    def _encode_state(self, data: dict[str, Any]) -> str:
        carried = {**data, "xsrf": self.xsrf_token.decode("utf-8")}
        return base64.b64encode(tornado.escape.json_encode(carried).encode("utf-8")).decode("utf-8")

    def start_oauth_authorization(self, state: dict[str, Any] | None = None) -> None:
        state = dict(state or {})
        redirect = self.get_argument("next", None) or self.get_argument("redirect", None)
        if redirect:
            state["redirect"] = redirect
        elif not self.settings.get("debug", False):
            raise tornado.web.HTTPError(400, reason="missing redirect")
        if self.get_argument("state", False):
            state["state"] = self.get_argument("state")
        extra: dict[str, Any] = {}
        if not self.oauth_client_secret:
            extra["code_challenge"] = self.create_pkce_challenge()
            extra["code_challenge_method"] = "S256"
            state["code_challenge"] = extra["code_challenge"]
        extra["state"] = self._encode_state(state)
        self.authorize_redirect(
            redirect_uri=self.get_login_url(),
            client_id=self.oauth_client_id,
            scope=self.oauth_client_scope,
            extra_params=extra,
            response_type="code",
        )

    @catch_error
    async def get(self) -> None:
        if self.get_argument("error", False):
            raise tornado.web.HTTPError(400, reason=self.get_argument("error_description", None) or "unknown oauth2 error")
        if not self.get_argument("code", False):
            self.start_oauth_authorization()
            return
        data = self._decode_state(self.get_argument("state"))
        user = await self.get_authenticated_user(redirect_uri=self.get_login_url(), code=self.get_argument("code"), state=data)
        access_expire = user.get("expires_in") or 1800  # 0 would make a session cookie
        refresh_expire = user.get("refresh_expires_in") or 86400
        stored = self.store_tokens(
            access_token=user["access_token"],
            access_token_exp=access_expire,
            refresh_token=user.get("refresh_token"),
            refresh_token_exp=refresh_expire,
            user_info=user.get("id_token"),
            user_info_exp=refresh_expire if user.get("refresh_token") else access_expire,
        )
        if stored and isawaitable(stored):
            await stored
        if data.get("redirect"):
            url = data["redirect"]
            if "state" in data:
                url = tornado.httputil.url_concat(url, {"state": data["state"]})
            self.redirect(url)
        elif self.settings.get("debug", False):
            self.write(user)
        else:
            raise tornado.web.HTTPError(400, reason="missing redirect")
