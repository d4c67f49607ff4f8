"""RestClient family against real loopback peers (uvicorn resource server, oidc-provider)."""

from __future__ import annotations

import asyncio
import json
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


def test_client_credentials_put_the_secret_where_rest_tools_did(oidc_provider, resource_server) -> None:
    before = oidc_provider.stats()["byAuth"]
    api = ClientCredentialsAuth(resource_server.url + "/api", oidc_provider.issuer, "svc-post", "svc-post-secret")
    assert api.request_seq("GET", "/protected")["ok"]
    basic = ClientCredentialsAuth(resource_server.url + "/api", oidc_provider.issuer, "svc-basic", "svc-basic-secret",
                                  client_auth_method="client_secret_basic")
    assert basic.request_seq("GET", "/protected")["ok"]
    after = oidc_provider.stats()["byAuth"]
    assert after.get("post", 0) - before.get("post", 0) == 1  # the body, as rest-tools sent it
    assert after.get("basic", 0) - before.get("basic", 0) == 1
    api.close()
    basic.close()


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
    with pytest.raises(Exception, match="^Token request failed: invalid_grant$"):
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


# -- rest-tools parity: retries, refresh form, closing -----------------------------------
def test_retries_timeout_and_backoff_are_checked_as_rest_tools_does() -> None:
    from interlink.rest import MAX_RETRIES, CalcRetryFromBackoffMax, CalcRetryFromWaittimeMax

    with pytest.raises(ValueError, match=r"Cannot set # of retries above 30"):
        RestClient("http://127.0.0.1:9", retries=MAX_RETRIES + 1)
    with pytest.raises(ValueError, match="Cannot set and/or auto-calculate # of retries: -1"):
        RestClient("http://127.0.0.1:9", retries=-1)
    with pytest.raises(ValueError, match="timeout must be positive"):
        RestClient("http://127.0.0.1:9", timeout=-1)
    with pytest.raises(ValueError, match="backoff_factor must be positive"):
        RestClient("http://127.0.0.1:9", backoff_factor=-0.1)
    assert RestClient("http://127.0.0.1:9", retries=CalcRetryFromBackoffMax(8.1), backoff_factor=0.75).retries == 4
    assert RestClient("http://127.0.0.1:9", timeout=15, retries=CalcRetryFromWaittimeMax(300), backoff_factor=0.5).retries == 8
    with pytest.raises(ValueError, match=r"waittime_max \(1\) cannot be less than timeout \(2\.0\)"):
        RestClient("http://127.0.0.1:9", timeout=2, retries=CalcRetryFromWaittimeMax(1))


def test_waits_follow_urllib3s_schedule() -> None:
    from interlink.rest._client import UpstreamRetryPolicy

    policy = UpstreamRetryPolicy(retries=12, backoff_factor=0.1)
    assert [policy.backoff(n) for n in range(1, 5)] == [0.0, 0.2, 0.4, 0.8]
    assert policy.backoff(12) == 120  # capped like urllib3's DEFAULT_BACKOFF_MAX


def test_http_errors_read_like_requests(resource_server) -> None:
    api = RestClient(resource_server.url + "/api", retries=0)
    with pytest.raises(RestHTTPError, match=rf"^404 Client Error: Not Found for url: {resource_server.url}/api/status/404$"):
        api.request_seq("GET", "/status/404")
    with pytest.raises(RestHTTPError, match=r"^500 Server Error: Internal Server Error for url: .*/api/status/500\?a=1$"):
        api.request_seq("GET", "/status/500", {"a": 1})
    api.close()


def test_refresh_sends_scope_and_basic_auth_to_the_real_provider(oidc_provider_short, resource_server) -> None:
    out = io.StringIO()
    user = _device_login_in_background(out)
    api = DeviceGrantAuth(resource_server.url + "/api", oidc_provider_short.issuer, "cli-confidential",
                          "cli-confidential-secret", scopes=["openid", "api"], out=out)
    user.join(5)
    before = oidc_provider_short.stats()
    time.sleep(1.0)  # the 2 s access token is within the 5 s margin: the next call refreshes
    assert api.request_seq("GET", "/protected")["sub"] == "alice"
    after = oidc_provider_short.stats()
    assert after["byGrant"]["refresh_token"] > before["byGrant"].get("refresh_token", 0)
    assert after["byAuth"].get("basic", 0) > before["byAuth"].get("basic", 0)  # HTTP Basic, as rest-tools
    assert after["lastScope"] == ""  # oidc-provider's refresh tokens are opaque: no scope to send
    # A provider that lists only client_secret_post gets the secret in the body.
    from interlink.rest._openid import choose_client_auth

    assert choose_client_auth({"token_endpoint_auth_methods_supported": ["client_secret_post"]}) == "client_secret_post"
    assert choose_client_auth({}) == "client_secret_basic"
    assert choose_client_auth({}, "client_secret_post") == "client_secret_basic"  # nothing listed: Basic
    api.close()


def test_close_leaves_no_connection_open_sync_and_async(resource_server) -> None:
    api = RestClient(resource_server.url + "/api", retries=0)
    api.request_seq("GET", "/x")

    async def main() -> None:
        await asyncio.gather(*(api.request("GET", "/x") for _ in range(3)))
        assert resource_server.server.open_connections() >= 2
        api.close()  # from a coroutine: this loop's pool closes on the loop right after
        await asyncio.sleep(0.05)

    asyncio.run(main())
    deadline = time.monotonic() + 5
    while resource_server.server.open_connections() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert resource_server.server.open_connections() == 0


def test_an_unclosed_client_is_closed_when_its_loop_ends(resource_server) -> None:
    async def main() -> RestClient:
        api = RestClient(resource_server.url + "/api", retries=0)
        await api.request("GET", "/x")
        assert resource_server.server.open_connections() == 1
        return api  # still referenced: only the loop's shutdown can close it

    api = asyncio.run(main())
    deadline = time.monotonic() + 5
    while resource_server.server.open_connections() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert resource_server.server.open_connections() == 0
    assert api.request_seq("GET", "/x")["method"] == "GET"  # still usable after
    api.close()


def test_request_stream_chunk_sizes(resource_server) -> None:
    api = RestClient(resource_server.url + "/api")
    for size in (None, -1, 0, 1, 3, 1024):
        assert list(api.request_stream("GET", "/stream", {"n": 3}, chunk_size=size)) == [{"i": i} for i in range(3)]
    api.close()


def test_line_splitter_is_bounded() -> None:
    from interlink.rest._client import LineSplitter

    lines = LineSplitter(max_line=8)
    assert lines.feed(b'{"a":1}\r\n\n  \n[1') == [b'{"a":1}']
    assert lines.end() == [b"[1"]
    with pytest.raises(ValueError, match="longer than 8 bytes"):
        LineSplitter(max_line=8).feed(b"x" * 9)


def test_device_login_unreachable_endpoints_are_runtime_errors() -> None:
    from interlink.rest._device import perform_device_grant

    with httpx.Client() as http, pytest.raises(RuntimeError, match="^Device authorization failed$") as info:
        perform_device_grant(__import__("logging").getLogger("t"), "http://127.0.0.1:9/device", "http://127.0.0.1:9/token",
                             "c", http=http)
    assert "could not be reached" in info.value.description


def test_from_environment() -> None:
    from interlink.rest import from_environment

    env = {"PORT": "8080", "DEBUG": "Yes", "RATIO": "0.5", "NAME": "x"}
    assert from_environment({"PORT": 1, "DEBUG": False, "RATIO": 1.0, "NAME": None, "HOST": "h"}, environ=env) == {
        "PORT": 8080, "DEBUG": True, "RATIO": 0.5, "NAME": "x", "HOST": "h"}
    assert from_environment("NAME", environ=env) == {"NAME": "x"}
    assert from_environment(["NAME", "PORT"], environ=env) == {"NAME": "x", "PORT": "8080"}
    with pytest.raises(OSError, match="Missing environment variable 'HOST'"):
        from_environment(["HOST"], environ=env)
    with pytest.raises(ValueError, match="key='DEBUG' value='Yes'"):
        from_environment({"DEBUG": 1}, environ=env)
    with pytest.raises(TypeError):
        from_environment(3, environ=env)  # type: ignore[arg-type]


def test_refresh_sends_the_refresh_tokens_checked_scope(tmp_path) -> None:
    """A JWT refresh token signed by the issuer's published key: its scope goes with the
    refresh; a token whose signature does not check out is refused before anything is sent."""
    import urllib.parse

    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from servers import UvicornThread
    from upstream.rest_tools._client_loopback import LoopbackMock, TokenMaker

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = pyjwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "k1", "alg": "RS256"}
    mock = LoopbackMock()
    server = UvicornThread(mock.app())
    mock.url = server.start()
    try:
        issuer = TokenMaker(key, algorithm="RS256")
        mock.get("/.well-known/openid-configuration",
                 content=json.dumps({"token_endpoint": f"{mock.url}/token", "jwks_uri": f"{mock.url}/jwks",
                                     "token_endpoint_auth_methods_supported": ["client_secret_post"]}).encode())
        mock.get("/jwks", content=json.dumps({"keys": [jwk]}).encode())
        forms: list[dict] = []

        def token(req, ctx) -> bytes:
            forms.append({k: v[0] for k, v in urllib.parse.parse_qs(req.body, keep_blank_values=True).items()})
            forms[-1]["authorization"] = req.headers.get("authorization")
            return json.dumps({"access_token": "a", "expires_in": 600}).encode()

        mock.post("/token", content=token)
        refresh = issuer.create_token("alice", payload={"scope": "openid api"}, headers={"kid": "k1"})
        api = OpenIDRestClient("http://127.0.0.1:9", mock.url, refresh, "cid", "secret")
        assert forms[-1]["scope"] == "openid api" and forms[-1]["client_id"] == "cid"
        # the provider lists only client_secret_post: the secret goes in the body
        assert forms[-1]["client_secret"] == "secret" and forms[-1]["authorization"] is None
        api.close()
        forged = TokenMaker(rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256")
        with pytest.raises(pyjwt.exceptions.InvalidSignatureError):
            OpenIDRestClient("http://127.0.0.1:9", mock.url, forged.create_token("x", headers={"kid": "k1"}), "cid")
        assert len(forms) == 1
    finally:
        server.stop()


def test_request_stream_keeps_falsy_values() -> None:
    """rest-tools dropped ``0``, ``false``, ``{}``, ``[]`` and ``""`` lines (``if decoded:``);
    only blank lines are skipped here."""
    from servers import UvicornThread
    from upstream.rest_tools._client_loopback import LoopbackMock

    mock = LoopbackMock()
    server = UvicornThread(mock.app())
    mock.url = server.start()
    try:
        mock.get("/s", body=[b"0\n", b"fal", b"se\n\n", b"{}\n[]\r\n", b'""\n', b"null\n", b"1"])
        api = RestClient(mock.url)
        assert list(api.request_stream("GET", "/s", chunk_size=2)) == [0, False, {}, [], "", None, 1]
        api.close()
    finally:
        server.stop()


def test_close_from_another_thread_and_after_a_paused_loop(resource_server) -> None:
    api = RestClient(resource_server.url + "/api", retries=0)
    # A loop paused between uses (run_until_complete): close() runs the closing on it.
    loop = asyncio.new_event_loop()
    loop.run_until_complete(api.request("GET", "/x"))
    assert resource_server.server.open_connections() == 1
    api.close()
    assert resource_server.server.open_connections() == 0 or _eventually_closed(resource_server)
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    # A loop running in another thread: close() hands the closing to it.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(api.request("GET", "/x"), loop).result(10)
    assert resource_server.server.open_connections() == 1
    api.close()
    assert _eventually_closed(resource_server)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def _eventually_closed(resource_server) -> bool:
    deadline = time.monotonic() + 5
    while resource_server.server.open_connections() and time.monotonic() < deadline:
        time.sleep(0.02)
    return resource_server.server.open_connections() == 0
