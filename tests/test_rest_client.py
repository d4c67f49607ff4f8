"""RestClient family against real loopback peers (uvicorn resource server, oidc-provider)."""

from __future__ import annotations

import asyncio
import io
import stat
import threading
import time

import httpx
import pytest

from interlink.http._jwt import encode_hs256
from interlink.rest import (
    ClientCredentialsAuth,
    DeviceGrantAuth,
    OpenIDDiscoveryError,
    OpenIDRestClient,
    RestClient,
    RestHTTPError,
    SavedDeviceGrantAuth,
)
from interlink.rest._device import DeviceLoginError, DevicePoll, new_pkce_pair
from peers_fixtures import complete_device_login


def test_seed_snippet_runs_as_written(resource_server) -> None:
    async def main() -> tuple:
        api = RestClient(resource_server.url + "/api", token="XXXX")
        ret1 = await api.request("GET", "/fruits/apple")
        ret2 = await api.request("POST", "/fruits", {"name": "banana"})
        await api.aclose()
        return ret1, ret2

    ret1, ret2 = asyncio.run(main())
    assert ret1["path"] == "/api/fruits/apple" and ret1["authorization"] == "Bearer XXXX"
    assert ret2["method"] == "POST" and ret2["json"] == {"name": "banana"}


def test_args_query_for_get_json_for_others_headers_and_empty_bodies(resource_server) -> None:
    api = RestClient(resource_server.url + "/api", retries=0)
    assert api.request_seq("GET", "/x", {"a": 1})["args"] == {"a": "1"}
    assert api.request_seq("PUT", "x", {"a": 1}, headers={"X-Extra": "y"})["headers"]["x-extra"] == "y"
    assert api.request_seq("DELETE", "/x", {"a": [1]})["json"] == {"a": [1]}
    assert api.request_seq("GET", "/empty") is None
    api.close()


def test_one_error_type_whether_or_not_retries_ran_out(resource_server) -> None:
    api = RestClient(resource_server.url + "/api", retries=2, backoff_factor=0)
    with pytest.raises(RestHTTPError) as info:
        api.request_seq("GET", "/status/404")
    assert info.value.status_code == 404 and not info.value.retried
    with pytest.raises(RestHTTPError) as info:
        api.request_seq("GET", "/status/503")
    assert info.value.response.status_code == 503 and info.value.retried
    assert resource_server.state.hits["status-503"] == 3
    with pytest.raises(RestHTTPError):
        asyncio.run(api.request("POST", "/status/400"))
    assert isinstance(info.value, httpx.HTTPStatusError)


def test_retries_recover_from_503(resource_server) -> None:
    api = RestClient(resource_server.url + "/api", retries=3, backoff_factor=0)
    assert asyncio.run(api.request("GET", "/flaky", {"key": "r", "fail": 2})) == {"ok": True, "hit": 3}


def test_paths_cannot_leave_the_address(resource_server) -> None:
    from interlink.http import InvalidURLError

    api = RestClient(resource_server.url + "/api", token="secret")
    with pytest.raises(InvalidURLError):
        api.request_seq("GET", "../../elsewhere")


def test_request_stream_yields_each_ndjson_line(resource_server) -> None:
    api = RestClient(resource_server.url + "/api")
    assert list(api.request_stream("GET", "/stream", {"n": 4})) == [{"i": i} for i in range(4)]

    async def collect() -> list:
        return [item async for item in api.request_stream_async("GET", "/stream", {"n": 2})]

    assert asyncio.run(collect()) == [{"i": 0}, {"i": 1}]


def test_callable_token_refreshed_only_near_expiry(resource_server) -> None:
    issued: list[str] = []

    def token() -> str:
        lifetime = 3 if not issued else 600  # the first expires within the 5 s margin
        issued.append(encode_hs256({"exp": int(time.time()) + lifetime, "n": len(issued)}, "k" * 32))
        return issued[-1]

    api = RestClient(resource_server.url + "/api", token=token)
    seen = [api.request_seq("GET", "/x")["authorization"] for _ in range(2)]
    seen += [asyncio.run(api.request("GET", "/x"))["authorization"] for _ in range(2)]
    assert len(issued) == 2
    assert seen == [f"Bearer {issued[0]}", f"Bearer {issued[1]}", f"Bearer {issued[1]}", f"Bearer {issued[1]}"]


def test_basic_auth_kwargs(resource_server) -> None:
    api = RestClient(resource_server.url + "/api", username="u", password="p")
    assert api.request_seq("GET", "/x")["authorization"].startswith("Basic ")


# -- OpenID ---------------------------------------------------------------------------------
def test_client_credentials_auth(oidc_provider, resource_server) -> None:
    before = oidc_provider.token_requests("client_credentials")
    api = ClientCredentialsAuth(resource_server.url + "/api", oidc_provider.issuer, "svc-post", "svc-post-secret",
                                client_auth_method="client_secret_post")

    async def main() -> list:
        return await asyncio.gather(*(api.request("GET", "/protected") for _ in range(10)))

    assert all(r["ok"] for r in asyncio.run(main()))
    assert api.request_seq("POST", "/protected", {"a": 1})["ok"]
    assert oidc_provider.token_requests("client_credentials") - before == 1


def test_discovery_errors_are_clear(resource_server) -> None:
    with pytest.raises(OpenIDDiscoveryError, match="cannot reach"):
        ClientCredentialsAuth(resource_server.url, "http://127.0.0.1:9", "c", "s")
    with pytest.raises(OpenIDDiscoveryError, match="token_endpoint"):  # the echo app answers JSON without one
        ClientCredentialsAuth(resource_server.url, resource_server.url + "/issuer", "c", "s")


def _device_login_in_background(out: io.StringIO) -> threading.Thread:
    def user() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = out.getvalue()
            if "enter the code:" in text:
                lines = text.splitlines()
                uri = lines[1].strip()
                code = lines[lines.index("and enter the code:") + 1].strip()
                complete_device_login(uri, code)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=user, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("client_id", "secret"), [("cli-public", None), ("cli-confidential", "cli-confidential-secret")])
def test_device_login_then_refresh(oidc_provider_short, resource_server, client_id: str, secret: str | None) -> None:
    out = io.StringIO()
    user = _device_login_in_background(out)
    api = DeviceGrantAuth(resource_server.url + "/api", oidc_provider_short.issuer, client_id, secret,
                          scopes=["openid", "api"], out=out)
    user.join(5)
    printed = out.getvalue()
    assert "/device" in printed and ("▀" in printed or "█" in printed)  # address, code and a QR code
    assert api.request_seq("GET", "/protected")["sub"] == "alice"
    before = oidc_provider_short.token_requests("refresh_token")
    time.sleep(1.0)  # 2 s tokens: within the 5 s margin, so the next call refreshes
    assert asyncio.run(api.request("GET", "/protected"))["sub"] == "alice"
    assert oidc_provider_short.token_requests("refresh_token") - before >= 1


def test_saved_device_grant_writes_0600_and_reuses_the_token(oidc_provider, resource_server, tmp_path) -> None:
    path = tmp_path / "refresh-token"
    out = io.StringIO()
    user = _device_login_in_background(out)
    api = SavedDeviceGrantAuth(resource_server.url + "/api", oidc_provider.issuer, str(path), "cli-public",
                               scopes=["openid", "api"], out=out)
    user.join(5)
    assert api.request_seq("GET", "/protected")["ok"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    # A second session: no login prompt, the saved (rotated) refresh token is used.
    out2 = io.StringIO()
    api2 = SavedDeviceGrantAuth(resource_server.url + "/api", oidc_provider.issuer, str(path), "cli-public", out=out2)
    assert out2.getvalue() == ""
    assert api2.request_seq("GET", "/protected")["ok"]
    assert path.read_text() != first  # the public client's refresh token rotated and was saved
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_openid_rest_client_with_a_bad_refresh_token_fails_at_once(oidc_provider, resource_server) -> None:
    with pytest.raises(Exception, match="invalid_grant"):
        OpenIDRestClient(resource_server.url, oidc_provider.issuer, "not-a-token", "cli-public")


# -- the pure parts -------------------------------------------------------------------------
def test_device_poll_honours_interval_slow_down_and_expiry() -> None:
    poll = DevicePoll.start({"interval": 2, "expires_in": 20}, now=100.0)
    assert poll.next_wait(100.0) == 2
    poll.on_error("authorization_pending")
    assert poll.next_wait(102.0) == 2
    poll.on_error("slow_down")
    assert poll.next_wait(104.0) == 7
    with pytest.raises(DeviceLoginError):
        poll.next_wait(114.0)
    with pytest.raises(DeviceLoginError, match="access_denied"):
        DevicePoll.start({}, 0).on_error("access_denied")
    assert DevicePoll.start({}, 0).interval == 5


def test_pkce_pair_is_s256() -> None:
    import base64
    import hashlib

    verifier, challenge = new_pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_without_segno_the_prompt_names_the_address_and_code(monkeypatch) -> None:
    import sys

    from interlink.rest._device import print_login_prompt

    monkeypatch.setitem(sys.modules, "segno", None)  # as if not installed: import raises ImportError
    out = io.StringIO()
    print_login_prompt({"verification_uri": "https://idp/device", "user_code": "ABCD-EFGH"}, out)
    text = out.getvalue()
    assert "https://idp/device" in text and "ABCD-EFGH" in text and "interlink[device]" in text
    assert "█" not in text and "▀" not in text


def test_device_login_errors_keep_rest_tools_runtime_error_base() -> None:
    from interlink.errors import NotAuthorised
    from interlink.http import ClientError, TokenRequestError

    error = DeviceLoginError("expired", error="expired_token")
    assert isinstance(error, RuntimeError) and isinstance(error, TokenRequestError) and isinstance(error, ClientError)
    assert not isinstance(error, NotAuthorised)
    assert issubclass(OpenIDDiscoveryError, RuntimeError) and issubclass(RestHTTPError, ClientError)
