"""Device login (RFC 8628) for terminal users: ``DeviceGrantAuth`` and ``SavedDeviceGrantAuth``.

``DevicePoll`` is the pure polling state machine (``interval``, ``slow_down``,
``expires_in``); the functions around it do the HTTP and the printing. Public clients (no
secret) send a PKCE S256 challenge with the device request and the verifier with the
token request (RFC 7636, ``hashlib`` and ``base64``: two lines need no library). The saved
refresh token file is written with mode 0600, atomically, each time the provider hands out
a new refresh token. The device and token requests go through a client with the REST
client's TLS and retry settings. The QR code needs ``segno`` (optional); without it the
address and code are printed alone.

A saved refresh token that is a JWT past its ``exp`` is not sent to the provider: the device
login starts at once, as in rest-tools (which fails validating the expired token before any
token request). The expiry is read without checking the signature: it only spares a request
the provider would refuse; an opaque token, or one not yet expired, is tried.

``DeviceLoginError`` is a ``TokenRequestError`` (an ``interlink.http.ClientError``) and a
``RuntimeError``, the class rest-tools' device login raised.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import jwt

from interlink.http._errors import TokenRequestError
from interlink.http._oauth2 import basic_credentials
from interlink.http._transport import TOKEN_REQUEST
from interlink.rest._client import RestClient
from interlink.rest._openid import OpenIDRestClient, discover

__all__ = ["DeviceGrantAuth", "SavedDeviceGrantAuth", "DeviceLoginError", "DevicePoll", "new_pkce_pair"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class DeviceLoginError(TokenRequestError, RuntimeError):
    """The device login was refused, expired, or is not supported by the provider."""


def new_pkce_pair() -> tuple[str, str]:
    """A PKCE (verifier, S256 challenge) pair."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class DevicePoll:
    """When to poll the token endpoint next, and when to give up. No I/O."""

    interval: float
    deadline: float
    waits: list[float] = field(default_factory=list)

    @classmethod
    def start(cls, response: dict[str, Any], now: float) -> DevicePoll:
        interval = float(response.get("interval") or 5)
        expires_in = float(response.get("expires_in") or 600)
        return cls(interval=interval, deadline=now + expires_in)

    def next_wait(self, now: float) -> float:
        """Seconds to sleep before the next poll; raises once the device code has expired."""
        if now + self.interval > self.deadline:
            # rest-tools' text, as if the provider had said so (it stops polling here first).
            raise DeviceLoginError("Device authorization failed: expired_token", error="expired_token",
                                   description="the device code expired before the user finished the login")
        self.waits.append(self.interval)
        return self.interval

    def on_error(self, error: str, description: str = "") -> None:
        """Digest an error answer: keep polling (maybe slower) or raise."""
        if error == "authorization_pending":
            return
        if error == "slow_down":
            self.interval += 5  # RFC 8628 3.5
            return
        # rest-tools' text exactly; the provider's description is kept on the exception.
        raise DeviceLoginError(f"Device authorization failed: {error}", error=error, description=description)


def print_login_prompt(response: dict[str, Any], out: TextIO) -> None:
    """The verification address, the user code and a QR code of the complete address."""
    uri = response["verification_uri"]
    complete = response.get("verification_uri_complete") or f"{uri}?user_code={response['user_code']}"
    out.write(
        "To sign in, scan the QR code or, on another device, visit:\n"
        f"  {uri}\n"
        "and enter the code:\n"
        f"  {response['user_code']}\n"
        f"{qr_code(complete)}\n"
    )
    out.flush()


def qr_code(text: str) -> str:
    """``text`` as a terminal QR code, or a hint when ``segno`` is not installed."""
    try:
        import segno
    except ImportError:
        return '(for a QR code: pip install "interlink[device]")\n'
    qr = io.StringIO()
    segno.make(text, error="l").terminal(out=qr, compact=True)
    return qr.getvalue()


def perform_device_grant(
    logger: logging.Logger,
    device_url: str,
    token_url: str,
    client_id: str,
    client_secret: str | None = None,
    scopes: list[str] | None = None,
    *,
    http: httpx.Client,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Run a device login with ``http``; returns the token response (with ``refresh_token``)."""
    form = {"client_id": client_id, "scope": " ".join(["offline_access", *(scopes or [])])}
    headers: dict[str, str] = {}
    verifier = None
    if client_secret:
        headers["Authorization"] = basic_credentials(client_id, client_secret)
    else:
        verifier, challenge = new_pkce_pair()
        form.update(code_challenge=challenge, code_challenge_method="S256")
    marked = {TOKEN_REQUEST: True}
    response = _post(http, device_url, form, headers, marked)
    data = _json(response)
    if response.status_code != 200 or "device_code" not in data:
        raise DeviceLoginError(f"Device authorization failed: {data.get('error', '')}",
                               error=str(data.get("error", "")))
    print_login_prompt(data, out or sys.stdout)
    poll = DevicePoll.start(data, time.monotonic())
    token_form = {"grant_type": DEVICE_GRANT, "device_code": data["device_code"], "client_id": client_id}
    if verifier:
        token_form["code_verifier"] = verifier
    while True:
        sleep(poll.next_wait(time.monotonic()))
        response = _post(http, token_url, token_form, headers, marked)
        answer = _json(response)
        if response.status_code == 200 and "access_token" in answer:
            logger.debug("device login complete")
            return answer
        poll.on_error(str(answer.get("error", "")), str(answer.get("error_description", "")))


def _post(http: httpx.Client, url: str, form: dict[str, str], headers: dict[str, str],
          extensions: dict[str, Any]) -> httpx.Response:
    try:
        return http.post(url, data=form, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:  # rest-tools: every failure of the login is a RuntimeError
        raise DeviceLoginError("Device authorization failed", description=f"{url} could not be reached: {exc}") from exc


def _expiry(answer: dict[str, Any]) -> float | None:
    """UNIX time the access token expires (``None``: let its JWT ``exp`` say)."""
    lifetime = answer.get("expires_in")
    return time.time() + float(lifetime) if isinstance(lifetime, (int, float)) else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _device_login(address: str, token_url: str, client_id: str, client_secret: str | None,
                  scopes: list[str] | None, kwargs: dict[str, Any], update_func: Any = None) -> OpenIDRestClient:
    logger = kwargs.setdefault("logger", logging.getLogger("DeviceGrantAuth"))
    out = kwargs.pop("out", None)
    # The REST client's settings (TLS, client certificate, retry) for the provider too.
    with RestClient(address, **kwargs).idp_client() as http:
        info = discover(token_url, http)
        endpoint = info.get("device_authorization_endpoint")
        if not endpoint:
            raise DeviceLoginError("Device grant not supported by server")
        answer = perform_device_grant(logger, endpoint, info["token_endpoint"], client_id, client_secret, scopes,
                                      http=http, out=out)
    refresh_token = answer.get("refresh_token")
    if not refresh_token:
        raise DeviceLoginError("the provider issued no refresh token (is offline_access allowed?)")
    if update_func is not None:
        update_func(answer["access_token"], refresh_token)
    return OpenIDRestClient(
        address=address, token_url=token_url, refresh_token=refresh_token, client_id=client_id,
        client_secret=client_secret, update_func=update_func,
        initial_access_token=(answer["access_token"], _expiry(answer)), **kwargs,
    )


def DeviceGrantAuth(  # noqa: N802 - rest-tools' name: it is a factory returning a client
    address: str,
    token_url: str,
    client_id: str,
    client_secret: str | None = None,
    scopes: list[str] | None = None,
    **kwargs: Any,
) -> OpenIDRestClient:
    """A REST client for a terminal user, signed in by a device login.

    Prints the verification address, the user code and a QR code (to ``out=``, default
    stdout), polls until the user has finished, and returns an :class:`OpenIDRestClient`.
    """
    return _device_login(address, token_url, client_id, client_secret, scopes, kwargs)


def save_refresh_token(path: Path, token: str | bytes) -> None:
    """Write ``token`` to ``path`` atomically with mode 0600."""
    text = token.decode("ascii") if isinstance(token, bytes) else token
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".refresh-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _load_token_from_file(filepath: Path) -> str | None:
    """The saved refresh token, or ``None`` when there is no file (rest-tools' helper)."""
    return filepath.read_text() if filepath.exists() else None


def _save_token_to_file(filepath: Path, token: str) -> None:
    """rest-tools' helper, writing as :func:`save_refresh_token` does (atomically, 0600)."""
    save_refresh_token(filepath, token)


def refresh_token_expired(token: str, now: float) -> bool:
    """Whether ``token`` is a JWT whose ``exp`` is at or before ``now`` (an opaque token, or
    one without a readable ``exp``, is not known to have expired)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.exceptions.PyJWTError:
        return False
    exp = claims.get("exp")
    return isinstance(exp, int | float) and not isinstance(exp, bool) and exp <= now


def SavedDeviceGrantAuth(  # noqa: N802
    address: str,
    token_url: str,
    filename: str,
    client_id: str,
    client_secret: str | None = None,
    scopes: list[str] | None = None,
    **kwargs: Any,
) -> OpenIDRestClient:
    """Like :func:`DeviceGrantAuth`, keeping the refresh token in ``filename`` (mode 0600).

    A saved refresh token is tried first, unless it is a JWT already past its ``exp``; if it
    has expired, or the provider refuses it, the device login runs.
    """
    kwargs.setdefault("logger", logging.getLogger("SavedDeviceGrantAuth"))
    path = Path(filename)

    def update_func(access: Any, refresh: Any) -> None:
        if refresh:
            save_refresh_token(path, refresh)

    saved = (_load_token_from_file(path) or "").strip()
    if saved and refresh_token_expired(saved, time.time()):
        kwargs["logger"].info("saved refresh token has expired; starting a device login")
        saved = ""
    if saved:
        try:
            return OpenIDRestClient(
                address=address, token_url=token_url, refresh_token=saved, client_id=client_id,
                client_secret=client_secret, update_func=update_func,
                **{k: v for k, v in kwargs.items() if k != "out"},
            )
        except Exception:  # as rest-tools: any failure of the saved token means a new login
            kwargs["logger"].info("saved refresh token refused; starting a device login")
    return _device_login(address, token_url, client_id, client_secret, scopes, kwargs, update_func)
