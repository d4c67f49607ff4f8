"""interlink.client against real interlink servers on 127.0.0.1: the API-calls specification's examples, results,
errors, method properties, broadcast, callasync, headers, uploads and retries."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from interlink.client import (
    API,
    ApiObject,
    BadArguments,
    FileUpload,
    Forbidden,
    NoSuchMethod,
    NotAuthorised,
    ProfileNotFound,
    ServerError,
    Session,
    to_plain,
)
from interlink.server import ApiServer
from interlink.store import Database, Role, create_key, create_user
from client_site import (  # noqa: F401  (fixtures)
    ADMIN_KEY,
    DEFAULT_KEY,
    USERS,
    Colour,
    UserFilter,
    make_site,
    spec_home,
    serving,
    site,
    unused_port,
)


# -- the specification's examples, verbatim but for the import line and the site's address -----------


def test_spec_example_default_profile(site, spec_home) -> None:
    api = API(site.root, ['~/.mywonderfulsite/config'])

    site_description = api.home.describe_site()

    assert site_description.name == "my wonderful site"
    assert site_description.users.count == len(USERS)
    assert site_description.role == "default"
    api.close()


def test_spec_example_prints(site, spec_home, capsys) -> None:
    api = API(site.root, ['~/.mywonderfulsite/config'])
    site_description = api.home.describe_site()

    print(site_description.name)
    print(site_description.users.count)

    assert capsys.readouterr().out == f"my wonderful site\n{len(USERS)}\n"
    api.close()


def test_spec_example_profile_session(site, spec_home) -> None:
    api = API(site.root, ['~/.mywonderfulsite/config'])

    session = api(profile='day to day working')

    site_description = session.home.describe_site()
    assert site_description.role == "day to day working"

    # "api.home.describe_site() is a shortcut for:"
    session = api(profile='default')
    site_description = session.home.describe_site()
    assert site_description == api.home.describe_site()
    assert site_description.role == "default"
    api.close()


def test_spec_example_direct_credentials(site, tmp_path) -> None:
    api = API(site.root)

    session = api(key_id='k-0123456789abcdef', key_secret='abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST')

    site_description = session.home.describe_site()
    assert site_description.role == "default"
    api.close()


def test_spec_example_method_properties(site, spec_home) -> None:
    api = API(site.root, ['~/.mywonderfulsite/config'])

    assert api.home.describe_site.name == 'home.describe_site'
    thread = api.home.describe_site.callasync()
    assert isinstance(thread, threading.Thread)
    assert api.home.describe_site.json() == {"name": "my wonderful site", "users": {"count": 5}, "role": "default"}
    assert api.home.list_users.collate(filter=UserFilter(name_gt="a", name_lt="p")) == {
        "filter.name_gt": "a",
        "filter.name_lt": "p",
    }
    api.close()  # joins the callasync thread


def test_spec_example_headers(spec_home) -> None:
    seen: list[dict[str, str]] = []
    app = recording(make_site(), seen)
    with serving(app) as server:
        api = API(server.root, ['~/.mywonderfulsite/config'], headers={'host': 'myhost.com'})
        api.home.headers_seen()
        session = api(headers={'host': 'mybetterhost.com'})
        session.home.headers_seen()
        api.close()
    assert [h["host"] for h in seen] == ["myhost.com", "mybetterhost.com"]


def test_extra_credentials_files(site, spec_home) -> None:
    extra = spec_home / "more.ini"
    extra.write_text(f"[admin]\naccess_key_id = {ADMIN_KEY[0]}\naccess_key_secret = {ADMIN_KEY[1]}\n")
    api = API(site.root, ['~/.mywonderfulsite/config', '~/no-such-file', str(extra)])
    assert api(profile="admin").home.admin_only() == "admin"
    assert api.home.whoami() == "default"
    api.close()


def test_real_database_key(tmp_path, monkeypatch) -> None:
    """The specification: key.api_id is access_key_id, key.create_secret().decode() is access_key_secret."""
    url = f"sqlite:///{tmp_path / 'site.db'}"
    database = Database(url)
    database.migrate()
    with database.session() as s:
        user = create_user(s, "joebloggs")
        key, secret = create_key(s, user.default_role)
        key_id = key.api_id
    database.dispose()
    config = tmp_path / "config"
    config.write_text(f"[default]\naccess_key_id = {key_id}\naccess_key_secret = {secret.decode()}\n")
    monkeypatch.delenv("INTERLINK_PROFILE", raising=False)
    monkeypatch.delenv("INTERLINK_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("INTERLINK_ACCESS_KEY_SECRET", raising=False)

    site_api = ApiServer(database=url, docs=False)

    @site_api.module("home").method
    def whoami(rl: Role) -> dict[str, str]:
        return {"user": rl.user.username, "role": rl.name}

    with serving(site_api) as server, API(server.root, [config]) as api:
        assert api.home.whoami() == {"user": "joebloggs", "role": "default"}


# -- results as objects ------------------------------------------------------------------


def test_results_are_objects_that_compare_print_and_convert(site) -> None:
    with API(site.root) as api:
        session = api(key_id=DEFAULT_KEY[0], key_secret=DEFAULT_KEY[1])
        users = session.home.list_users(filter=UserFilter(name_gt="b", name_lt="joh"))
        assert [u.username for u in users] == ["bob", "carol", "joebloggs"]
        assert isinstance(users, list) and isinstance(users[0], ApiObject)
        assert users[0] == {"username": "bob", "api_id": "u-0000000000000000"}
        assert users[0]["username"] == "bob" and "api_id" in users[0]
        assert to_plain(users) == [
            {"username": "bob", "api_id": "u-0000000000000000"},
            {"username": "carol", "api_id": "u-0000000000000001"},
            {"username": "joebloggs", "api_id": "u-0000000000000002"},
        ]
        assert str(users[0]) == '{"username": "bob", "api_id": "u-0000000000000000"}'
        assert repr(users[0]) == "ApiObject(username='bob', api_id='u-0000000000000000')"
        with pytest.raises(AttributeError, match="no field 'email'"):
            users[0].email
        # A result object with an api_id is sent back as that api_id (a Model argument).
        assert session.home.describe_user(user=users[1]).api_id == "u-0000000000000001"


def test_scalar_and_none_results(site) -> None:
    with API(site.root) as api:
        session = api(key_id=DEFAULT_KEY[0], key_secret=DEFAULT_KEY[1])
        assert session.home.whoami() == "default"
        assert session.home.record(what="x") is None


# -- arguments -----------------------------------------------------------------------------


def test_every_kind_of_argument_arrives(site) -> None:
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    with API(site.root) as api:
        got = api.home.echo(
            text="héllo & goodbye=1",
            number=-42,
            ratio=0.1,
            flag=True,
            colour=Colour.GREEN,
            when=when,
            blob=b"\x00\xffbytes",
            tags=["a", "b c"],
            prices={"apple": 3, "pear": 4},
            filter=UserFilter(name_gt="a"),
        )
    assert to_plain(got) == {
        "text": "héllo & goodbye=1",
        "number": -42,
        "ratio": 0.1,
        "flag": True,
        "colour": "GREEN",
        "when": when.isoformat(),
        "blob": b"\x00\xffbytes".hex(),
        "tags": ["a", "b c"],
        "prices": {"apple": 3, "pear": 4},
        "filter": {"name_gt": "a", "name_lt": "\uffff"},
    }


def test_empty_list_and_dict_send_the_marker(site) -> None:
    with API(site.root) as api:
        assert api.home.echo.collate(tags=[], prices={}) == {"tags.": "", "prices.": ""}
        got = api.home.echo(tags=[], prices={})
    assert got.tags == [] and got.prices == {}


def test_file_uploads_go_multipart(site, tmp_path) -> None:
    path = tmp_path / "report.txt"
    path.write_text("from a path")
    with API(site.root) as api:
        session = api(key_id=DEFAULT_KEY[0], key_secret=DEFAULT_KEY[1])
        from_path = session.home.upload(document=FileUpload(path), note="n")
        from_bytes = session.home.upload(document=FileUpload(b"raw bytes", filename="b.bin"))
        with open(path, "rb") as f:
            from_file = session.home.upload(document=FileUpload(f, content_type="text/x-mine"))
    assert (from_path.filename, from_path.text, from_path.note, from_path.content_type) == (
        "report.txt", "from a path", "n", "text/plain")
    assert (from_bytes.filename, from_bytes.size, from_bytes.content_type) == (
        "b.bin", 9, "application/octet-stream")
    assert (from_file.filename, from_file.text, from_file.content_type) == ("report.txt", "from a path", "text/x-mine")


def test_positional_arguments_and_authorisation_kwarg_are_refused(site) -> None:
    with API(site.root) as api:
        with pytest.raises(TypeError, match="keyword arguments only"):
            api.home.echo("x")
        with pytest.raises(TypeError, match="reserved"):
            api.home.echo(authorisation="k-1:2")


def test_credentials_travel_as_a_post_field_never_in_the_url(spec_home) -> None:
    seen: list[dict[str, str]] = []
    with serving(recording(make_site(), seen, body=True)) as server:
        with API(server.root, ["~/.mywonderfulsite/config"]) as api:
            api.home.describe_site()
    (request,) = seen
    assert request["query"] == ""
    assert request["path"] == "/api/home/describe_site"
    assert f"authorisation={DEFAULT_KEY[0]}%3A{DEFAULT_KEY[1]}" in request["body"]
    assert "authorization" not in request  # no Basic header either


# -- errors --------------------------------------------------------------------------------


def test_server_errors_become_typed_exceptions(site, spec_home) -> None:
    with API(site.root, ["~/.mywonderfulsite/config"]) as api:
        with pytest.raises(BadArguments) as bad:
            api.home.echo(number="many")
        assert bad.value.field == "number" and bad.value.status == 400
        with pytest.raises(BadArguments) as unknown:
            api.home.echo(nonsense=1)
        assert unknown.value.field == "nonsense"
        with pytest.raises(NoSuchMethod) as missing:
            api.home.no_such_thing()
        assert missing.value.status == 404 and "home.no_such_thing" in missing.value.message
        with pytest.raises(Forbidden) as forbidden:
            api.home.admin_only()
        assert forbidden.value.status == 403
        with pytest.raises(ServerError) as broken:
            api.home.broken()
        assert broken.value.status == 500
        wrong = api(key_id=DEFAULT_KEY[0], key_secret="not-the-secret")
        with pytest.raises(NotAuthorised) as unauthorised:
            wrong.home.describe_site()
        assert unauthorised.value.status == 401
        assert "not-the-secret" not in str(unauthorised.value)


def test_anonymous_calls_reach_public_methods_only(site, monkeypatch) -> None:
    for name in ("INTERLINK_PROFILE", "INTERLINK_ACCESS_KEY_ID", "INTERLINK_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with API(site.root) as api:
        assert api.home.echo(text="hi").text == "hi"
        with pytest.raises(NotAuthorised):
            api.home.describe_site()


def test_unknown_profile_is_a_clear_error(site, spec_home) -> None:
    with API(site.root, ["~/.mywonderfulsite/config"]) as api:
        with pytest.raises(ProfileNotFound, match="'weekend'.*'default', 'day to day working'"):
            api(profile="weekend")


def test_environment_variables_choose_credentials(site, spec_home, monkeypatch) -> None:
    with API(site.root, ["~/.mywonderfulsite/config"]) as api:
        monkeypatch.setenv("INTERLINK_PROFILE", "day to day working")
        assert api().home.whoami() == "day to day working"
        monkeypatch.setenv("INTERLINK_ACCESS_KEY_ID", ADMIN_KEY[0])
        monkeypatch.setenv("INTERLINK_ACCESS_KEY_SECRET", ADMIN_KEY[1])
        assert api().home.whoami() == "admin"
        assert api(profile="default").home.whoami() == "default"  # an explicit profile wins


def test_a_non_interlink_error_response_still_raises_by_status() -> None:
    async def teapot(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<html>bad gateway</html>"})

    with serving(teapot) as server, API(server.root) as api:
        with pytest.raises(ServerError) as error:
            api.home.describe_site()
    assert error.value.status == 502 and "bad gateway" in error.value.message


# -- callasync -----------------------------------------------------------------------------


def test_callasync_runs_on_a_thread_and_logs_failures(caplog, spec_home) -> None:
    api_site = make_site()
    with serving(api_site) as server:
        api = API(server.root, ["~/.mywonderfulsite/config"])
        thread = api.home.record.callasync(what="first")
        assert thread is not threading.current_thread()
        with caplog.at_level(logging.ERROR, logger="interlink.client"):
            failing = api.home.broken.callasync()
            failing.join()
        api.close()  # waits for the first call too
    assert api_site.calls == ["first"]
    (record,) = [r for r in caplog.records if r.name == "interlink.client"]
    assert "home.broken" in record.getMessage() and "ServerError" in record.getMessage()
    assert DEFAULT_KEY[1] not in record.getMessage()


# -- broadcast -----------------------------------------------------------------------------


def test_broadcast_reports_every_root_with_one_down(spec_home) -> None:
    down = f"http://127.0.0.1:{unused_port()}/api"
    with serving(make_site("first site")) as one, serving(make_site("second site")) as two:
        api = API(one.root, ["~/.mywonderfulsite/config"], retries=0)
        outcomes = api.home.describe_site.broadcast([one.root, down, two.root])
        api.close()
    assert list(outcomes) == [one.root, down, two.root]
    assert outcomes[one.root].name == "first site"
    assert outcomes[two.root].name == "second site"
    assert isinstance(outcomes[down], Exception)
    assert isinstance(outcomes[down], httpx.ConnectError)


def test_broadcast_returns_api_errors_per_root(site, spec_home) -> None:
    with serving(make_site("other")) as other, API(site.root, ["~/.mywonderfulsite/config"]) as api:
        outcomes = api.home.upload.broadcast([site.root, other.root], document=FileUpload(b"same bytes"))
        assert [o.size for o in outcomes.values()] == [10, 10]  # the upload is read once, sent twice
        errors = api.home.echo.broadcast([site.root, other.root], number="x")
        assert all(isinstance(e, BadArguments) and e.field == "number" for e in errors.values())
        with pytest.raises(ValueError, match="twice"):
            api.home.echo.broadcast([site.root, site.root])


# -- connections ---------------------------------------------------------------------------


def test_connection_errors_before_sending_are_retried() -> None:
    """Nothing listens when the call starts; the server comes up while the client retries."""
    port = unused_port()
    app = make_site()
    started: list[Any] = []

    def start_later() -> None:
        time.sleep(0.2)
        started.append(serving(app, port))
        started[0].__enter__()

    starter = threading.Thread(target=start_later)
    starter.start()
    try:
        with API(f"http://127.0.0.1:{port}/api", retries=6) as api:
            assert api.home.echo(text="late").text == "late"
    finally:
        starter.join()
        if started:
            started[0].__exit__(None, None, None)


def test_a_request_that_was_sent_is_not_retried() -> None:
    """A peer that accepts, reads the request and hangs up: one connection, one error."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[bytes] = []

    def serve_one() -> None:
        listener.settimeout(10)
        conn, _ = listener.accept()
        received = b""
        while b"text=once" not in received:  # the whole request, so closing sends no reset
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        accepted.append(received)
        conn.close()

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    root = f"http://127.0.0.1:{listener.getsockname()[1]}/api"

    with API(root, retries=5) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            api.home.echo(text="once")
    thread.join()
    # A second attempt would be waiting in the listen backlog (the kernel accepts for us).
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()
    listener.close()
    assert len(accepted) == 1 and b"POST /api/home/echo" in accepted[0]


def test_one_connection_is_kept_alive_per_session(spec_home) -> None:
    seen: list[dict[str, str]] = []
    with serving(recording(make_site(), seen)) as server:
        with API(server.root, ["~/.mywonderfulsite/config"]) as api:
            for _ in range(5):
                api.home.whoami()
    assert len({h["client"] for h in seen}) == 1  # the same client port: one connection


def test_sessions_close_with_their_api(site) -> None:
    api = API(site.root)
    session = api(key_id=DEFAULT_KEY[0], key_secret=DEFAULT_KEY[1])
    assert isinstance(session, Session)
    assert session.home.whoami() == "default"
    api.close()
    with pytest.raises(RuntimeError):
        session.home.whoami()


def test_secrets_stay_out_of_reprs(site) -> None:
    with API(site.root) as api:
        session = api(key_id=DEFAULT_KEY[0], key_secret=DEFAULT_KEY[1])
        assert DEFAULT_KEY[1] not in repr(session) and DEFAULT_KEY[0] in repr(session)
        assert DEFAULT_KEY[1] not in repr(session._credentials)


# -- helpers -------------------------------------------------------------------------------


def recording(app: Any, seen: list[dict[str, str]], body: bool = False) -> Any:
    """Wrap an ASGI app to note each request's headers (and, if asked, its body)."""

    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        entry = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        entry["path"] = scope["path"]
        entry["query"] = scope["query_string"].decode("latin-1")
        entry["client"] = str(scope["client"][1])
        seen.append(entry)
        if not body:
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        entry["body"] = b"".join(chunks).decode("latin-1")
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await app(scope, replay, send)

    return wrapper
